"""Prometheus text-format metrics, shared by every server worker process.

Each worker owns one row of a shared array (made before the workers fork) and only ever
writes its own row, so no locks are needed; `/metrics` on any worker sums all rows. No
label ever carries a device id, an index or any record data: only fixed words.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import MutableSequence

STATUSES = ("200", "400", "403", "404", "405", "413", "429", "503")
OUTCOMES = ("stored", "duplicate", "rejected")
REJECT_REASONS = ("decrypt", "malformed", "fields", "conflict", "unauthenticated")
VERDICTS = ("ok", "bad-signature", "expired", "unknown-issuer", "malformed")
TOKEN_CHECKS = ("verified", "cached")
HEARTBEATS = ("ok", "replay", "refused")
# Batches (and heartbeats) refused before anything was stored, by reason.
REFUSALS = ("unknown-device", "revoked-device", "unauthenticated", "rate", "session", "clock")
# Requests that never became an answer the device could read: HTTP framing the parser
# refused, a client that hung up, a TLS failure, or a bug below the handler.
CONNECTION_ERRORS = ("protocol", "hangup", "tls", "internal")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_COUNTERS = ([("batches", s) for s in STATUSES] + [("records", o) for o in OUTCOMES]
             + [("rejects", r) for r in REJECT_REASONS] + [("verdicts", v) for v in VERDICTS]
             + [("tokens", c) for c in TOKEN_CHECKS] + [("late", "")]
             + [("conn_errors", c) for c in CONNECTION_ERRORS]
             + [("heartbeats", h) for h in HEARTBEATS]
             + [("refused", r) for r in REFUSALS]
             + [("lat_bucket", str(b)) for b in LATENCY_BUCKETS]
             + [("lat_sum", ""), ("lat_count", "")])
_INDEX = {k: i for i, k in enumerate(_COUNTERS)}
WIDTH = len(_COUNTERS)


def shared_rows(workers: int) -> MutableSequence[float]:
    """Zeroed shared memory for `workers` rows; make it before forking the workers."""
    return multiprocessing.RawArray("d", WIDTH * workers)


class Metrics:
    def __init__(self, rows: MutableSequence[float] | None = None, worker: int = 0):
        self.rows = rows if rows is not None else [0.0] * WIDTH
        self.base = worker * WIDTH

    def inc(self, family: str, label: str = "", n: float = 1) -> None:
        self.rows[self.base + _INDEX[(family, label)]] += n

    def status(self, code: int) -> None:
        label = str(code)
        self.inc("batches", label if label in STATUSES else "400")

    def observe_latency(self, seconds: float) -> None:
        for b in LATENCY_BUCKETS:
            if seconds <= b:
                self.inc("lat_bucket", str(b))
        self.inc("lat_sum", "", seconds)
        self.inc("lat_count")

    def total(self, family: str, label: str = "") -> float:
        i = _INDEX[(family, label)]
        return sum(self.rows[r + i] for r in range(0, len(self.rows), WIDTH))

    def render(self, fleet: dict[str, int] | None = None) -> str:
        """The Prometheus text; `fleet` = registered devices per fleet state (a gauge read
        from the store, the same on every node)."""
        t = self.total
        out = ["# HELP sealscan_batches_total Batch requests answered, by HTTP status.",
               "# TYPE sealscan_batches_total counter"]
        out += [f'sealscan_batches_total{{status="{s}"}} {t("batches", s):g}' for s in STATUSES]
        out += ["# HELP sealscan_records_total Records in batches, by outcome.",
                "# TYPE sealscan_records_total counter"]
        out += [f'sealscan_records_total{{outcome="{o}"}} {t("records", o):g}'
                for o in OUTCOMES]
        out += ["# HELP sealscan_rejects_total Rejected records (and unauthenticated "
                "batches), by reason.", "# TYPE sealscan_rejects_total counter"]
        out += [f'sealscan_rejects_total{{reason="{r}"}} {t("rejects", r):g}'
                for r in REJECT_REASONS]
        out += ["# HELP sealscan_verdicts_total Identity token verdicts of stored records.",
                "# TYPE sealscan_verdicts_total counter"]
        out += [f'sealscan_verdicts_total{{verdict="{v}"}} {t("verdicts", v):g}'
                for v in VERDICTS]
        out += ["# HELP sealscan_token_checks_total Identity tokens of opened records: "
                "parsed and signature-verified now, or answered from the verdict memo "
                "(same token bytes seen before; expiry still checked at every use).",
                "# TYPE sealscan_token_checks_total counter"]
        out += [f'sealscan_token_checks_total{{check="{c}"}} {t("tokens", c):g}'
                for c in TOKEN_CHECKS]
        out += ["# HELP sealscan_connection_errors_total Requests that got no answer the "
                "client could use: refused HTTP framing, client hang-up, TLS failure.",
                "# TYPE sealscan_connection_errors_total counter"]
        out += [f'sealscan_connection_errors_total{{reason="{c}"}} {t("conn_errors", c):g}'
                for c in CONNECTION_ERRORS]
        out += ["# HELP sealscan_heartbeats_total Device heartbeats: stored, replayed (not "
                "newer than the last), refused (unknown, revoked, bad MAC, clock).",
                "# TYPE sealscan_heartbeats_total counter"]
        out += [f'sealscan_heartbeats_total{{result="{h}"}} {t("heartbeats", h):g}'
                for h in HEARTBEATS]
        out += ["# HELP sealscan_refused_total Batches and heartbeats refused before "
                "anything was stored, by reason (revoked-device: a revoked device still "
                "sending).", "# TYPE sealscan_refused_total counter"]
        out += [f'sealscan_refused_total{{reason="{r}"}} {t("refused", r):g}' for r in REFUSALS]
        if fleet is not None:
            out += ["# HELP sealscan_devices Registered devices by fleet state (ok, late, "
                    "silent, refused, never-connected, revoked; docs/upstream.md).",
                    "# TYPE sealscan_devices gauge"]
            out += [f'sealscan_devices{{state="{k}"}} {v}' for k, v in fleet.items()]
        out += ["# HELP sealscan_late_records_total Records committed > 30 s after capture.",
                "# TYPE sealscan_late_records_total counter",
                f"sealscan_late_records_total {t('late'):g}"]
        out += ["# HELP sealscan_ack_latency_seconds Time from request received to answer "
                "ready (batches answered 200).", "# TYPE sealscan_ack_latency_seconds histogram"]
        out += [f'sealscan_ack_latency_seconds_bucket{{le="{b}"}} {t("lat_bucket", str(b)):g}'
                for b in LATENCY_BUCKETS]
        out += [f'sealscan_ack_latency_seconds_bucket{{le="+Inf"}} {t("lat_count"):g}',
                f"sealscan_ack_latency_seconds_sum {t('lat_sum'):.6f}",
                f"sealscan_ack_latency_seconds_count {t('lat_count'):g}"]
        return "\n".join(out) + "\n"
