"""Structured logs: one JSON object per line on stderr, the only output the upstream writes.

Every line: `ts` (ISO 8601, UTC, milliseconds), `level`, `event`, and, inside a request, the
`client` address (ip:port of the TCP peer). What may appear besides: event names, registered
device ids, counts, status codes, reasons, error type names, latency. What never appears:
any field of a record (identity token, name, id number, phone, waybill, courier id), request
bytes or headers, keys. A device id a client claims but the registry does not know is logged
only as a keyed hash (a hostile client could put an identity number in it).

aiohttp's and asyncio's own loggers (access log, "Error handling request" with the parser's
message quoting raw request bytes, SSL transport errors) never reach the stream: `configure`
routes them to `LibraryBridge`, which emits one event per record with the exception's type
name and a fixed reason (`protocol`, `hangup`, `tls`, `internal`) and counts it through the
hook the server installs; their message text and traceback are dropped.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import hmac
import json
import logging
import os
import ssl
import sys
from collections.abc import Callable
from typing import Any, TextIO

LOGGER = logging.getLogger("sealscan.upstream")
# The peer of the request being handled (set by the server for each request's task).
CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("client", default=None)
LIBRARY_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.internal",
                   "aiohttp.client", "aiohttp.websocket", "asyncio")
# Called with the reason of every connection-level error the libraries report.
on_connection_error: Callable[[str], None] | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        out: dict[str, Any] = {"ts": ts.isoformat(timespec="milliseconds").replace("+00:00",
                                                                                  "Z"),
                               "level": record.levelname.lower(), "event": record.getMessage()}
        client = getattr(record, "client", None) or CLIENT.get()
        if client:
            out["client"] = client
        out.update(getattr(record, "fields", {}))
        return json.dumps(out, sort_keys=True, default=str)


def _error_reason(exc: BaseException | None, template: str) -> str:
    """A fixed word for what a library reported: never its message."""
    from aiohttp import http_exceptions

    if isinstance(exc, http_exceptions.HttpProcessingError):
        return "protocol"  # BadHttpMessage, LineTooLong, bad chunk sizes, ...
    if isinstance(exc, ssl.SSLError) or "SSL" in template:
        return "tls"
    if isinstance(exc, (ConnectionError, TimeoutError)) or "disconnect" in template:
        return "hangup"
    return "internal"


class LibraryBridge(logging.Handler):
    """aiohttp/asyncio log records -> one JSON event each, without their text."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name == "aiohttp.access":
                return  # the server logs its own per-request events
            exc = record.exc_info[1] if record.exc_info else None
            template = record.msg if isinstance(record.msg, str) else ""
            reason = _error_reason(exc, template)
            if on_connection_error is not None:
                on_connection_error(reason)
            level = logging.WARNING if reason != "internal" else logging.ERROR
            if LOGGER.isEnabledFor(level):
                fields = {"reason": reason, "source": record.name}
                if template.endswith("from %s") and isinstance(record.args, tuple) \
                        and record.args:  # aiohttp names the peer's address (only that)
                    fields["client"] = str(record.args[0])[:64]
                if exc is not None:
                    fields["error"] = type(exc).__name__
                LOGGER.log(level, "connection-error", extra={"fields": fields})
        except Exception:  # a log call must never break the server
            pass


def configure(stream: TextIO | None = None, level: str = "info") -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level.upper())
    LOGGER.propagate = False
    bridge = LibraryBridge()
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        lib.handlers[:] = [bridge]
        lib.propagate = False
        # aiohttp logs a first request's bad method at DEBUG: count it too
        lib.setLevel(logging.DEBUG if name == "aiohttp.server" else logging.WARNING)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, name, extra={"fields": fields})


# Per-process secret: a claimed id could be an identity number, whose space is small enough
# to brute-force a plain hash; a keyed hash only correlates within one process's log.
_CLAIM_KEY = os.urandom(16)


def claimed_id(device_id: object) -> str:
    """A short tag for an unregistered device id a client claimed (not reversible)."""
    return "claimed:" + hmac.new(_CLAIM_KEY, repr(device_id).encode(),
                                 hashlib.sha256).hexdigest()[:12]
