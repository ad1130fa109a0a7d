"""EIDOs built once for every subscription that starts alike.

Live changes reach every subscription through its agency's feed, built once. What a
subscription starts with (the open incidents, an incident, what changed since a resume
point) is its own; when many start at once (every CAD reconnecting after a restart),
the same EIDOs are asked for many times. A build is keyed by the call, the seq of the
change it shows, and what its reader may see; the first to ask builds it, those that
ask meanwhile wait for that build, and a few hundred recent builds are kept.
"""

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from models.agency import Principal
from service.errors import Unavailable
from service.sta024.builder import Builder
from service.sta024.operations import Built

KEPT = 512  # builds kept after they are done

_FAILED: Any = object()  # a build that failed: each who waited for it fails alike
_ABSENT: Any = object()  # a call its reader may not see (or that is gone)

Key = tuple[uuid.UUID, int, Hashable]


def view_of(principal: Principal) -> Hashable:
    """Two principals with the same answer read every EIDO the same."""
    return (principal.agency_id, principal.role, principal.sees_narrative,
            principal.sees_substance_use)  # fmt: skip


class EidoShelf:
    def __init__(self, builder: Builder, kept: int = KEPT) -> None:
        self.builder = builder
        self._kept = kept
        self._builds: OrderedDict[Key, asyncio.Future[Any]] = OrderedDict()

    async def eidos(
        self, principal: Principal, versions: Sequence[tuple[uuid.UUID, int]]
    ) -> list[Built]:
        """The EIDOs of these (call, seq of its change) pairs, in their order, as
        `principal` may see them; calls it may not see are left out. Unavailable if the
        read failed (the subscriber tries again)."""
        view = view_of(principal)
        loop = asyncio.get_running_loop()
        waiting: list[asyncio.Future[Any]] = []
        # A call may be asked for at two seqs at once (a subscription's start and its
        # catch-up both name it): one build answers both.
        mine: dict[uuid.UUID, list[tuple[Key, asyncio.Future[Any]]]] = {}
        for call_id, seq in versions:
            key = (call_id, seq, view)
            build = self._builds.get(key)
            if build is None:
                build = self._builds[key] = loop.create_future()
                mine.setdefault(call_id, []).append((key, build))
            waiting.append(build)
        if mine:
            await self._build(principal, mine)
        self._forget_oldest()
        results = [await build for build in waiting]
        if any(r is _FAILED for r in results):
            raise Unavailable("the incidents could not be read; trying again")
        return [r for r in results if r is not _ABSENT]

    async def _build(
        self, principal: Principal, mine: dict[uuid.UUID, list[tuple[Key, asyncio.Future[Any]]]]
    ) -> None:
        try:
            built = await self.builder.built(principal, list(mine))
        except BaseException:
            for builds in mine.values():
                for key, build in builds:
                    self._builds.pop(key, None)
                    if not build.done():
                        build.set_result(_FAILED)
            raise
        for call_id, builds in mine.items():
            for _, build in builds:
                build.set_result(built.get(call_id, _ABSENT))

    def _forget_oldest(self) -> None:
        while len(self._builds) > self._kept:
            self._builds.popitem(last=False)


_SHELF = "corespond_sta024_shelf"


def shelf_of(app_state: Any, builder: Builder) -> EidoShelf:
    """The shelf of the app whose Starlette `app.state` this is, made on first use for
    its builder (a new lifespan, a new shelf)."""
    shelf = getattr(app_state, _SHELF, None)
    if not isinstance(shelf, EidoShelf) or shelf.builder is not builder:
        shelf = EidoShelf(builder)
        setattr(app_state, _SHELF, shelf)
    return shelf
