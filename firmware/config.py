# Device configuration: provisioned keys and settings from NVS namespace "sealscan" (written
# by `sealscan provision`, read at boot by bootload.read_config; the contract is
# docs/device.md). The only keys the application itself writes are the Wi-Fi/upstream
# settings and the UI language of a valid RNCF1: config code (apply_config), nothing about
# records ever.
#
#   key            type  value
#   device_id      blob  1-32 chars A-Z a-z 0-9 . _ -
#   device_key     blob  32 bytes (HPKE PSK)            upstream_pk  blob  32 bytes (X25519)
#   upstream_url   blob  https://host:port              tls_cert     blob  DER (the pin)
#   badge_key      blob  32 bytes                       config_key   blob  32 bytes
#   carrier        blob  carrier code                   wifi_ssid, wifi_pass  blob
#   config_serial  i32   last applied config serial     provisioned  i32 = 1, written last
#   lang           blob  UI language "zh" or "en" (texts.LANGS); absent: "zh"
NAMESPACE = "sealscan"


class ConfigError(Exception):
    pass


class Config:
    cert: tuple  # (notBefore, notAfter) of tls_cert, Unix s: bootload sets it (clock.py)

    # Built by bootload.read_config (boot only, so the NVS reading code is not resident)
    def __init__(self, nvs, device_id, device_key, upstream_pk, upstream_url, tls_cert,
                 badge_key, config_key, carrier, wifi_ssid, wifi_pass, config_serial, lang):
        self.nvs = nvs  # esp32.NVS(NAMESPACE): apply_config writes through it
        self.device_id = device_id
        self.device_key = device_key
        self.upstream_pk = upstream_pk
        self.upstream_url = upstream_url
        self.tls_cert = tls_cert
        self.badge_key = badge_key
        self.config_key = config_key
        self.carrier = carrier
        self.wifi_ssid = wifi_ssid
        self.wifi_pass = wifi_pass
        self.config_serial = config_serial
        self.lang = lang  # "zh" or "en"
        self.host, self.port = parse_url(upstream_url)

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
