# Device configuration: wiring from /board.json (written by `sealscan deploy`) and provisioned
# keys and settings from NVS namespace "sealscan" (written by `sealscan provision`; see
# DEVICE.md). The only keys the application itself writes are the Wi-Fi/upstream settings of
# a valid RNCF1: config code (apply_config), nothing about records ever.
#
#   key            type  value
#   device_id      blob  1-32 chars A-Z a-z 0-9 . _ -
#   device_key     blob  32 bytes (HPKE PSK)            upstream_pk  blob  32 bytes (X25519)
#   upstream_url   blob  https://host:port              tls_cert     blob  DER (the pin)
#   badge_key      blob  32 bytes                       config_key   blob  32 bytes
#   carrier        blob  carrier code                   wifi_ssid, wifi_pass  blob
#   config_serial  i32   last applied config serial     provisioned  i32 = 1, written last
import json

import esp32
from micropython import const

NAMESPACE = "sealscan"
_NOT_FOUND = const(-4354)  # ESP_ERR_NVS_NOT_FOUND
_BUF = const(2048)  # the largest blob (tls_cert DER)


class ConfigError(Exception):
    pass


def load_board(path="board.json"):
    with open(path) as f:
        return json.load(f)


class Config:
    def __init__(self, nvs=None):
        self.nvs = nvs or esp32.NVS(NAMESPACE)
        buf = bytearray(_BUF)
        try:
            if self.nvs.get_i32("provisioned") != 1:
                raise ConfigError("not provisioned")
        except OSError:
            raise ConfigError("not provisioned")
        self.device_id = self._text(buf, "device_id")
        self.device_key = self._blob(buf, "device_key", 32)
        self.upstream_pk = self._blob(buf, "upstream_pk", 32)
        self.upstream_url = self._text(buf, "upstream_url")
        self.tls_cert = self._blob(buf, "tls_cert")
        self.badge_key = self._blob(buf, "badge_key", 32)
        self.config_key = self._blob(buf, "config_key", 32)
        self.carrier = self._text(buf, "carrier")
        self.wifi_ssid = self._text(buf, "wifi_ssid", True)
        self.wifi_pass = self._text(buf, "wifi_pass", True)
        try:
            self.config_serial = self.nvs.get_i32("config_serial")
        except OSError:
            self.config_serial = 0
        self.host, self.port = parse_url(self.upstream_url)

    def _blob(self, buf, key, size=0, optional=False):
        try:
            n = self.nvs.get_blob(key, buf)
        except OSError:
            if optional:
                return b""
            raise ConfigError("NVS key missing: " + key)
        if size and n != size:
            raise ConfigError("NVS key %s: %d bytes, want %d" % (key, n, size))
        return bytes(buf[:n])

    def _text(self, buf, key, optional=False):
        try:
            return str(self._blob(buf, key, 0, optional), "utf-8")
        except UnicodeError:
            raise ConfigError("NVS key %s: not UTF-8" % key)

    def apply_config(self, ssid, password, url, serial):
        """Store a verified config code's settings (and its serial, for replay checks)."""
        host, port = parse_url(url)
        n = self.nvs
        n.set_blob("wifi_ssid", ssid.encode())
        n.set_blob("wifi_pass", password.encode())
        n.set_blob("upstream_url", url.encode())
        n.set_i32("config_serial", serial)
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
