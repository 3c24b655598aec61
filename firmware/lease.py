# Key lease (docs/protocol.md 6.2): every answer whose MAC verifies renews it. Its age is the
# later of the monotonic and the wall-clock time since the last renewal (or boot), so a wall
# clock stepped back never makes it younger; the monotonic part is accumulated tick by tick,
# so it outlives ticks_ms wrapping. States latch until the next renewal:
#
#   OK      scanning as usual
#   REFUSE  age >= lease_s: new identities refused ("NO ACK FOR LEASE"), uploads go on
#   WIPE    age >= lease_wipe_s: the keys are wiped as on a revocation (revoke.py)
#
#   NVS  lease_s i32, lease_wipe_s i32: seconds, written by `sealscan provision`; absent or 0:
#        no lease (the device never refuses or wipes for want of an ack)
import time

from micropython import const

OK = const(0)
REFUSE = const(1)
WIPE = const(2)
_CLOCK_SET_UNIX = const(1704067200)  # 2024-01-01: before that the wall clock is not set
_NOT_FOUND = const(-4354)  # ESP_ERR_NVS_NOT_FOUND


def _i32(nvs, key):
    try:
        return nvs.get_i32(key)
    except OSError as e:
        if e.args and e.args[0] == _NOT_FOUND:
            return 0
        raise


class Lease:
    def __init__(self, length_s, wipe_s, unix, clock=None):
        self.length_s = length_s
        self.wipe_s = wipe_s
        self._clock = clock or time.ticks_ms  # tests pass their own
        self.renew(unix)

    @classmethod
    def from_nvs(cls, nvs, unix):
        return cls(_i32(nvs, "lease_s"), _i32(nvs, "lease_wipe_s"), unix)

    def renew(self, unix):
        """An authenticated answer arrived (or the device booted): the lease starts again."""
        self._last_ms = self._clock()
        self._mono_ms = 0
        self._unix = unix if unix >= _CLOCK_SET_UNIX else None
        self.state = OK

    def age_s(self, unix):
        now = self._clock()
        self._mono_ms += time.ticks_diff(now, self._last_ms)
        self._last_ms = now
        age = self._mono_ms // 1000
        if self._unix is not None and unix >= _CLOCK_SET_UNIX:
            age = max(age, unix - self._unix)
        return age

    def check(self, unix):
        """OK, REFUSE or WIPE; a state reached stays until renew()."""
        if self.length_s <= 0:
            return OK
        age = self.age_s(unix)
        if self.wipe_s > 0 and age >= self.wipe_s:
            self.state = WIPE
        elif age >= self.length_s and self.state == OK:
            self.state = REFUSE
        return self.state

    def wants_renewal(self, unix):
        """Half the lease gone without an ack: ask for one even with nothing to upload."""
        return self.length_s > 0 and (self.state != OK or self.age_s(unix) * 2 >= self.length_s)
