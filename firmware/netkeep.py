# The handheld's rarely run network steps, loaded for their use and released after
# (transient.py): joining Wi-Fi and looking the upstream's name up. handheld.App.net() calls
# them; each returns what the wifi task needs.
#
#   connect   WLAN.connect once: the IDF driver reconnects by itself, and a second connect()
#             while it is connecting raises OSError("Wifi Internal State Error"), logged
#   resolve   getaddrinfo blocks the loop (tens of ms; seconds while lwIP retries a resolver
#             that does not answer), so it runs when Wi-Fi comes up, every 10 min and 30 s
#             after a failure, never on an upload's path; a failure keeps the address found
#             before. Returns the ms until the next lookup.
from micropython import const

_REFRESH_MS = const(600_000)
_RETRY_MS = const(30_000)


def connect(app, log):
    try:
        app.wlan.connect(app.cfg.wifi_ssid, app.cfg.wifi_pass)
    except OSError as e:  # already connecting: the driver goes on by itself
        log("wifi connect:", e.args[0] if e.args else type(e).__name__)
    return 0


def resolve(app, log):
    import socket

    try:
        app.addr = socket.getaddrinfo(app.cfg.host, app.cfg.port)[0][-1][0]
    except (OSError, IndexError, TypeError) as e:
        log("DNS failed:", type(e).__name__)
    return _REFRESH_MS if app.addr else _RETRY_MS
