"""Structured logs (structlog over the standard library), one JSON object a line,
with bearer tokens scrubbed from every line whoever logs it."""

import logging
import re
from collections.abc import Mapping

import structlog

# A token is `cr_` and 43 URL-safe characters; a library's debug log of the WebSocket
# handshake would print it (it travels in Sec-WebSocket-Protocol as `bearer.cr_…`).
_TOKEN = re.compile(r"cr_[A-Za-z0-9_-]{16,}")
_TOKEN_BYTES = re.compile(_TOKEN.pattern.encode())
_REDACTED = "cr_[redacted]"
_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "websockets")
_TRACEBACKS = logging.Formatter()


class ScrubTokens(logging.Filter):
    """Replace anything shaped like a token with `cr_[redacted]`, keeping the record's
    shape: formatters such as uvicorn's access log unpack `record.args` themselves, so
    the message and each argument are scrubbed where they are, never merged."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _scrub(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _scrub(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_scrub(value) for value in record.args)
        if _TOKEN.search(message := _message(record)):
            # The token hides in an argument that is not a string (an object whose str
            # names it): only then is the message kept as finished text.
            record.msg, record.args = _TOKEN.sub(_REDACTED, message), ()
        if record.exc_info and not record.exc_text:
            # The traceback as the handler's formatter would write it (it reuses
            # `exc_text`), so an exception that quotes a token is scrubbed as well.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = _scrub_text(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    """The record's text; empty if its arguments do not fit its message (the handler
    reports that, as it would without this filter, with the arguments scrubbed)."""
    try:
        return record.getMessage()
    except Exception:
        return ""


def _scrub(value: object) -> object:
    """A string or bytes with its tokens redacted; anything else as it is."""
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, bytes) and b"cr_" in value:
        return _TOKEN_BYTES.sub(_REDACTED.encode(), value)
    return value


def _scrub_text(text: str) -> str:
    return _TOKEN.sub(_REDACTED, text) if "cr_" in text else text


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
            # `log.exception`'s traceback as text in "exception" (without it the line
            # said only `"exc_info": true`); the scrub filter sees it with the rest.
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
