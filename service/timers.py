"""Background work driven by deadlines stored in the database."""

import asyncio
from datetime import timedelta

import structlog

from service.assignments import expire_due_offers
from service.dispatching import DispatchConfig
from service.events import purge_old_events
from service.idempotency import forget_old
from service.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

_BATCH = 50


async def expire_offers_forever(uow: UnitOfWork, config: DispatchConfig, interval_s: float) -> None:
    """Expire offers as their deadlines pass, until cancelled.

    A failure is logged and retried on the next tick: a timer that died silently
    would leave offers hanging and calls unanswered.
    """
    while True:
        expired = 0
        try:
            expired = await uow.write(expire_due_offers, config=config, limit=_BATCH)
        except Exception:
            log.exception("offer_expiry_failed")
        if expired:
            log.info("offers_expired", count=expired)
        await asyncio.sleep(0 if expired == _BATCH else interval_s)


async def keep_house_forever(
    uow: UnitOfWork, *, event_retention: timedelta, interval_s: float = 600
) -> None:
    """Every `interval_s`: drop events past retention and stored idempotent answers
    past their keeping time. Consoles that fall behind the first are told to resync."""
    while True:
        try:
            await uow.write(purge_old_events, keep=event_retention)
            await uow.write(forget_old)
        except Exception:
            log.exception("housekeeping_failed")
        await asyncio.sleep(interval_s)
