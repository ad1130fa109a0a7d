"""The delivery loop (being built)."""

import asyncio

from service.web.state import AppState


async def deliver_forever(state: AppState) -> None:
    """Send every registered endpoint its events, until cancelled."""
    while True:
        await asyncio.sleep(3600)
