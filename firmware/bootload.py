# Boot-only code: reading board.json and the NVS configuration, and wiring the handheld's
# peripherals. It runs once per boot, so app.py loads it for that and releases it after
# (transient.py) instead of keeping it resident on the ~110 KB heap. Every function returns
# what it built; nothing here assigns into another module's objects. Imports config, never
# the reverse.
import json

import config
import texts as T
from micropython import const

_BUF = const(2048)  # the largest NVS blob (tls_cert DER)
_DEFAULT_LANG = "zh"  # every carrier the firmware knows is a Chinese one (waybill.CARRIERS)
FONT = "font.bin"  # the font asset `sealscan deploy` puts beside the modules


def load_board(path="board.json"):
    with open(path) as f:
        return json.load(f)


def maintenance(board):
    """True if BACK is held at power-on: maintenance mode (docs/runbook.md). The app does not
    start, so RAM holds no record data, and the console stays open for the depot's tools.
    Only a power-on counts: after a reset (a crash, machine.reset) RAM still holds what the
    app had, so holding BACK then starts the app as usual, console locked."""
    import machine

    if machine.reset_cause() != machine.PWRON_RESET:
        return False
    key = machine.Pin(board["pins"]["key_back"], machine.Pin.IN, machine.Pin.PULL_UP)
    return key.value() == 0


def scrub_heap():
    """Zero all free heap: take it in zeroed blocks, largest first, then give it back. For
    maintenance mode (app.py): a reset through the EN pin reads as a power-on but keeps SRAM,
    so what the app freed before it could still be there for machine.mem8 to read. Here, in
    the boot-only code, so it costs the running app nothing."""
    import gc

    gc.collect()
    held: object = None
    size = 4096
    while size >= 16:
        try:
            held = (held, bytearray(size))  # a chain: no list to grow while the heap is full
        except MemoryError:
            size >>= 1
    held = None  # noqa: F841
    gc.collect()


def read_config(nvs):
    """A config.Config from NVS namespace "sealscan" (docs/device.md); ConfigError if the
    device is not provisioned or a key is missing or malformed."""
    ConfigError = config.ConfigError
    buf = bytearray(_BUF)
    try:
        if nvs.get_i32("provisioned") != 1:
            raise ConfigError("not provisioned")
    except OSError:
        raise ConfigError("not provisioned")

    def blob(key, size=0, optional=False):
        try:
            n = nvs.get_blob(key, buf)
        except OSError:
            if optional:
                return b""
            raise ConfigError("NVS key missing: " + key)
        if size and n != size:
            raise ConfigError("NVS key %s: %d bytes, want %d" % (key, n, size))
        return bytes(buf[:n])

    def text(key, optional=False):
        try:
            return str(blob(key, 0, optional), "utf-8")
        except UnicodeError:
            raise ConfigError("NVS key %s: not UTF-8" % key)

    try:
        serial = nvs.get_i32("config_serial")
    except OSError:
        serial = 0
    return config.Config(
        nvs, text("device_id"), blob("device_key", 32), blob("upstream_pk", 32),
        text("upstream_url"), blob("tls_cert"), blob("badge_key", 32), blob("config_key", 32),
        text("carrier"), text("wifi_ssid", True), text("wifi_pass", True), serial,
        text("lang", True) or _DEFAULT_LANG)


def font(lang):
    """Open the font asset in UI language `lang` (display.py owns the font from here on);
    ConfigError if font.bin is missing or is not a font asset."""
    import display

    try:
        display.open_font(FONT, T.EN if lang == "en" else T.ZH)
    except (OSError, ValueError):
        raise config.ConfigError(FONT + " missing or damaged: run sealscan deploy")


def wire(board, lang="zh"):
    """The board's peripherals for handheld.App, in its order: (display, scan engine UART,
    buzzer, LED, BACK key, OK key, scan engine trigger, Wi-Fi station); the display's font
    is opened in UI language `lang` ("zh" or "en")."""
    import display
    import network
    from machine import PWM, UART, Pin

    se = board["scan_engine"]
    pins = board["pins"]
    disp = display.open_display(board["display"])
    font(lang)
    return (
        disp,
        UART(se["uart"], se["baud"], tx=se["tx"], rx=se["rx"]),
        PWM(Pin(pins["buzzer"]), freq=2000, duty_u16=0),
        Pin(pins["led"], Pin.OUT, value=0),
        Pin(pins["key_back"], Pin.IN, Pin.PULL_UP),
        Pin(pins["key_ok"], Pin.IN, Pin.PULL_UP),
        # GM65 trigger input, active low: held low while OK is held (reads in command mode;
        # in manual mode the module's own button reads and this changes nothing)
        Pin(se["trigger"], Pin.OUT, value=1),
        network.WLAN(network.STA_IF),
    )
