"""`sealscan sim`: help, the interactive terminal view driven through a pty, and audit."""

import os
import sys
import time

import pexpect
import pyte
from click.testing import CliRunner

from sealscan.cli import cli
from sealscan.fonttool import words
from sealsim.display import pixels_from_terminal
from sealsim.scenario import TESTFW_DIR
from sealsim.screen import read_text, term_width

COLS, ROWS = 140, 60


def test_sim_help_documents_interactive_mode():
    out = CliRunner().invoke(cli, ["sim", "--help"]).output
    assert "sealscan sim run" in out
    for what in ("scan sample codes", "Wi-Fi on/off", "power cut", "quit"):
        assert what in out
    run_help = CliRunner().invoke(cli, ["sim", "run", "--help"]).output
    assert "EA123456785CN" in run_help and "--state" in run_help


class _Term:
    """The interactive view in a real pty, read back through a terminal emulator."""

    def __init__(self, args: list[str], cols: int = COLS, rows: int = ROWS,
                 env: dict[str, str] | None = None):
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        env = dict(os.environ, TERM="xterm", COLUMNS=str(cols), LINES=str(rows), **(env or {}))
        self.child = pexpect.spawn(sys.executable, ["-m", "sealscan", "sim", "run", *args],
                                   env=env, dimensions=(rows, cols), timeout=5)

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

    def quit(self):
        """q: the view ends cleanly (exit 0)."""
        self.child.send("q")
        self.child.expect(pexpect.EOF, timeout=30)
        self.child.close()
        assert self.child.exitstatus == 0

    def stop(self):
        if self.child.isalive():
            self.child.terminate(force=True)

    def screen_pixel_text(self):
        """Read the device screen back from the half-block characters on the terminal."""
        lines = self.lines()
        top = next(i for i, ln in enumerate(lines) if ln.startswith("+---"))
        art = [ln[1:129].ljust(128) for ln in lines[top + 1: top + 33]]
        return read_text(pixels_from_terminal(art, 128, 64))


def test_interactive_mode_through_a_pty(tmp_path):
    term = _Term(["--state", str(tmp_path / "state"), "--png-dir", str(tmp_path / "png"),
                  "--firmware", str(TESTFW_DIR), "--pixels"])
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
        term.quit()
    finally:
        term.stop()
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


def _box(lines: list[str]) -> list[str]:
    """The device screen's text rows, as the 80x24 view boxes them."""
    edges = [i for i, ln in enumerate(lines) if ln.startswith("+--")]
    if len(edges) < 2:
        return []
    top, end = edges[0], edges[1]
    return [ln[1:].rstrip().rstrip("|").rstrip() for ln in lines[top + 1:end]]


def test_a_courier_device_a_person_can_use_in_80x24(tmp_path):
    # the product firmware, provisioned, with its own upstream; quit removes all its state
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    term = _Term([], 80, 24, env={"TMPDIR": str(tmp)})
    term.child.timeout = 60
    try:
        term.wait(lambda ls: words("NOT_LOGGED_IN") in "".join(_box(ls)), "logged out", 90)
        assert any("l badge" in ln for ln in term.lines())
        term.child.send("l")
        term.wait(lambda ls: words("SCAN_BOTH").split("\n")[0] in _box(ls), "logged in")
        term.child.send("2")  # a compound surname
        term.wait(lambda ls: "寄件人 欧阳**" in _box(ls), "the masked identity")
        term.child.send("y")
        term.wait(lambda ls: any(words("REC_ACCEPTED") in ln for ln in _box(ls)), "accepted",
                  60)
        term.child.send("4")  # expired
        term.wait(lambda ls: words("ID_EXPIRED").split("\n")[0] in _box(ls), "expired refused")
        term.child.send("x")  # another carrier's waybill
        term.wait(lambda ls: "不是SF的运单" in _box(ls), "other carrier refused")
        term.child.send("c")  # settings code: English
        term.wait(lambda ls: "Settings updated" in _box(ls), "English", 30)
        for line in term.lines():
            assert term_width(line) <= 80
        shown = "\n".join(term.lines())
        for hidden in ("娜娜", "芳", "440524188001010014"):
            assert hidden not in shown
        term.quit()
    finally:
        term.stop()
    assert not any(p.name.startswith("sealsim-state-") for p in tmp.iterdir())
