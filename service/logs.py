"""Structured logs (structlog over the standard library), one JSON object a line,
with bearer tokens scrubbed from every line whoever logs it."""

import logging
import re

import structlog

# A token is `cr_` and 43 URL-safe characters; a library's debug log of the WebSocket
# handshake would print it (it travels in Sec-WebSocket-Protocol as `bearer.cr_…`).
_TOKEN = re.compile(r"cr_[A-Za-z0-9_-]{16,}")
_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "websockets")


class ScrubTokens(logging.Filter):
    """Replace anything shaped like a token with `cr_[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "cr_" in message:
            record.msg, record.args = _TOKEN.sub("cr_[redacted]", message), None
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(format="%(message)s", level=level.upper())
    scrub = ScrubTokens()
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(scrub)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
