"""The console pty behaves like a board's USB serial port for the real mpremote."""

import re
import subprocess
import sys

MPREMOTE = [sys.executable, "-m", "mpremote"]


def mpremote(dev, *args, timeout=30):
    """The real mpremote command against the device's console pty."""
    mark = len(dev.output)
    try:
        proc = subprocess.run([*MPREMOTE, "connect", dev.port, *args], capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"mpremote {args} timed out; console since it started:\n"
                             f"{bytes(dev.output[mark:])!r} running={dev.running} "
                             f"swallow={dev.console.swallow!r} raw={dev.console.raw} "
                             f"{dev.events}") from None
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, (args, out, proc.stderr.decode("utf-8", "replace"))
    return out


def test_mpremote_exec_cp_run_soft_reset_and_power_cut(sim_devices, tmp_path):
    # The test app runs forever in main.py: mpremote must interrupt it like on a board.
    dev = sim_devices()
    dev.wait_for("app ready")
    assert mpremote(dev, "exec", "print(6 * 7)").strip() == "42"

    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('ran on', sys.implementation.name)\n")
    mpremote(dev, "fs", "cp", str(script), ":hello.py")
    assert "ran on micropython" in mpremote(dev, "run", str(script))
    listing = mpremote(dev, "fs", "ls")
    assert "hello.py" in listing and "main.py" in listing

    boots = dev.boots
    mpremote(dev, "soft-reset")
    assert dev.boots > boots
    # Several commands in one session, across a soft reset (no `resume` anywhere).
    out = mpremote(dev, "exec", "x = 1", "soft-reset", "exec",
                   "print('x' in globals())")
    assert out.strip() == "False"

    # Power cut: RAM lost, flash kept. The copied file is in the LittleFS of flash.bin and
    # the rebooted device still lists it.
    dev.power_cut()
    assert not dev.running
    assert dev.files()["/hello.py"].startswith(b"import sys")
    mark = len(dev.output)
    dev.power_on()
    dev.wait_for("app ready", since=mark)
    assert "hello.py" in mpremote(dev, "fs", "ls")
    assert mpremote(dev, "exec", "import hello").strip() == "ran on micropython"


def test_ctrl_c_interrupts_main_and_friendly_repl_works(sim_devices):
    dev = sim_devices()
    dev.wait_for("app ready")
    mark = len(dev.output)
    dev.write_console(b"\x03")
    dev.wait_for("KeyboardInterrupt", since=mark)
    dev.wait_for(">>> ", since=mark)
    dev.write_console(b"print('still', 'here')\r")
    dev.wait_for("still here", since=mark)


def test_files_written_by_device_land_in_the_littlefs_of_flash_bin(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec("import os\nos.mkdir('/lib')\nf = open('/lib/x.txt', 'w')\nf.write('abc')\n"
             "f.close()")
    assert dev.files()["/lib/x.txt"] == b"abc"
    # The device sees its flash as `/`, and nothing of the host's filesystem.
    assert sorted(eval(dev.exec("import os; print(os.listdir('/'))"))) == \
        ["board.json", "lib", "main.py"]
    assert dev.exec("try:\n    open('/etc/hostname')\nexcept OSError as e:\n"
                    "    print('refused', e.errno)").strip() == "refused 2"


def test_ctrl_c_between_repl_lines_never_kills_the_board(sim_devices):
    # The unix port restores SIGINT's default action between REPL lines; a Ctrl-C arriving
    # there must not end the process (RAM would be lost, as in a reboot). exec() sends
    # "\r\x03\x03\x01" each time, as mpremote does, so many calls hit that window.
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.exec("n = 0")
    for _ in range(60):
        dev.exec("n += 1")
    assert dev.exec("print(n)").strip() == "60"
    assert dev.boots == 1


SPIN = """\
junk = [bytearray(8) for _ in range(1000)]  # a full heap: every collection takes a while


def spin():
    import gc, time
    print('spinning')
    while True:
        for _ in range(20):
            gc.collect()
        time.sleep_ms(1)


spin()
"""


def test_ctrl_c_lands_where_code_waits_never_inside_native_code(sim_devices):
    # The unix port raises KeyboardInterrupt from inside its SIGINT handler, out of whatever
    # native code is running: inside a garbage collection that leaves the heap locked for
    # good, inside a close() a stale fd that later closes a new socket (EBADF on the
    # shims' link). An ESP32 only raises Ctrl-C where the VM checks for it. This loop spends
    # nearly all its time collecting garbage and a little sleeping: every Ctrl-C must land
    # in the sleep, and the heap must stay usable.
    dev = sim_devices(firmware=None, files={"main.py": SPIN})
    dev.wait_for("spinning")
    for _ in range(8):
        mark = len(dev.output)
        dev.write_console(b"\x03")
        end = dev.wait_for(">>> ", since=mark)
        trace = bytes(dev.output[mark:end]).decode("utf-8", "replace")
        frames = re.findall(r'File "main.py", line (\d+)', trace)
        assert frames[-1:] == ["10"] and "KeyboardInterrupt" in trace, trace  # the sleep
        dev.write_console(b"print('heap', len(bytearray(4096)))\r")
        dev.wait_for("heap 4096", since=end)
        dev.write_console(b"spin()\r")
        dev.wait_for("spinning", since=end)
    assert dev.boots == 1


def test_host_typing_never_overtakes_what_a_port_client_wrote(sim_devices):
    # A depot command (mpremote) leaves the device in raw REPL and exits with Ctrl-B; its
    # last bytes may still sit in the pty when a test types on the console. Typed after,
    # they must land after: here a raw REPL entered from the host must not be left by the
    # client's late Ctrl-B (CI once saw exec's code run in the friendly REPL).
    import os

    dev = sim_devices()
    dev.wait_for("app ready")
    fd = os.open(dev.port, os.O_RDWR | os.O_NOCTTY)
    try:
        for i in range(15):
            assert dev.exec(f"print({i} * 3)").strip() == str(i * 3)
            os.write(fd, b"\r\x01")  # the client: into raw REPL ...
            os.write(fd, b"\x02")  # ... and out again as it exits
            assert dev.exec(f"print({i} + 100)").strip() == str(i + 100)
    finally:
        os.close(fd)


def test_exec_returns_with_nothing_more_to_come(sim_devices):
    # exec leaves the raw REPL (Ctrl-B) before it returns; the friendly banner that answers
    # must be in already, or it lands after whatever the caller does next (a power cut and
    # the next boot: a test then read the old banner as the new boot's).
    import time

    dev = sim_devices()
    dev.wait_for("app ready")
    for i in range(5):
        assert dev.exec(f"print({i})").strip() == str(i)
        mark = len(dev.output)
        time.sleep(0.3)
        assert bytes(dev.output[mark:]) == b"", i
