# network for the sealsim simulator. The harness decides whether an access point is in range
# (Wi-Fi on/off); traffic goes over real loopback sockets through the socket shim.
#
# The station behaves as the esp32 port's driver (ports/esp32/network_wlan.c): connect()
# asks the IDF driver to connect and returns; the link is up `wifi_assoc` ms (ESP32 speed
# model) after the AP is in range; while a connect is requested and not up, the driver
# retries by itself (reconnects default: forever), status() is STAT_CONNECTING or
# STAT_NO_AP_FOUND, and another connect() raises OSError("Wifi Internal State Error")
# (esp_wifi_connect's ESP_ERR_WIFI_STATE); disconnect() ends the request.
import _simlink
import utime

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
STAT_BEACON_TIMEOUT = 200
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
MODE_11B = 1
MODE_11G = 2
MODE_11N = 4

_hostname = "mpy-esp32"
# The AP generation (Device's Wi-Fi on/off count) and ticks_ms at which the driver first saw
# the AP in range; -1: not in range. Module ints, not object state: objects the firmware
# makes live on its heap here (native on a board), so the shim keeps nothing on them.
_seen_gen = -1
_seen_at = 0


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


class WLAN:
    IF_STA = 0
    IF_AP = 1
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface_id=0):
        self._if = interface_id
        self._active = False
        self._ssid = None
        self._cfg = {"reconnects": -1, "pm": 1, "txpower": 20}

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        if not self._active:
            self._ssid = None
        return None

    def _ap(self):
        return _simlink.query("wifi").split(":")[0] == "1"

    def _up(self):
        # the AP is in range and the driver has had time to associate with it since it
        # appeared (or since connect())
        global _seen_gen, _seen_at
        w = _simlink.query("wifi")
        if w[0] != "1":
            _seen_gen = -1
            return False
        gen = int(w[2:])
        now = utime.ticks_ms()
        if gen != _seen_gen:
            _seen_gen, _seen_at = gen, now
        return utime.ticks_diff(now, _seen_at) >= int(_simlink.query("cost wifi_assoc"))

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        if self._ssid is not None and not self._up():
            raise OSError("Wifi Internal State Error")  # still connecting
        global _seen_gen
        self._ssid = ssid
        _seen_gen = -1

    def disconnect(self):
        global _seen_gen
        self._ssid = None
        _seen_gen = -1

    def isconnected(self):
        return self._active and self._ssid is not None and self._up()

    def status(self, param=None):
        if param == "rssi":
            if not self.isconnected():
                raise OSError("STA is not connected")
            return -55
        if param is not None:
            raise ValueError("unknown status param")
        if not self._active or self._ssid is None:
            return STAT_IDLE
        if self._up():
            return STAT_GOT_IP
        return STAT_CONNECTING if self._ap() else STAT_NO_AP_FOUND

    def ifconfig(self, ip_mask_gateway_dns=None):
        if ip_mask_gateway_dns is not None:
            return None
        if self.isconnected():
            return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def ipconfig(self, *args, **kwargs):
        if args and args[0] == "addr4":
            return self.ifconfig()[:2]
        return None

    def scan(self):
        if not self._active:
            raise OSError("Wifi Not Started")
        if not self._ap():
            return []
        return [(b"sealsim-ap", b"\x02\x00\x00\x00\x00\x01", 6, -55, AUTH_WPA2_PSK, False)]

    def config(self, *args, **kwargs):
        if kwargs:
            self._cfg.update(kwargs)
            return None
        key = args[0]
        if key == "mac":
            return bytes.fromhex(_simlink.query("mac"))
        if key == "ssid":
            return self._ssid or ""
        if key == "hostname":
            return _hostname
        if key in self._cfg:
            return self._cfg[key]
        raise ValueError("unknown config param")
