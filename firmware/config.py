# Device configuration: wiring from /board.json (written by `sealscan deploy`) and provisioned
# keys and settings from NVS namespace "sealscan" (written by `sealscan provision`; see
# DEVICE.md). The only keys the application itself writes are the Wi-Fi/upstream settings of
# a valid RNCF1: config code (apply_config: and the UI language), nothing about records ever.
#
#   key            type  value
#   device_id      blob  1-32 chars A-Z a-z 0-9 . _ -
#   device_key     blob  32 bytes (HPKE PSK)            upstream_pk  blob  32 bytes (X25519)
#   upstream_url   blob  https://host:port              tls_cert     blob  DER (the pin)
#   badge_key      blob  32 bytes                       config_key   blob  32 bytes
#   carrier        blob  carrier code                   wifi_ssid, wifi_pass  blob
#   config_serial  i32   last applied config serial     provisioned  i32 = 1, written last
#   lang           blob  UI language "zh" or "en" (texts.LANGS); absent: "zh"
import esp32
import transient
from micropython import const

NAMESPACE = "sealscan"
_NOT_FOUND = const(-4354)  # ESP_ERR_NVS_NOT_FOUND


class ConfigError(Exception):
    pass


def load_board(path="board.json"):
    fresh = transient.loading("bootload")
    try:
        return _boot().load_board(path)
    finally:
        transient.release(fresh)


def _boot():
    # the boot-only code (bootload.py): loaded for one call, released by the caller's
    # transient.release
    import bootload

    return bootload


class Config:
    # device_id, device_key, upstream_pk, upstream_url, tls_cert, badge_key, config_key,
    # carrier, wifi_ssid, wifi_pass (str/bytes), config_serial, host, port: bootload.py
    # reads them from NVS (boot only, so that code is not resident)
    nvs: esp32.NVS
    device_id: str
    device_key: bytes
    upstream_pk: bytes
    upstream_url: str
    tls_cert: bytes
    badge_key: bytes
    config_key: bytes
    carrier: str
    lang: str
    wifi_ssid: str
    wifi_pass: str
    config_serial: int
    host: str
    port: int

    def __init__(self, nvs=None):
        fresh = transient.loading("bootload")
        try:
            _boot().read_config(self, nvs or esp32.NVS(NAMESPACE))
        finally:
            transient.release(fresh)

    def apply_config(self, ssid, password, url, serial, lang=None):
        """Store a verified config code's settings (and its serial, for replay checks)."""
        host, port = parse_url(url)
        n = self.nvs
        n.set_blob("wifi_ssid", ssid.encode())
        n.set_blob("wifi_pass", password.encode())
        n.set_blob("upstream_url", url.encode())
        n.set_i32("config_serial", serial)
        if lang is not None:
            n.set_blob("lang", lang.encode())
            self.lang = lang
        n.commit()
        self.wifi_ssid, self.wifi_pass, self.upstream_url = ssid, password, url
        self.config_serial = serial
        self.host, self.port = host, port


def parse_url(url):
    """("host", port) of https://host[:port][/] ; ConfigError otherwise."""
    if not url.startswith("https://"):
        raise ConfigError("upstream URL must start with https://")
    rest = url[8:]
    if rest.endswith("/"):
        rest = rest[:-1]
    if not rest or "/" in rest:
        raise ConfigError("upstream URL: scheme, host and port only")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "443")
    try:
        p = int(port)
    except ValueError:
        raise ConfigError("upstream URL: bad port")
    if not host or not 0 < p < 65536:
        raise ConfigError("upstream URL: bad host or port")
    return host, p
