"""`redis://host:port/db?channel=…`: Redis pub/sub between replicas."""

from collections.abc import AsyncIterator

import redis.asyncio as redis

from service.live.bus.shared import SharedBus, split_channel

CONNECT_TIMEOUT_S = 2.0
POLL_S = 1.0


class RedisBus(SharedBus):
    name = "redis"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url, self._channel = split_channel(url)
        self._publisher = redis.Redis.from_url(
            self._url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
        )

    async def _listen(self) -> AsyncIterator[str | None]:
        # Its own connection, with no retries of its own: a drop must reach
        # `_receive_forever`, which tells the hub that messages may be lost.
        client = redis.Redis.from_url(
            self._url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            health_check_interval=5,
            retry_on_error=[],
            retry=None,
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel)
            yield None
            while True:
                message = await pubsub.get_message(timeout=POLL_S)
                if message is not None and message["type"] == "message":
                    data = message["data"]
                    yield data.decode() if isinstance(data, bytes) else str(data)
                elif message is None and not pubsub.connection:
                    raise ConnectionError("the subscription's connection closed")
        finally:
            await pubsub.aclose()
            await client.aclose()

    async def _send(self, message: str) -> None:
        await self._publisher.publish(self._channel, message)

    async def _ping(self) -> None:
        await self._publisher.ping()

    async def _close(self) -> None:
        await self._publisher.aclose()
