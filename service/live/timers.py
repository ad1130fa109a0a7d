"""Background work: deadlines stored in the database, and a watch on the event loop.

The loops are generic; the work a feature does when its deadlines pass is registered
by the app (`pass_deadlines_forever`, each a `Deadlines`), so nothing here imports a
feature.
"""

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import structlog

from service.live.events import purge_old_events, record_acks
from service.live.hub import CLOSE_BAD_TOKEN, Hub
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.trust.audit import PURGE_BATCH, purge_old_audit
from service.trust.auth import lapsed_among
from service.trust.idempotency import forget_old

log = structlog.get_logger(__name__)

_BATCH = 50


async def close_lapsed_consoles_forever(uow: UnitOfWork, hub: Hub, interval_s: float) -> None:
    """Close (4401) every open console whose token was revoked or expired since it
    connected, within `interval_s`: a socket must not outlive its authority."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            consoles = hub.consoles()
            lapsed = await uow.read(
                lapsed_among, token_ids={c.principal.token_id for c in consoles}
            )
            for console in consoles:
                if console.principal.token_id in lapsed:
                    log.info("console_token_lapsed", token_id=str(console.principal.token_id))
                    await console.close(CLOSE_BAD_TOKEN, "token revoked or expired")
        except Exception:
            log.exception("token_check_failed")


async def watch_loop_lag_forever(observe: Callable[[float], None], interval_s: float) -> None:
    """Ask the loop to wake this task every `interval_s` and observe how late it did:
    the delay every socket and request saw at that moment, from work that held the loop."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(interval_s)
        observe(max(0.0, time.perf_counter() - asked - interval_s))


async def store_acks_forever(uow: UnitOfWork, hub: Hub, interval_s: float = 1.0) -> None:
    """Write the responder consoles' acks noted since the last time, in one transaction."""
    while True:
        await asyncio.sleep(interval_s)
        acks = hub.take_acks()
        try:
            await uow.write(record_acks, acks=acks)
        except Exception:
            log.exception("ack_store_failed", consoles=len(acks))


class DeadlineWork(Protocol):
    """A feature's work on rows whose deadline has passed, at most `limit` of them in one
    transaction; it returns how many it handled. `prepared` is what its preparation
    read before the write, when it has one."""

    def __call__(self, tx: Tx, *, limit: int, prepared: Any = None) -> int: ...


class DeadlinePreparation(Protocol):
    """A read before a deadline's write: what the write will want that is slow to ask
    inside it (road travel times), for the rows due now."""

    def __call__(self, tx: Tx, *, limit: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class Deadlines:
    """A feature's deadline work, as the app registers it: its name (in the logs), its
    work, and the read it wants first, if any."""

    name: str
    due: DeadlineWork
    prepare: DeadlinePreparation | None = None


async def pass_deadlines_forever(
    uow: UnitOfWork, works: Sequence[Deadlines], *, interval_s: float
) -> None:
    """Act on deadlines as they pass, until cancelled: each `due(tx, limit=…)` is a
    feature's work on rows whose deadline is past (offers to expire), registered by
    the app; it returns how many it handled, and a full batch is followed at once.
    With `prepare`, a work first reads what its write will want, outside it.

    Each work runs in a loop of its own (a slow one, a preparation asking a routing
    server, never holds up another), but they all wake on the same ticks of the clock,
    so their writes are asked together: on SQLite they go in one batch of the loop's
    writer (each in a savepoint, one commit), not a write turn of their own each,
    between the offers' (five features, five turns a second).

    A failure is logged and retried on the next tick: a timer that died silently
    would leave offers hanging and calls unanswered.
    """
    async with asyncio.TaskGroup() as group:
        for work in works:
            group.create_task(_keep(uow, work, interval_s), name=work.name)


async def _keep(uow: UnitOfWork, work: Deadlines, interval_s: float) -> None:
    while True:
        handled = await _pass(uow, work)
        if handled >= _BATCH:
            await asyncio.sleep(0)  # a full batch: the next at once
        else:  # the next tick of the clock, the same for every work
            await asyncio.sleep(interval_s - time.monotonic() % interval_s)


async def _pass(uow: UnitOfWork, work: Deadlines) -> int:
    """One tick of one work: how many rows it handled (0 when it failed: logged)."""
    prepared = None
    if work.prepare is not None:
        try:  # the write goes on without it: a preparation speeds, never blocks
            prepared = await uow.read(work.prepare, limit=_BATCH)
        except Exception:
            log.exception("deadline_preparation_failed", timer=work.name)
    try:
        handled: int = await uow.write(work.due, limit=_BATCH, prepared=prepared)
    except Exception:
        log.exception("deadline_work_failed", timer=work.name)
        return 0
    if handled:
        log.info("deadlines_passed", timer=work.name, count=handled)
    return handled


async def keep_house_forever(
    uow: UnitOfWork,
    *,
    event_retention: timedelta,
    audit_retention: timedelta,
    interval_s: float = 600,
    batch: int = PURGE_BATCH,
    features: Sequence[tuple[Callable[..., int], timedelta]] = (),
) -> None:
    """Every `interval_s`: drop events and audit records past retention, stored
    idempotent answers past their keeping time, and what `features` keep for a while
    (each a purge, `purge(tx, keep=…, limit=…) -> rows`, and how long it keeps).
    Consoles that fall behind the first are told to resync. The purges go `batch` rows
    a transaction, other work between."""
    while True:
        try:
            await _purge_all(uow, purge_old_events, keep=event_retention, batch=batch)
            await _purge_all(uow, purge_old_audit, keep=audit_retention, batch=batch)
            for purge, keep in features:
                await _purge_all(uow, purge, keep=keep, batch=batch)
            await uow.write(forget_old)
        except Exception:
            log.exception("housekeeping_failed")
        await asyncio.sleep(interval_s)


async def _purge_all(
    uow: UnitOfWork, purge: Callable[..., int], *, keep: timedelta, batch: int
) -> None:
    """Run `purge` a batch a transaction until a batch comes back short."""
    while await uow.write(purge, keep=keep, limit=batch) >= batch:
        await asyncio.sleep(0)
