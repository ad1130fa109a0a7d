"""Webhook deliveries, from the app's lifespan: `deliver_forever` keeps the delivery
process (`process`, running `deliverer` in `child`) while endpoints exist and feeds it
the hub's events; `endpoints_changed` tells it, from this replica's routes, that an
endpoint was registered, removed or redelivered."""

import asyncio

from service.web.state import AppState
from service.webhooks.process import DeliveryProcess, stopped

# Each running app's delivery process, by its state's id (an app's routes find theirs).
_processes: dict[int, DeliveryProcess] = {}


def endpoints_changed(state: AppState) -> None:
    """Start the delivery process now if it is not running, or have it look now."""
    process = _processes.get(id(state))
    if process is not None:
        process.endpoints_changed()


async def deliver_forever(state: AppState) -> None:
    """Send every registered endpoint its events, from a process of their own, until
    cancelled; meanwhile feed it the hub's events, as the consoles are sent them."""
    process = DeliveryProcess(state)
    _processes[id(state)] = process
    keeper = asyncio.create_task(process.keep(), name="webhook-process")
    try:
        with state.hub.tap(process.take):  # before the first look: no event falls between
            await keeper
    finally:
        _processes.pop(id(state), None)
        await stopped(process, keeper)
