"""The hardware smoke kit (sealscan.hil, `make hil`) run against a simulated board: the same
steps a technician runs on a board on the bench, the scans injected into the simulated GM65
instead of shown as QR codes, and the numbers a board would report (issue 10)."""

from __future__ import annotations

import subprocess

from click.testing import CliRunner

from sealscan import hil
from sealscan.cli import cli
from sealscan.paths import REPO
from sealsim import endtoend as e2ekit


def test_without_a_port_it_says_what_it_needs():
    r = CliRunner().invoke(cli, ["hil"], env={"SEALSCAN_PORT": ""})
    assert r.exit_code == 2
    assert "needs a scanner on a serial port" in r.stderr and "make hil PORT=" in r.stderr
    m = subprocess.run(["make", "-s", "hil"], cwd=REPO, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert m.returncode != 0 and "needs a scanner on a serial port" in m.stderr


def test_against_the_simulator_it_passes_and_prints_the_numbers(tmp_path):
    board = e2ekit.board()
    dev = e2ekit.device(board, tmp_path / "board")  # an empty board: MicroPython only
    lines: list[str] = []
    try:
        res = hil.run(dev.port, board.name, tmp_path / "work", wifi_ssid="depot",
                      upstream_host="127.0.0.1", scan=dev.scan, maintenance=dev.maintenance,
                      timeout=60,
                      out=lines.append)
    finally:
        dev.close()
    assert [s for s, _ in res.steps] == list(hil.STEPS)
    text = "\n".join(lines)
    assert "record 0 verdict ok" in text and "session started" in text
    n = res.numbers
    # the app's own times for its upload: ESP32 time from the speed model (sealsim.speed: ~1 s
    # for the handshake) plus the host's; the handshake is part of the upload
    assert n["tls_handshake_ms"] is not None and n["tls_handshake_ms"] >= 900
    assert n["upload_ms"] is not None and n["upload_ms"] >= n["tls_handshake_ms"]
    # the numbers are taken in maintenance mode: the app's console stayed locked
    assert "maintenance mode" in text
    assert n["x25519_ms"] is not None and n["x25519_ms"] > 0
    assert n["session_setup_ms"] is not None and n["session_setup_ms"] > 0
    assert n["gc_free"] and "GC:" in res.mem_info
    assert n["idf_heap_data"] is not None  # the simulator's stand-in, named as such
