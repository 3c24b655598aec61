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
import texts as T
import transient
import waybill
from cbordec import DAMAGED, EXPIRED, REPLAYED, CodeError
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
# waybill.check() result -> what the courier is told (texts.py)
_WAYBILL_TEXTS = (T.SCAN_BOTH, T.NOT_WAYBILL, T.NOT_WAYBILL, T.WAYBILL_MISREAD, T.NO_CARRIER,
                  T.OTHER_CARRIER)


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
        self.message = T.SCAN_BADGE  # a text id (texts.py): what the screen tells the courier
        self.config_values = None
        self.refused = 0

    def _refuse(self, tid):
        self.message = tid
        self.refused += 1
        return REFUSED

    def on_line(self, line, now, overdue=False):
        """Handle one scanned line (bytes-like). Returns one of the results above."""
        line = memoryview(line)
        try:
            if line[:6] == _CONFIG_PREFIX or line[:6] == _BADGE_PREFIX:
                return self._mac0_code(line, now)
            if self.state != READY:
                return self._refuse(T.LOGIN_FIRST)
            if self.identity is not None and self.waybill is not None:
                # a capture is held (no session, no queue space, no clock yet): a new code
                # would pair with half of it. The courier waits, or cancels it with BACK.
                return self._refuse(T.WAIT_NETWORK)
            if line[:6] == idtoken.PREFIX:
                if overdue:
                    return self._refuse(T.OVERDUE_NO_ID)
                try:
                    ident = idtoken.parse(line, now)
                except CodeError as e:  # args: reason[, kind] (cbordec)
                    k = e.args[-1]
                    return self._refuse(T.ID_EXPIRED if k == EXPIRED else
                                        T.UNREADABLE if k == DAMAGED else T.ID_INVALID)
                self.drop_identity()
                n = len(line)
                self.token[0:n] = line
                self.token_len = n
                self.identity = ident
            else:
                try:
                    text = str(line, "utf-8")
                except UnicodeError:
                    return self._refuse(T.UNREADABLE)
                r = waybill.check(self.carrier, text)
                if r != waybill.OK:
                    return self._refuse(_WAYBILL_TEXTS[r])
                self.waybill = text
        except CodeError:
            return self._refuse(T.UNREADABLE)
        if self.identity is not None and self.waybill is not None:
            return CAPTURE
        self.message = T.SCAN_WAYBILL if self.waybill is None else T.SCAN_ID
        return HELD

    def _mac0_code(self, line, now):
        config = line[:6] == _CONFIG_PREFIX
        fresh = transient.loading("mac0")
        try:
            import mac0

            if config:
                self.config_values = mac0.config(line, self.config_key, now,
                                                 self.config_serial)
                self.message = T.CONFIG_APPLIED
                return CONFIG
            cid, name, carrier, _ = mac0.badge(line, self.badge_key, now)
        except CodeError as e:
            k = e.args[-1]  # the kind, if the refusal has one (cbordec)
            if config:
                return self._refuse(T.CONFIG_USED if k == REPLAYED else T.CONFIG_INVALID)
            return self._refuse(T.BADGE_EXPIRED if k == EXPIRED else T.BADGE_INVALID)
        finally:
            transient.release(fresh)
        if carrier != self.carrier:
            return self._refuse(T.BADGE_OTHER_CARRIER)
        self.logout()
        self.state = READY
        self.courier = cid
        self.courier_name = name
        self.message = T.SCAN_BOTH
        return LOGIN

    def take(self):
        """(token view, waybill) for sealing; the token buffer is wiped by the sealer when
        sealed as a bytearray, so hand it over as one and call sealed() afterwards."""
        return memoryview(self.token)[:self.token_len], self.waybill

    def sealed(self):
        self.drop_identity()
        self.waybill = None
        self.message = T.SCAN_BOTH

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
        self.message = T.CANCELLED

    def logout(self):
        self.drop_identity()
        self.waybill = None
        self.state = LOGGED_OUT
        self.courier = None
        self.courier_name = None
        self.message = T.SCAN_BADGE

