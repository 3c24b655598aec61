"""A firmware boots on every board within its heap budget, and the budget is enforced."""

import time

import pytest

from sealscan import boards
from sealsim.device import DEEPSLEEP_RESET, HARD_RESET, PWRON_RESET, SOFT_RESET, WDT_RESET

BOARDS = [b.name for b in boards.load_all()]

HEAP_MAIN = """
import gc, machine
budget = %d
gc.collect()
free = gc.mem_free()
print("heap free", free, "cause", machine.reset_cause())
part = bytearray(free // 4)  # well inside the budget: must work
del part
gc.collect()
try:
    big = bytearray(budget + 1)
    print("ALLOCATED beyond the heap", len(big))
except MemoryError:
    print("MemoryError beyond the heap")
"""


@pytest.mark.parametrize("board", BOARDS)
def test_boots_within_heap_and_limit_is_enforced(sim_devices, board):
    mem = boards.load_board(board).memory
    budget = mem.ram_bytes - mem.wifi_bytes  # what the heap and mbedTLS may share
    dev = sim_devices(board, firmware=None, files={"main.py": HEAP_MAIN % budget})
    dev.wait_for("MemoryError beyond the heap")
    out = dev.output.decode()
    free = int(out.split("heap free ")[1].split()[0])
    # gc.mem_free() counts, as on esp32, the heap's free blocks plus the largest area it could
    # still add: the board's RAM less Wi-Fi, less what the interpreter itself holds (the
    # shims' heap is credited back, since on the board they are native code), and not more.
    assert budget * 0.9 < free <= budget
    marks = dev.memory()
    assert marks.budget == mem.ram_bytes and marks.reserved == mem.wifi_bytes
    assert 0 < marks.used_peak <= marks.budget, marks
    assert f"cause {PWRON_RESET}" in out
    assert "ALLOCATED" not in out


@pytest.mark.parametrize("board", BOARDS)
def test_test_app_boots_and_draws(sim_devices, board):
    dev = sim_devices(board)
    dev.wait_for("app ready")
    dev.wait_until(lambda: "sealsim" in dev.screen_text(), 20, "app screen")


LIFECYCLE_MAIN = """
import machine
print("boot cause", machine.reset_cause())
"""


def test_resets_restart_with_the_right_cause(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": LIFECYCLE_MAIN})
    dev.wait_for(f"boot cause {PWRON_RESET}")
    mark = len(dev.output)
    dev.write_console(b"import machine; machine.reset()\r")
    dev.wait_for(f"boot cause {HARD_RESET}", since=mark)
    assert b"rst:0xc (SW_CPU_RESET)" in dev.output[mark:]
    mark = len(dev.output)
    dev.write_console(b"machine.WDT(timeout=300)\r")  # never fed
    dev.wait_for(f"boot cause {WDT_RESET}", since=mark)
    mark = len(dev.output)
    dev.write_console(b"machine.deepsleep(50)\r")
    dev.wait_for(f"boot cause {DEEPSLEEP_RESET}", since=mark)
    mark = len(dev.output)
    dev.write_console(b"\x04")  # Ctrl-D at the friendly REPL: soft reboot
    dev.wait_for(b"MPY: soft reboot\r\n", since=mark)
    dev.wait_for(f"boot cause {SOFT_RESET}", since=mark)


def test_fed_watchdog_does_not_reset(sim_devices):
    main = ("import machine, time\nw = machine.WDT(timeout=400)\nfor i in range(8):\n"
            "    time.sleep_ms(100)\n    w.feed()\nprint('fed', machine.reset_cause())\n")
    dev = sim_devices(firmware=None, files={"main.py": main})
    dev.wait_for("fed 1")
    assert dev.boots == 1


def test_clock_is_esp32_epoch_and_settable(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    t = int(dev.exec("import time; print(time.time())"))
    assert abs(t + 946684800 - time.time()) < 60  # ESP32 counts from 2000-01-01
    assert dev.exec("print(type(time.time()).__name__)").strip() == "int"
    dev.skew_clock(-86400 * 365)
    t2 = int(dev.exec("print(time.time())"))
    assert 86400 * 364 < t - t2 < 86400 * 366
    dev.exec("import machine; machine.RTC().datetime((2030, 1, 2, 0, 3, 4, 5, 0))")
    assert dev.exec("print(time.gmtime()[:3])").strip() == "(2030, 1, 2)"
    dev.set_clock(946684800 + 100)
    assert 100 <= int(dev.exec("print(time.time())")) < 200


def test_several_devices_at_once(sim_devices):
    a = sim_devices(name="a")
    b = sim_devices("esp32s3-devkitc-st7789", name="b")
    a.wait_for("app ready")
    b.wait_for("app ready")
    a.scan("EA123456785CN")
    b.scan("106141411928374657")
    a.wait_for("scan: EA123456785CN")
    b.wait_for("scan: 106141411928374657")
    assert b"106141411928374657" not in a.output
    assert b"EA123456785CN" not in b.output
    assert a.port != b.port


def test_real_firmware_modules_run_as_deployed_mpy(sim_devices, tmp_path):
    # The project's firmware, compiled by mpy-cross as a depot deploys it, runs on the
    # simulated board unmodified.
    from sealscan import fwtools
    from sealscan.paths import FIRMWARE_DIR

    fwtools.compile_firmware(FIRMWARE_DIR, tmp_path / "mpy")
    main = ("import checkdigits\nprint('fw', checkdigits.__file__, "
            "checkdigits.upu_s10('EA123456785CN'), checkdigits.upu_s10('EA123456784CN'))\n")
    dev = sim_devices(firmware=tmp_path / "mpy", files={"main.py": main})
    dev.wait_for("fw checkdigits.mpy True False")


def test_ntp_corrects_a_skewed_clock_only_with_wifi(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    dev.skew_clock(-3 * 86400)
    assert abs(int(dev.exec("import time; print(time.time())")) + 946684800
               + 3 * 86400 - time.time()) < 60
    dev.set_wifi(False)
    assert dev.exec("import ntptime\ntry:\n    ntptime.settime()\nexcept OSError as e:\n"
                    "    print(e.errno)").strip() == "-202"
    dev.set_wifi(True)
    dev.exec("ntptime.settime()")
    assert abs(int(dev.exec("print(time.time())")) + 946684800 - time.time()) < 60


def test_uart0_is_the_console(sim_devices):
    dev = sim_devices(firmware=None, files={"main.py": "print('up')\n"})
    dev.wait_for("up")
    out = dev.exec("from machine import UART\nUART(0, 115200).write(b'via uart0\\r\\n')")
    assert out == "via uart0\n"
