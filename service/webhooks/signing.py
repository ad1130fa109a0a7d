"""The signing secret and the `CoRespond-Signature` header (docs/webhooks.md).

`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the whole secret as
text: the time is signed with the body, so a receiver that refuses a `t` outside its
replay window (`REPLAY_WINDOW_S`) cannot be sent an old delivery again by whoever
recorded it, and a changed body or time fails the check.
"""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "CoRespond-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, no secret)
REPLAY_WINDOW_S = 300  # what docs/webhooks.md tells receivers to accept


def new_secret() -> str:
    """256 random bits, as `whsec_` and 43 URL-safe characters."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, *, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
