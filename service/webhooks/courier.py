"""One endpoint's deliveries over HTTP: a signed POST an event, to the address its name
was resolved to (service/webhooks/addresses.py), and how each went."""

import asyncio
import ssl
import time

import structlog

from models.columns import utcnow
from service.errors import say
from service.settings import Settings
from service.webhooks import outbox
from service.webhooks.addresses import Destination, Refused, resolve
from service.webhooks.connection import BadAnswer, ReceiverConnection
from service.webhooks.delivery_log import Try
from service.webhooks.signing import SIGNATURE_HEADER, signature

log = structlog.get_logger(__name__)

RESOLVE_EVERY_S = 60.0  # a long run resolves its endpoint's name again this often
ERROR_CHARS = 300
USER_AGENT = "CoRespond-Webhooks/1"


class Courier:
    """Sends one endpoint's deliveries: over a connection of its own (one made, and its
    certificate checked, for one name is never used for another), to the address its
    name resolved to, pinned for a while (`RESOLVE_EVERY_S`, or until one fails)."""

    def __init__(self, claimed: outbox.Claimed, settings: Settings, tls: ssl.SSLContext) -> None:
        self._endpoint = claimed
        self._allow_private = settings.webhook_allow_private
        self._timeout_s = settings.webhook_timeout_s
        self._connection = ReceiverConnection(tls)
        self._destination: Destination | None = None
        self._resolved_at = 0.0

    def close(self) -> None:
        self._connection.close()

    async def send(self, seq: int, event: str, body: bytes) -> Try:
        """POST event `seq` (of type `event`); how it went."""
        at = utcnow()
        status: int | None = None
        error: str | None
        try:
            async with asyncio.timeout(self._timeout_s):
                status = await self._post(await self._where(), seq, event, body)
        except Refused as refused:
            error = str(refused)
        except TimeoutError:
            error = f"no answer within {self._timeout_s:g} s"
        except asyncio.IncompleteReadError:
            error = "the receiver closed the connection without answering"
        except (OSError, BadAnswer) as exc:
            error = say(exc)
        except Exception as exc:  # retried and given up on like any other failure
            log.exception("webhook_send_failed", webhook_id=str(self._endpoint.id))
            error = say(exc)
        else:
            error = _refusal(status)
        if error is not None:
            self._connection.close()
            self._destination = None  # resolved again before the retry
        return Try(
            seq=seq,
            event=event,
            at=at,
            http_status=status,
            error=None if error is None else error[:ERROR_CHARS],
        )

    async def _where(self) -> Destination:
        if self._destination is None or time.monotonic() - self._resolved_at > RESOLVE_EVERY_S:
            self._destination = await resolve(
                self._endpoint.url, allow_private=self._allow_private, timeout_s=self._timeout_s
            )
            self._resolved_at = time.monotonic()
        return self._destination

    async def _post(self, destination: Destination, seq: int, event: str, body: bytes) -> int:
        stamp = signature(self._endpoint.secret, timestamp=int(time.time()), body=body)
        headers = (
            f"Content-Type: application/json\r\nUser-Agent: {USER_AGENT}\r\n"
            f"{SIGNATURE_HEADER}: {stamp}\r\nIdempotency-Key: {seq}\r\n"
            f"CoRespond-Event: {event}\r\nCoRespond-Webhook: {self._endpoint.id}\r\n"
        )
        return await self._connection.post(destination, headers, body)


def _refusal(status: int | None) -> str | None:
    if status is None or 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed; register the URL it points to"
    return f"HTTP {status}"
