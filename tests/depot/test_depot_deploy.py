"""`sealscan deploy` against a simulated scanner over its console pty (real mpremote)."""

import hashlib
import json
import os

import pytest
from conftest import BOARD, deploy, files_in, sealscan

from sealscan.boards import load_board
from sealscan.paths import FIRMWARE_DIR


def test_deploy_writes_the_contract_layout_and_survives_a_power_cut(blank):
    run = deploy(blank, "--board", BOARD)
    assert run.code == 0, run.text
    assert "firmware.json: written" in run.out and "boot.py: removed" in run.out
    fs = files_in(blank)
    assert fs["main.py"] == (FIRMWARE_DIR / "main.py").read_bytes()
    assert fs["board.json"] == load_board(BOARD).device_config_json().encode()
    assert "boot.py" not in fs and not [n for n in fs if n.endswith(".py") and n != "main.py"]
    assert "checkdigits.mpy" in fs and "sealer.mpy" in fs
    manifest = json.loads(fs["firmware.json"])
    # firmware.json names every other file with its sha256, and nothing else is there.
    assert set(manifest["files"]) == set(fs) - {"firmware.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(fs[name]).hexdigest() == digest, name
    assert blank.wait_for("MPY: soft reboot")  # the new main.py runs

    blank.power_cut()
    assert files_in(blank) == fs
    mark = len(blank.output)
    blank.power_on()
    blank.wait_for(">>> ", since=mark)
    again = deploy(blank, "--board", BOARD, "--json")
    assert again.code == 0, again.text
    assert json.loads(again.out)["written"] == []


def test_deploy_twice_skips_unchanged_and_replaces_changed_and_stale(deployed, tmp_path):
    deployed.exec("for name, data in (('mask.mpy', b'corrupted'),\n"
                  "                   ('old_module.mpy', b'from an older firmware'),\n"
                  "                   ('notes.txt', b'not firmware: left for the audit')):\n"
                  "    with open(name, 'wb') as f:\n"
                  "        f.write(data)\n")
    run = deploy(deployed, "--board", BOARD, "--json")
    assert run.code == 0, run.text
    result = json.loads(run.out)
    # firmware.json is taken away while files change and written again last
    assert result["written"] == ["mask.mpy", "firmware.json"]
    assert result["removed"] == ["old_module.mpy"]
    assert "sealer.mpy" in result["skipped"]
    fs = files_in(deployed)
    assert "notes.txt" in fs and "old_module.mpy" not in fs
    manifest = json.loads(fs["firmware.json"])
    assert hashlib.sha256(fs["mask.mpy"]).hexdigest() == \
        manifest["files"]["mask.mpy"]


def test_deploy_a_firmware_tree_that_does_not_compile_touches_nothing(blank, tmp_path):
    src = tmp_path / "fw"
    src.mkdir()
    (src / "waybill.py").write_text("def broken(:\n")
    before = files_in(blank)
    run = sealscan("deploy", "--port", blank.port, "--board", BOARD, "--firmware", src)
    assert run.code == 3
    assert run.err.startswith("error: ") and run.err.count("\n") == 1
    assert files_in(blank) == before


def test_deploy_as_another_board_is_refused_unless_forced(deployed):
    other = "esp32s3-devkitc-st7789"
    run = sealscan("deploy", "--port", deployed.port, "--board", other)
    assert run.code == 1
    assert run.err == (f"error: {deployed.port}: the device was deployed as board {BOARD}, "
                       f"not {other} (use --force to redeploy it as {other})\n")


def test_missing_port_bad_board_and_not_a_device_are_one_line_errors(tmp_path):
    run = sealscan("deploy", "--port", tmp_path / "ttyUSB9", "--board", BOARD)
    assert run.code == 1 and "no such serial port" in run.err and run.err.count("\n") == 1
    run = sealscan("deploy", "--port", tmp_path, "--board", BOARD)
    assert run.code == 1 and "not a serial device" in run.err
    run = sealscan("deploy", "--port", "/dev/null", "--board", "no-such-board")
    assert run.code == 3 and run.err.startswith("error: ") and run.err.count("\n") == 1


def _drop_file_capabilities() -> None:
    """Stay uid 0 but lose CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (every capability): files
    are then checked by their owner and mode, as for any user. Unlike dropping to `nobody`,
    the process can still read a checkout that lives in a private (0700) directory."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(None, use_errno=True)
    data = (Data * 2)()  # all zero: no capabilities
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:  # _LINUX_CAPABILITY_VERSION_3
        raise OSError(ctypes.get_errno(), "capset")


def test_permission_denied_on_the_serial_device_names_the_fix(blank):
    # The port belongs to someone else with mode 0600: run the command in a child without
    # the capabilities that let root open any device node.
    if os.geteuid() != 0:
        pytest.skip("needs root to make a port another user cannot open")
    os.chown(blank.port, 65534, 65534)
    os.chmod(blank.port, 0o600)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            _drop_file_capabilities()
            run = sealscan("deploy", "--port", blank.port, "--board", BOARD)
            os.write(write, f"{run.code}\n{run.err}".encode())
        except BaseException as e:  # noqa: BLE001  (reported to the parent)
            os.write(write, f"child failed\n{e!r}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        code, err = f.read().split("\n", 1)
    os.waitpid(pid, 0)
    assert code == "1", err
    assert err == (f"error: {blank.port}: permission denied (add your user to the group "
                   "owning the port, e.g. `sudo usermod -aG dialout $USER`, then log in "
                   "again)\n")


def test_chip_named_by_micropython_machine_string():
    from sealscan.device.deploy import chip_of_machine

    assert chip_of_machine("Generic ESP32 module with ESP32") == "esp32"
    assert chip_of_machine("Generic ESP32S3 module with ESP32S3") == "esp32s3"
    assert chip_of_machine("ESP32-S3 DevKitC with ESP32-S3") == "esp32s3"
    assert chip_of_machine("linux [GCC 14.2.1] version") is None  # the simulator: no check


def test_power_cut_in_the_middle_of_a_deploy_leaves_whole_files_and_a_redeploy_heals(blank):
    from sealscan.device.deploy import deploy as run_deploy
    from sealscan.device.firmware import build_firmware
    from sealscan.device.link import DeviceError, open_link

    board = load_board(BOARD)

    def cut_at_fifth_file(msg):
        if msg.startswith("[5/"):
            blank.power_cut()

    with pytest.raises(DeviceError) as e:
        with open_link(blank.port) as link:
            run_deploy(link, board, build_firmware(board), progress=cut_at_fifth_file)
    assert "\n" not in str(e.value)
    fs = files_in(blank)  # flash.bin's LittleFS mounts after the cut
    assert "firmware.json" not in fs  # the cut-short deploy does not claim the build
    written = [n for n in fs if n.endswith(".mpy")]
    assert 4 <= len(written) <= 5
    assert "main.py" in fs  # written first: it checks the rest at boot
    mark = len(blank.output)
    assert _boot_outcome(blank) == "refuses"  # no ImportError traceback on an empty device
    assert b"Performing initial setup" not in blank.output[mark:]  # mounted, not reformatted
    report = json.loads(sealscan("verify", "--port", blank.port, "--json").out)
    assert "firmware.json: missing or malformed (run `sealscan deploy`)" in report["problems"]
    assert deploy(blank, "--board", BOARD).code == 0
    report = json.loads(sealscan("verify", "--port", blank.port, "--json").out)
    assert [p for p in report["problems"] if not p.startswith("NVS ")] == []
    # without the font asset the refusal is still on the screen (framebuf's built-in font)
    blank.exec("import os\nos.remove('font.bin')")
    blank.power_cut()
    mark = len(blank.output)
    assert _boot_outcome(blank) == "refuses"
    assert b"no font asset" in blank.output[mark:]
    blank.wait_until(lambda: _refusal_shown(blank), 10,
                     "the refusal on the screen")


def _old_build(tmp_path):
    """An older firmware: the same tree with a few modules changed and one extra."""
    import shutil

    old = tmp_path / "old-fw"
    shutil.copytree(FIRMWARE_DIR, old)
    for name in ("mask.py", "waybill.py", "view.py"):
        (old / name).write_text((old / name).read_text() + "\nOLD_BUILD = 1\n")
    (old / "legacy.py").write_text("X = 1\n")
    return old


def _refusal_shown(dev) -> bool:
    """The screen shows the firmware check's refusal (the console says it before the panel,
    which is slower, has drawn it)."""
    from sealsim.endtoend import frame_text

    return bool(dev.panel.frames) and "INCOMPLETE" in frame_text(dev.frame())


def _boot_outcome(dev):
    """What the device does after power-on: 'runs' its app (it gets as far as reading NVS:
    these devices are not provisioned), or 'refuses' with the firmware check's message."""
    mark = len(dev.output)
    dev.power_on()
    out = dev.wait_for(">>> ", 30, since=mark)
    text = dev.output[mark:out].decode("utf-8", "replace")
    if "firmware incomplete" in text:
        assert "Traceback" not in text, text
        return "refuses"
    assert "sealscan: cannot start: not provisioned" in text, \
        (text, sorted(files_in(dev)), dev.events[-8:], bytes(dev.output[-3000:mark]))
    return "runs"


