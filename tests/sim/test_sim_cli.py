"""`sealscan sim`: help, the interactive terminal view driven through a pty, and audit."""

import os
import sys
import time
from pathlib import Path

import pexpect
import pyte
from click.testing import CliRunner

from sealscan.cli import cli
from sealsim.display import pixels_from_terminal
from sealsim.screen import read_text

COLS, ROWS = 140, 60


def test_sim_help_documents_interactive_mode():
    out = CliRunner().invoke(cli, ["sim", "--help"]).output
    assert "sealscan sim run" in out
    for words in ("scan sample codes", "Wi-Fi on/off", "power cut", "quit"):
        assert words in out
    run_help = CliRunner().invoke(cli, ["sim", "run", "--help"]).output
    assert "EA123456785CN" in run_help and "--state" in run_help


class _Term:
    """The interactive view in a real pty, read back through a terminal emulator."""

    def __init__(self, state: Path, png_dir: Path):
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        env = dict(os.environ, TERM="xterm", COLUMNS=str(COLS), LINES=str(ROWS))
        self.child = pexpect.spawn(
            sys.executable, ["-m", "sealscan", "sim", "run", "--state", str(state),
                             "--png-dir", str(png_dir)],
            env=env, dimensions=(ROWS, COLS), timeout=5)

    def pump(self):
        try:
            while True:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.05))
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass

    def lines(self):
        return [line.rstrip() for line in self.screen.display]

    def wait(self, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if predicate(self.lines()):
                return
        raise AssertionError(f"{what} not shown within {timeout} s:\n" + "\n".join(self.lines()))

    def screen_pixel_text(self):
        """Read the device screen back from the half-block characters on the terminal."""
        lines = self.lines()
        top = next(i for i, ln in enumerate(lines) if ln.startswith("+---"))
        art = [ln[1:129].ljust(128) for ln in lines[top + 1: top + 33]]
        return read_text(pixels_from_terminal(art, 128, 64))


def test_interactive_mode_through_a_pty(tmp_path):
    term = _Term(tmp_path / "state", tmp_path / "png")
    try:
        term.wait(lambda ls: any("screen text: sealsim" in ln for ln in ls), "the app screen")
        # The screen itself, drawn with half blocks, reads back as the firmware's text.
        term.wait(lambda ls: "WIFI UP" in term.screen_pixel_text(), "WIFI UP in pixels")
        term.child.send("1")
        term.wait(lambda ls: "EA123456785CN" in term.screen_pixel_text(), "scanned code")
        assert "SCANS 1" in term.screen_pixel_text()
        term.child.send("w")
        term.wait(lambda ls: "WIFI DOWN" in term.screen_pixel_text(), "Wi-Fi off")
        assert any("wifi: off" in ln for ln in term.lines())
        term.child.send("o")
        term.wait(lambda ls: any("key: OK" in ln for ln in ls), "OK key on the console")
        term.child.send("s")
        term.wait(lambda ls: any("saved" in ln for ln in ls), "frames saved")
        assert list((tmp_path / "png").glob("*.png"))
        term.child.send("p")
        term.wait(lambda ls: any("power: off" in ln for ln in ls), "power cut")
        term.child.send("p")
        term.wait(lambda ls: any("power: on" in ln for ln in ls), "power back")
        term.wait(lambda ls: "SCANS 0" in term.screen_pixel_text(), "fresh boot after cut")
        term.child.send("q")
        term.child.expect(pexpect.EOF, timeout=20)
        term.child.close()
        assert term.child.exitstatus == 0
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    # The state directory is the device's flash: the test app is still there.
    from sealscan.boards import load_board
    from sealsim.flashstore import FlashStore

    store = FlashStore(load_board("esp32-devkitc-gm65"), tmp_path / "state")
    try:
        assert "/main.py" in store.read_files()
    finally:
        store.close()


def test_sim_audit_command(tmp_path):
    from sealscan.boards import load_board
    from sealsim.storage import FlashStorage

    state = tmp_path / "dev"
    storage = FlashStorage(load_board("esp32-devkitc-gm65"), state)
    storage.deploy({"main.py": b"print('hi')\n"})
    storage.close()
    runner = CliRunner()
    clean = runner.invoke(cli, ["sim", "audit", str(state), "--canary", "13812345678"])
    assert clean.exit_code == 0 and "clean" in clean.output
    (state / "rtc.bin").write_bytes(b"..13812345678..")
    hit = runner.invoke(cli, ["sim", "audit", str(state), "--canary", "13812345678", "--json"])
    assert hit.exit_code == 1
    assert '"where": "rtc.bin (RTC memory)"' in hit.output


def test_sim_run_with_an_unknown_board_is_a_clear_input_error(tmp_path):
    result = CliRunner().invoke(cli, ["sim", "run", "--board", "no-such-board",
                                      "--state", str(tmp_path / "s")])
    assert result.exit_code == 3
    assert "no board named 'no-such-board'" in result.output
