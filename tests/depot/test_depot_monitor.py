"""`sealscan monitor` follows a simulated scanner's console and masks what it must."""

from conftest import BOARD, sealscan

from sealscan.device.records import mask_console

CANARY_ID = "44052418800101001X"  # wrong check character: masked all the same
CANARY_PHONE = "13912345678"
LOOP = ("import time\n"
        "while True:\n"
        f"    print('scan id={CANARY_ID} tel={CANARY_PHONE} qr=RNID1:6BFOX')\n"
        "    print('queue 3 sealed, uplink ok')\n"
        "    time.sleep(0.1)\n")


def test_monitor_masks_ids_and_phones_and_leaves_main_running(sim_devices):
    dev = sim_devices(BOARD, "talker", firmware=None, files={"main.py": LOOP})
    dev.wait_for("uplink ok")
    boots = dev.boots
    run = sealscan("monitor", "--port", dev.port, "--seconds", "1.5")
    assert run.code == 0, run.text
    assert "scan id=4***************1X tel=1********78 qr=RNID1:…(5 characters)" in run.out
    assert "queue 3 sealed, uplink ok" in run.out
    assert CANARY_ID not in run.out and CANARY_PHONE not in run.out and "6BFOX" not in run.out
    assert dev.boots == boots and dev.running  # nothing was sent: no reset, no interrupt


def test_console_masker_keeps_short_numbers():
    assert mask_console("heap 110592 free, 3 records") == "heap 110592 free, 3 records"
    assert mask_console("t=1700000000") == "t=1*******00"


def test_console_masker_masks_chinese_names_like_the_screen():
    # the firmware's console is English: a Chinese run there is taken for a name and shown as
    # the scanner's screen shows it (one policy: firmware/mask.py)
    from sealscan import masking

    for name in ("欧阳金丝雀", "张伟", "买买提·艾力", "\U00020bb7伟"):
        assert mask_console(f"oops name={name} end") == f"oops name={masking.name(name)} end"
    assert mask_console("sealscan: scan refused: Badge not valid") == \
        "sealscan: scan refused: Badge not valid"
