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
# The UART driver's receive ring (IDF heap, not MicroPython's): the scan engine keeps sending
# while C code holds the interpreter (a TLS handshake ~1 s on an ESP32, ntptime's 1 s wait,
# a DNS lookup). At 9600 baud 2 KiB is ~2.1 s, so a 768-character identity token scanned
# during the longest of them is still whole; the default 256 B (~0.27 s) would lose most of
# it (the driver drops what does not fit: docs/simulator.md, "UART").
_UART_RXBUF = const(2048)
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


def read_config(nvs, board=None):
    """A config.Config from NVS namespace "sealscan" (docs/device.md); ConfigError if the
    device is not provisioned or a key is missing or malformed."""
    ConfigError = config.ConfigError
    buf = bytearray(_BUF)
    try:  # the keys were wiped (revoke.py): say why, and never start as a scanner
        why = nvs.get_i32("revoked")
    except OSError:
        why = 0
    if why:
        why_text = "REVOKED - RETURN TO DEPOT" if why == 1 else "KEY LEASE OVER - RETURN TO DEPOT"
        if board is not None:
            show(board, T.REVOKED if why == 1 else T.LEASE_OVER)  # on its screen too
        raise ConfigError(why_text)
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
    cfg = config.Config(
        nvs, text("device_id"), blob("device_key", 32), blob("upstream_pk", 32),
        text("upstream_url"), blob("tls_cert"), blob("badge_key", 32), blob("config_key", 32),
        text("carrier"), text("wifi_ssid", True), text("wifi_pass", True), serial,
        text("lang", True) or _DEFAULT_LANG)
    try:  # the key lease (lease.py): (seconds, wipe seconds); none on older provisioning
        cfg.lease = (nvs.get_i32("lease_s"), nvs.get_i32("lease_wipe_s"))
    except OSError:
        pass
    try:  # the pin's validity: no upload outside it, nothing sealed before it (clock.py)
        cfg.cert = cert_validity(cfg.tls_cert)
    except ValueError:
        print("sealscan: pinned certificate dates unreadable: mbedTLS decides")
        cfg.cert = (0, 0x7FFFFFFF)
    return cfg


# The pinned certificate's validity (clock.py), read once here: Certificate = SEQUENCE {
# tbsCertificate SEQUENCE { [0] version OPTIONAL, serial INTEGER, signature AlgorithmIdentifier,
# issuer Name, validity SEQUENCE { notBefore, notAfter } ... } ... }, each time a UTCTime
# (YYMMDDhhmmssZ, 1950-2049) or a GeneralizedTime (YYYYMMDDhhmmssZ).


def _days(y, m, d):
    # days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil)
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _tlv(der, i):
    # (tag, start of contents, end of contents) of the DER element at i
    tag = der[i]
    n = der[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if not 1 <= k <= 3:
            raise ValueError("DER length")
        n = 0
        for _ in range(k):
            n = (n << 8) | der[i]
            i += 1
    if i + n > len(der):
        raise ValueError("DER truncated")
    return tag, i, i + n


def _time(der, i):
    tag, s, e = _tlv(der, i)
    t = bytes(der[s:e])
    if tag == 0x17 and len(t) == 13:  # UTCTime
        y = int(t[0:2])
        y += 1900 if y >= 50 else 2000
        t = t[2:]
    elif tag == 0x18 and len(t) == 15:  # GeneralizedTime
        y = int(t[0:4])
        t = t[4:]
    else:
        raise ValueError("certificate time")
    if t[-1:] != b"Z":
        raise ValueError("certificate time zone")
    secs = int(t[4:6]) * 3600 + int(t[6:8]) * 60 + int(t[8:10])
    return _days(y, int(t[0:2]), int(t[2:4])) * 86400 + secs, e


def cert_validity(der):
    """(notBefore, notAfter) of a DER X.509 certificate, as Unix seconds; ValueError if it is
    not one."""
    try:
        _, s, _ = _tlv(der, 0)  # Certificate
        _, i, _ = _tlv(der, s)  # tbsCertificate
        if der[i] == 0xA0:  # [0] version
            i = _tlv(der, i)[2]
        for k in range(4):  # serial, signature, issuer: skipped; validity: entered
            tag, s, e = _tlv(der, i)
            i = s if k == 3 else e
        if tag != 0x30:
            raise ValueError("certificate validity")
        nb, i = _time(der, i)
        return nb, _time(der, i)[0]
    except IndexError:
        raise ValueError("DER truncated")


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
        UART(se["uart"], se["baud"], tx=se["tx"], rx=se["rx"], rxbuf=_UART_RXBUF),
        PWM(Pin(pins["buzzer"]), freq=2000, duty_u16=0),
        Pin(pins["led"], Pin.OUT, value=0),
        Pin(pins["key_back"], Pin.IN, Pin.PULL_UP),
        Pin(pins["key_ok"], Pin.IN, Pin.PULL_UP),
        # GM65 trigger input, active low: held low while OK is held (reads in command mode;
        # in manual mode the module's own button reads and this changes nothing)
        Pin(se["trigger"], Pin.OUT, value=1),
        network.WLAN(network.STA_IF),
    )


def show(board, tid):
    """Why the device does not start (text id `tid`, e.g. REVOKED / RETURN TO DEPOT), on its
    screen."""
    try:
        import display

        font(_DEFAULT_LANG)
        display.draw_lines(display.open_display(board["display"]),
                           [""] + display.text(tid).split("\n"))
    except Exception as e:  # no screen is no reason to hide the console's message
        print("sealscan: screen:", type(e).__name__)
