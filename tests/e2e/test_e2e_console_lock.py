"""A locked console while the app runs (issue 14): Ctrl-C and the raw REPL are unreachable
while record data can be in RAM; the depot's commands reach a scanner only in maintenance mode
(BACK held at power-on: the app does not start), the same way on a board and here."""

import json
import os
import subprocess
import sys
import time

from sealsim.endtoend import CARRIER, WAYBILLS, sealscan


def depot(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sealscan", *args], capture_output=True,
                          text=True, timeout=180, env=env)


def test_ctrl_c_and_raw_repl_give_nothing_while_the_app_runs(scanner, upstream):
    dev, keys = scanner()
    dev.wait_for("session started", 30)
    mark = len(dev.output)
    dev.write_console(b"\x03\x03\r\n")  # Ctrl-C twice, as mpremote does
    dev.write_console(b"\r\x01")  # Ctrl-A: raw REPL
    time.sleep(2)
    out = bytes(dev.output[mark:])
    assert b">>>" not in out and b"raw REPL" not in out and b"Traceback" not in out, out
    assert b"KeyboardInterrupt" not in out
    # the depot's tools cannot get in either, and say what to do
    run = depot("verify", "--port", dev.port)
    assert run.returncode == 1
    assert "maintenance mode" in run.stderr and run.stderr.count("\n") == 1, run.stderr
    # and the app still works
    mark = len(dev.output)
    dev.scan(keys.badge())
    dev.wait_for("courier logged in", 20, since=mark)
    dev.scan(upstream.identity())
    dev.scan(WAYBILLS[0])
    dev.wait_for("record 0 verdict ok", 30, since=mark)


def test_holding_back_through_a_reset_is_not_maintenance_mode(scanner):
    # RAM survives a reset (only a power-on clears it): only a power-on opens the console
    dev, _keys = scanner()
    dev.wait_for("session started", 30)
    dev.maintenance()
    dev.hold_key("back")
    mark = len(dev.output)
    dev.write_console(b"import machine; machine.reset()\r\n")
    dev.wait_for("session started", 40, since=mark)
    assert b"maintenance mode" not in bytes(dev.output[mark:])
    dev.release_key("back")


def test_depot_commands_work_end_to_end_in_maintenance_mode(scanner, upstream, tmp_path):
    dev, keys = scanner(depot=True)  # deployed + provisioned by the depot's commands
    dev.wait_for("session started", 30)
    dev.maintenance()
    board = dev.board.name
    run = depot("deploy", "--port", dev.port, "--board", board, "--no-reset")
    assert run.returncode == 0, run.stderr
    run = depot("verify", "--port", dev.port, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["problems"] == []
    run = depot("audit", "--repl", "--port", dev.port, "--json")
    assert run.returncode == 0, run.stderr
    work = tmp_path / "depot-again"
    work.mkdir()
    for name in ("badge.key", "config.key"):
        sealscan("codes", "init-key", "--out", str(work / name))
    env = dict(os.environ, SEALSCAN_WIFI_PASS="depot-secret")
    run = depot("provision", "--port", dev.port, "--device-id", keys.device_id, "--rekey",
                "--upstream", str(upstream.dir), "--upstream-url", upstream.url,
                "--carrier", CARRIER, "--badge-key", str(work / "badge.key"),
                "--config-key", str(work / "config.key"), "--wifi-ssid", "depot",
                "--entries", str(work / "entries.jsonl"), env=env)
    assert run.returncode == 0, run.stderr
    # back to work: a power cycle without the key starts the app, console locked again
    mark = len(dev.output)
    dev.power_cut()
    dev.power_on()
    dev.wait_for("ready", 30, since=mark)
    run = depot("monitor", "--port", dev.port, "--seconds", "2")
    assert run.returncode == 0, run.stderr