@pytest.mark.slow
def test_power_cut_anywhere_in_an_upgrade_leaves_old_new_or_a_refusal(blank, tmp_path):
    # Issue 14, item 6: cut the power after each step of a deploy over an older firmware.
    # Whatever runs afterwards is the whole old firmware or the whole new one; otherwise the
    # device refuses to start and says so on its screen.
    from sealscan.device.deploy import deploy as run_deploy
    from sealscan.device.firmware import build_firmware
    from sealscan.device.link import DeviceError, open_link

    board = load_board(BOARD)
    old_src = _old_build(tmp_path)
    old = build_firmware(board, old_src)
    new = build_firmware(board, FIRMWARE_DIR)
    assert deploy(blank, "--board", BOARD, "--firmware", old_src).code == 0
    steps = []
    with open_link(blank.port) as link:  # count the steps
        run_deploy(link, board, new, reset=False, progress=steps.append)
    seen = set()
    last = len(steps)
    for cut in sorted({1, 2, 3, *range(4, last - 3, 6), last - 2, last - 1, last}):
        assert deploy(blank, "--board", BOARD, "--firmware", old_src).code == 0
        n = [0]

        def cut_after(msg, _cut=cut, n=n):
            n[0] += 1
            if n[0] == _cut:
                blank.power_cut()

        with pytest.raises(DeviceError), open_link(blank.port) as link:
            run_deploy(link, board, new, progress=cut_after)
        fs = files_in(blank)
        outcome = _boot_outcome(blank)
        if outcome == "runs":
            complete = [b for b in (old, new) if all(
                fs.get(n) == d for n, d in b.files.items())]
            assert complete, f"cut {cut}: ran with a mix of modules"
        else:
            assert "firmware.json" not in fs or fs["firmware.json"] != new.manifest()
            blank.wait_until(lambda: _refusal_shown(blank), 10,
                             "the refusal on the screen")
        seen.add(outcome)
    assert seen == {"runs", "refuses"}
