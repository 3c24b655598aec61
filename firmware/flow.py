# The courier's flow on the handheld (docs/design.md: I3, I4):
#
#   LOGGED OUT --badge RNCB1: (MAC, expiry, carrier)--> READY
#   READY: identity RNID1: and waybill, in either order --> both held --> the app seals at once
#   config RNCF1: (MAC, expiry, serial) is accepted in any state and applied by the app
#
# Only masked identity text is kept here; the raw token waits in one preallocated bytearray
# until it is sealed (the sealer wipes it) or dropped (wiped). While the overdue alarm is up,
# new identity scans are refused (policy: the backlog must clear first).
import idtoken
import transient
import waybill
from cbordec import CodeError
from micropython import const
from wipe import wipe

LOGGED_OUT = const(0)
READY = const(1)

# what on_line() did
IGNORED = const(0)
LOGIN = const(1)
HELD = const(2)  # an identity or a waybill is held, the other is missing
CAPTURE = const(3)  # both are held: call take() and seal
CONFIG = const(4)  # a valid config code: call config_values
REFUSED = const(5)

# mac0.py handles these two (its BADGE_PREFIX, CONFIG_PREFIX); it is loaded only when one is
# scanned (a login per shift, a config code now and then) and released after (transient.py)
_BADGE_PREFIX = b"RNCB1:"
_CONFIG_PREFIX = b"RNCF1:"
_WAYBILL_REASONS = ("", "BAD CHARS", "NOT A WAYBILL", "CHECK DIGIT", "NO CARRIER")


class Flow:
    def __init__(self, badge_key, config_key, carrier, config_serial=0):
        self.badge_key = badge_key
        self.config_key = config_key
        self.carrier = carrier
        self.config_serial = config_serial  # the last config code applied (replay check)
        self.state = LOGGED_OUT
        self.courier = None
        self.courier_name = None
        self.identity = None  # idtoken.Identity (masked)
        self.token = bytearray(idtoken.MAX_TOKEN + len(idtoken.PREFIX))
        self.token_len = 0
        self.waybill = None
        self.message = "SCAN BADGE"
        self.config_values = None
        self.refused = 0

    def _refuse(self, why):
        self.message = why
        self.refused += 1
        return REFUSED

    def on_line(self, line, now, overdue=False):
        """Handle one scanned line (bytes-like). Returns one of the results above."""
        line = memoryview(line)
        try:
            if line[:6] == _CONFIG_PREFIX or line[:6] == _BADGE_PREFIX:
                return self._mac0_code(line, now)
            if self.state != READY:
                return self._refuse("LOG IN FIRST")
            if line[:6] == idtoken.PREFIX:
                if overdue:
                    return self._refuse("UPLOAD OVERDUE")
                ident = idtoken.parse(line, now)
                self.drop_identity()
                n = len(line)
                self.token[0:n] = line
                self.token_len = n
                self.identity = ident
            else:
                try:
                    text = str(line, "utf-8")
                except UnicodeError:
                    return self._refuse("UNREADABLE")
                r = waybill.check(self.carrier, text)
                if r != waybill.OK:
                    return self._refuse("WAYBILL: " + _WAYBILL_REASONS[r])
                self.waybill = text
        except CodeError as e:
            return self._refuse(_short(e))
        if self.identity is not None and self.waybill is not None:
            return CAPTURE
        self.message = "SCAN WAYBILL" if self.waybill is None else "SCAN ID"
        return HELD

    def _mac0_code(self, line, now):
        fresh = transient.loading("mac0")
        try:
            import mac0

            if line[:6] == _CONFIG_PREFIX:
                self.config_values = mac0.config(line, self.config_key, now,
                                                 self.config_serial)
                self.message = "CONFIG APPLIED"
                return CONFIG
            cid, name, carrier, _ = mac0.badge(line, self.badge_key, now)
        finally:
            transient.release(fresh)
        if carrier != self.carrier:
            return self._refuse("BADGE: CARRIER")
        self.logout()
        self.state = READY
        self.courier = cid
        self.courier_name = name
        self.message = "SCAN ID+WAYBILL"
        return LOGIN

    def take(self):
        """(token view, waybill) for sealing; the token buffer is wiped by the sealer when
        sealed as a bytearray, so hand it over as one and call sealed() afterwards."""
        return memoryview(self.token)[:self.token_len], self.waybill

    def sealed(self):
        self.drop_identity()
        self.waybill = None
        self.message = "SCAN ID+WAYBILL"

    def drop_identity(self):
        wipe(self.token)
        self.token_len = 0
        self.identity = None

    def cancel(self):
        """BACK: drop what is held; with nothing held, log out."""
        if self.identity is None and self.waybill is None:
            self.logout()
            return
        self.drop_identity()
        self.waybill = None
        self.message = "SCAN ID+WAYBILL"

    def logout(self):
        self.drop_identity()
        self.waybill = None
        self.state = LOGGED_OUT
        self.courier = None
        self.courier_name = None
        self.message = "SCAN BADGE"


def _short(e):
    s = e.args[0] if e.args else "REFUSED"
    return s.upper()[:16]
