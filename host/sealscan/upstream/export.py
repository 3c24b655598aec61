"""Export of stored records for the regulator's downstream: streamed, resumable, exactly once.

Records go out in (committed_at, device_id, enc, index) order, one JSON object per line, in
pages read with a keyset cursor (never the whole store in memory). Only records committed
at least `settle` seconds ago are exported: a transaction that began earlier on another node
may still commit with an earlier `committed_at`, and must not land behind the cursor.

Resuming: after each page the output file is flushed and fsynced, then a state file
`<out>.cursor` is replaced atomically with the cursor and the output's length. A resumed
export truncates the output to that length (dropping a page written after the last saved
cursor) and continues from the cursor, so every record is in the file exactly once whatever
the point the previous run stopped at. A resumed export also moves the horizon up to
now - settle, so `export --resume` run daily is an incremental feed. Both files are
created 0600 (they hold identity tokens).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealscan.upstream.config import write_secret
from sealscan.upstream.errors import UpstreamConfigError
from sealscan.upstream.storage import ExportedRecord, Storage

Cursor = tuple[float, str, bytes, int]


def record_line(e: ExportedRecord) -> dict[str, Any]:
    r = e.record
    return {"committed_at": e.committed_at, "device_id": e.device_id, "enc": e.enc.hex(),
            "index": r.index, "sealed": base64.b64encode(r.sealed).decode(),
            "capture_time": r.capture_time, "carrier": r.carrier, "waybill": r.waybill,
            "identity_token": r.identity_token.decode("ascii", "replace"),
            "courier_id": r.courier_id, "verdict": r.verdict}


def pages(store: Storage, after: Cursor | None, until: float,
          page_size: int) -> Iterator[list[ExportedRecord]]:
    while True:
        page = store.export_page(after, until, page_size)
        if not page:
            return
        yield page
        after = page[-1].cursor


@dataclass
class ExportResult:
    records: int
    resumed_from: int  # records already in the file before this run (0 for a new export)


def _load_state(path: Path) -> tuple[Cursor | None, int, float]:
    try:
        raw = json.loads(path.read_text())
        c = raw["cursor"]
        cursor = None if c is None else (float(c[0]), str(c[1]), bytes.fromhex(c[2]), int(c[3]))
        return cursor, int(raw["offset"]), float(raw["until"])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise UpstreamConfigError(
            f"{path}: not an export state file ({type(e).__name__})") from None


def _save_state(path: Path, cursor: Cursor | None, offset: int, until: float,
                count: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    c = None if cursor is None else [cursor[0], cursor[1], cursor[2].hex(), cursor[3]]
    write_secret(tmp, json.dumps({"cursor": c, "offset": offset, "until": until,
                                   "records": count}).encode())
    os.replace(tmp, path)


def export_records(store: Storage, out: Path, resume: bool = False, settle: float = 60.0,
                   page_size: int = 1000, now: float | None = None,
                   stop_after_pages: int | None = None) -> ExportResult:
    """Write (or continue writing) `out`; returns how many records this run added.
    `stop_after_pages` ends the run early, as an interrupted export would (for tests)."""
    state = out.with_name(out.name + ".cursor")
    horizon = (time.time() if now is None else now) - settle
    if resume and state.exists():
        cursor, offset, until = _load_state(state)
        count0 = json.loads(state.read_text()).get("records", 0)
        until = max(until, horizon)  # resuming also takes in what settled since
    else:
        if out.exists() or state.exists():
            if not resume:
                raise UpstreamConfigError(f"{out}: exists (use --resume to continue that export)")
        cursor, offset, count0, until = None, 0, 0, horizon
    fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o600)
    added = 0
    with os.fdopen(fd, "r+b") as f:
        f.truncate(offset)
        f.seek(offset)
        _save_state(state, cursor, offset, until, count0)
        for n, page in enumerate(pages(store, cursor, until, page_size)):
            if stop_after_pages is not None and n >= stop_after_pages:
                break
            f.write(b"".join(json.dumps(record_line(e), sort_keys=True).encode() + b"\n"
                             for e in page))
            f.flush()
            os.fsync(f.fileno())
            added += len(page)
            _save_state(state, page[-1].cursor, f.tell(), until, count0 + added)
    return ExportResult(added, count0)
