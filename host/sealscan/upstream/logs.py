"""Structured logs: one JSON object per line on stderr.

What may appear: event names, registered device ids, counts, status codes, reasons, latency.
What never appears: any field of a record (identity token, name, id number, phone, waybill,
courier id), request bodies, keys. A device id a client claims but the registry does not
know is logged only as a keyed hash (a hostile client could put anything in it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sys
from typing import Any, TextIO

LOGGER = logging.getLogger("sealscan.upstream")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                               "event": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        return json.dumps(out, sort_keys=True, default=str)


def configure(stream: TextIO | None = None, level: str = "info") -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level.upper())
    LOGGER.propagate = False


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
