# Boot-only code: reading board.json and the NVS configuration, and wiring the handheld's
# peripherals. It runs once per boot, so it is loaded for that and released after
# (transient.py) instead of staying resident on the ~110 KB heap: config.Config() and
# handheld.App() call in here.
import json

import texts as T
from micropython import const

_BUF = const(2048)  # the largest NVS blob (tls_cert DER)
_DEFAULT_LANG = "zh"  # every carrier the firmware knows is a Chinese one (waybill.CARRIERS)
FONT = "font.bin"  # the font asset `sealscan deploy` puts beside the modules


def load_board(path):
    with open(path) as f:
        return json.load(f)


def read_config(cfg, nvs):
    """Fill `cfg` (a config.Config) from NVS namespace "sealscan" (DEVICE.md)."""
    from config import ConfigError, parse_url

    cfg.nvs = nvs
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

    cfg.device_id = text("device_id")
    cfg.device_key = blob("device_key", 32)
    cfg.upstream_pk = blob("upstream_pk", 32)
    cfg.upstream_url = text("upstream_url")
    cfg.tls_cert = blob("tls_cert")
    cfg.badge_key = blob("badge_key", 32)
    cfg.config_key = blob("config_key", 32)
    cfg.carrier = text("carrier")
    cfg.lang = text("lang", True) or _DEFAULT_LANG
    cfg.wifi_ssid = text("wifi_ssid", True)
    cfg.wifi_pass = text("wifi_pass", True)
    try:
        cfg.config_serial = nvs.get_i32("config_serial")
    except OSError:
        cfg.config_serial = 0
    cfg.host, cfg.port = parse_url(cfg.upstream_url)


def wire(app, board, cfg, sealer_):
    """handheld.App's state: the flow, the board's peripherals, Wi-Fi, the TLS context."""
    import asyncio

    import display
    import flow
    import network
    import scanline
    import uplink
    from machine import PWM, UART, Pin

    se = board["scan_engine"]
    pins = board["pins"]
    app.cfg = cfg
    app.sealer = sealer_
    app.flow = flow.Flow(cfg.badge_key, cfg.config_key, cfg.carrier)
    app.flow.config_serial = cfg.config_serial
    app.lines = scanline.LineSplitter()
    app.disp = display.open_display(board["display"])
    lang = T.EN if cfg.lang == "en" else T.ZH
    display.open_font(FONT, lang, app.disp.ink)  # type: ignore[attr-defined]
    app.uart = UART(se["uart"], se["baud"], tx=se["tx"], rx=se["rx"])
    app.buzzer = PWM(Pin(pins["buzzer"]), freq=2000, duty_u16=0)
    app.led = Pin(pins["led"], Pin.OUT, value=0)
    app.key_back = Pin(pins["key_back"], Pin.IN, Pin.PULL_UP)
    app.key_ok = Pin(pins["key_ok"], Pin.IN, Pin.PULL_UP)
    # GM65 trigger input, active low: held low while OK is held (reads in command mode; in
    # manual mode the module's own button reads and this changes nothing)
    app.trigger = Pin(se["trigger"], Pin.OUT, value=1)
    app.wlan = network.WLAN(network.STA_IF)
    app.ctx = uplink.ssl_context(cfg.tls_cert)
    app.kick = asyncio.Event()
    # records sealed and not yet acked: [enc, index, ticks_ms, unix time, overdue]
    app.outstanding = []
    app.last = None  # (masked name, masked id, masked waybill, state text id) of the latest
    app.shown_ms = 0
    app.shown_at = 0
    app.last_key = None  # (enc, index) of the latest capture
    app.overdue = False
    app.alarm = None
    app.waiting = False  # a capture is held until a session or queue space is there
    app.dirty = True
