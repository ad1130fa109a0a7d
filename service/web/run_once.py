"""Running a POST under its optional `Idempotency-Key` header."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from models.agency import Principal
from models.vocabulary import Role
from service.store.transaction import Tx
from service.trust import audit, idempotency
from service.trust.access import require_role
from service.trust.audit import Actor
from service.web.deps import CurrentActor, State
from service.web.state import AppState

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retry safe: the same key and body get the first answer "
        "again; the same key with another body is 422; while the first is running, 409.",
    ),
]


def _fingerprint(request: Request, principal: Principal, body: BaseModel | None) -> str:
    canonical = json.dumps(
        {
            "method": request.method,
            "path": request.url.path,
            "token": str(principal.token_id),
            "body": body.model_dump(mode="json") if body is not None else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _created(request: Request, answer: dict[str, Any]) -> str | None:
    """What a POST to a collection created, as its first record named it: `call:<id>`
    for `POST /v1/calls`."""
    collection = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    made = answer.get("id")
    return f"{collection.removesuffix('s')}:{made}" if made is not None else None


@dataclass(frozen=True, slots=True)
class Once:
    """A POST about to run: who asks, and the key (if any) that makes it run once."""

    state: AppState
    request: Request
    actor: Actor
    key: str | None

    @property
    def principal(self) -> Principal:
        return self.actor.who

    async def run(
        self,
        *,
        body: BaseModel | None,
        status: int,
        roles: frozenset[Role],
        action: str,
        work: Callable[[Tx], BaseModel],
    ) -> JSONResponse:
        """Run `work` in one transaction and answer with `status`; once per key.

        A token whose role may not do `action` (`work` checks it too) is refused before
        its key is looked at: whether a key was used must not show to a token that could
        not have used it (422 'used for a different request' against 403).
        """
        require_role(self.principal, roles, action)
        uow, actor = self.state.uow, self.actor
        actor.status = status
        if self.key is None:
            result = await uow.write_as(actor, work)
            return JSONResponse(result.model_dump(mode="json"), status_code=status)
        agency_id, key = self.principal.agency_id, self.key
        stored = await uow.write(
            idempotency.begin,
            agency_id=agency_id,
            key=key,
            fingerprint=_fingerprint(self.request, self.principal, body),
        )
        if stored is not None:
            # Given again, the answer is read again (a call's narrative with it): audited
            # as the first was, before it leaves.
            actor.status = stored.status
            await uow.write(
                audit.record_replay,
                actor=actor,
                answer=stored.body,
                target=actor.target or _created(self.request, stored.body),
            )
            return JSONResponse(
                stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
            )

        def work_and_remember(tx: Tx) -> BaseModel:
            result = work(tx)
            payload = result.model_dump(mode="json")
            idempotency.finish(tx, agency_id=agency_id, key=key, status=status, body=payload)
            return result

        try:
            result = await uow.write_as(actor, work_and_remember)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await uow.write(idempotency.abandon, agency_id=agency_id, key=key)
            raise
        return JSONResponse(result.model_dump(mode="json"), status_code=status)


async def once(  # async: no I/O, no worker thread (service/web/deps.py)
    state: State,
    request: Request,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> Once:
    return Once(state=state, request=request, actor=actor, key=idempotency_key)


RunOnce = Annotated[Once, Depends(once)]
