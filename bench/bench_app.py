"""The application on a simulated ESP32 against the real upstream: heap and capture latency.

Heap: what the app leaves free at "ready" against the board budget (floor: what a bare
main.py finds free on the same simulated device; the e2e TLS allowance is counted on top, see
sealsim.endtoend.TLS_HEAP_BYTES). Latency (floor: a waybill scan until the app reports it held,
i.e. the UART + parsing + screen path): identity + waybill until sealed, and until the
upstream's authenticated ack over HTTPS.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

from sealsim import endtoend as kit
from sealsim.scenario import start_device

_N = 8


def main() -> None:
    board = kit.board()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with start_device(board, work / "bare", firmware=None, files={
                "main.py": "import gc\ngc.collect()\nprint('FREE', gc.mem_free())\n"}) as dev:
            dev.wait_for("FREE")
            bare_free = int(dev.output.decode().split("FREE")[1].split()[0])
        up = kit.Upstream(work / "up").start()
        try:
            keys = kit.provision(work / "dev", board, kit.build_firmware(work / "fw"), up)
            dev = kit.device(board, work / "dev")
            try:
                dev.wait_for("session started", 30)
                m = re.search(rb"free (\d+)", bytes(dev.output))
                app_free = int(m.group(1)) - kit.TLS_HEAP_BYTES if m else 0
                dev.scan(keys.badge())
                dev.wait_for("logged in")
                held, sealed, acked = [], [], []
                for i in range(_N):
                    token = up.identity()
                    mark = len(dev.output)
                    t = time.perf_counter()
                    dev.scan(f"SF{i:013d}")
                    dev.wait_for("held", since=mark)
                    held.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    dev.scan(token)
                    dev.wait_for(f"sealed record {i}", since=mark)
                    sealed.append(time.perf_counter() - t)
                    dev.wait_for(f"record {i} verdict", since=mark)
                    acked.append(time.perf_counter() - t)
            finally:
                dev.close()
        finally:
            up.stop()
    floor = statistics.median(held)
    print(f"{'measure':46} {'value':>12} {'ratio':>8}")
    print(f"{'free heap, bare main.py (floor)':46} {bare_free:9d} B {1:8.2f}")
    print(f"{'free heap, app ready (TLS allowance removed)':46} {app_free:9d} B "
          f"{app_free / bare_free:8.2f}")
    print(f"{'waybill scan -> held (floor)':46} {floor * 1000:9.1f} ms {1:8.1f}")
    for name, vals in (("identity scan -> sealed", sealed), ("identity scan -> acked (HTTPS)",
                                                              acked)):
        med = statistics.median(vals)
        print(f"{name:46} {med * 1000:9.1f} ms {med / floor:8.1f}")


if __name__ == "__main__":
    main()
