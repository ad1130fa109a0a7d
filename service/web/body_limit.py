"""A cap on request bodies: larger ones get 413 in the one error shape, before a route
sees them, whether they announced their length or streamed it in chunks. (Starlette's
own body limit answers in plain text.)"""

import json

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ErrorBody


class BodyLimit:
    """`max_body_bytes` for every request but those whose path `larger` names, which
    get their own limit (a bulk feed's batch)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_body_bytes)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(send, limit)
            return
        await self._bounded(scope, receive, send, limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app, cutting a streamed body off at the limit and answering 413."""
        received, over = 0, False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not over:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except ClientDisconnect:
            if not over:
                raise
        if over:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    detail = f"the request body is over {limit} bytes"
    body = json.dumps(ErrorBody(error="TooLarge", detail=detail).model_dump()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
