"""ESP32 speed model: how long blocking native calls hold the interpreter on a board.

While one of these runs on an ESP32 the MicroPython VM does nothing else (no asyncio task,
no UART read), and the scan engine keeps sending into the UART driver's ring buffer. The
shims ask the supervisor (`cost OP` on the bus) and sleep that long at the point where the
board's C code would run; `Device.speed` scales the table (1.0: an ESP32 at 160 MHz, the
default; 0: host speed, nothing added). Sources and reasoning per row are in
docs/simulator.md, "ESP32 speed".
"""

from __future__ import annotations

from collections.abc import Callable

# milliseconds on an ESP32 (160 MHz, no PSRAM), per operation
ESP32_MS: dict[str, float] = {
    # mbedTLS client handshake, ECDHE-ECDSA P-256 (the upstream's certificate): ECDHE key
    # generation + shared secret + two ECDSA verifies, in C, in one piece after the
    # server's first flight arrives
    "tls_handshake": 1000.0,
    # lwIP getaddrinfo answered by the access point's resolver
    "dns": 30.0,
    # lwIP getaddrinfo with no answer: DNS_MAX_RETRIES (4) tries driven by the 1 s DNS
    # timer (lwIP dns.c), several seconds in all
    "dns_timeout": 5000.0,
    # ntptime.time(): lookup + one UDP round trip on the LAN
    "ntp": 40.0,
    # ntptime.time() with no answer: its socket timeout (ntptime.timeout = 1 s)
    "ntp_timeout": 1000.0,
    # esp_wifi_connect() to an AP in range: scan + auth + assoc + DHCP (not blocking: the
    # driver works in its own task; WLAN.isconnected() turns True after this)
    "wifi_assoc": 1500.0,
}


class SpeedModel:
    """The part that answers the shims' `cost OP` query (bus): the ms the call blocks at
    `scale`; each block is logged (`blocking OP N ms`) so a test can act while it lasts."""

    def __init__(self, event: Callable[[str], None], scale: float = 1.0):
        self.event = event
        self.scale = scale

    def set(self, scale: float) -> None:
        self.scale = float(scale)

    def query_cost(self, words: list[str]) -> bytes:
        ms = cost_ms(words[1], self.scale)
        if words[1] != "wifi_assoc":  # the driver's own time, not a block
            self.event(f"blocking {words[1]} {ms} ms")
        return str(ms).encode()


def cost_ms(op: str, scale: float) -> int:
    """Milliseconds `op` blocks at `scale` (unknown operations cost nothing)."""
    if scale <= 0:
        return 0
    return int(ESP32_MS.get(op, 0.0) * scale)


class DeviceClock:
    """The device's own time, from the 30-bit microsecond stamps the shims put on pin and bus
    writes (machine._now). Writes arrive in order, so each stamp is later than the one before:
    the wrap (every ~18 min) is undone by adding the difference modulo 2^30."""

    _PERIOD = 1 << 30

    def __init__(self) -> None:
        self._last: int | None = None
        self._us = 0

    def at(self, stamp: int) -> float:
        """Seconds since the first stamp seen, for this stamp."""
        if self._last is not None:
            self._us += (stamp - self._last) % self._PERIOD
        self._last = stamp
        return self._us / 1e6
