"""Running a POST under its optional `Idempotency-Key` header."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from models.agency import Principal
from service.store.transaction import Tx
from service.trust import idempotency
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
        self, *, body: BaseModel | None, status: int, work: Callable[[Tx], BaseModel]
    ) -> JSONResponse:
        """Run `work` in one transaction and answer with `status`; once per key."""
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
