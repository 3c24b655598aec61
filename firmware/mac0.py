# Courier badges (RNCB1:) and configuration codes (RNCF1:): base45(COSE_Mac0), HMAC 256/256.
#
#   COSE_Mac0 = [h'a10105', {}, bstr payload, bstr tag(32)]      (untagged array)
#   tag       = HMAC-SHA256(key, CBOR ["MAC0", h'a10105', h'', payload])
#   badge     payload {1: courier id, 2: display name, 3: carrier, 4: expiry}
#   config    payload {1: Wi-Fi SSID, 2: Wi-Fi password, 3: upstream URL, 4: expiry, 5: serial,
#                      6: UI language "zh" / "en" (optional)}
import base45
import cborenc
import hmac256
from cbordec import EXPIRED, REPLAYED, CodeError, cose, decode, is_text, is_uint
from cborenc import ARRAY, BSTR, TSTR
from hmac256 import equal

BADGE_PREFIX = b"RNCB1:"
CONFIG_PREFIX = b"RNCF1:"
_PROTECTED = b"\xa1\x01\x05"


def _open(line, prefix, key, nkeys, optional=False):
    try:
        raw = base45.decode(memoryview(line)[len(prefix):])
    except ValueError:
        raise CodeError("not base45")
    unprotected, payload, mac = cose(raw, _PROTECTED, 32, False, "COSE_Mac0")
    if unprotected:
        raise CodeError("not a COSE_Mac0")
    h = hmac256.Hmac().key(key)
    try:
        s = h.begin()
        s.update(cborenc.head(ARRAY, 4))
        s.update(cborenc.head(TSTR, 4) + b"MAC0")
        s.update(cborenc.head(BSTR, 3) + _PROTECTED)
        s.update(cborenc.head(BSTR, 0))
        s.update(cborenc.head(BSTR, len(payload)))
        s.update(payload)
        tag = h.finish(s)
    finally:
        h.wipe()
    if not equal(tag, mac):
        raise CodeError("MAC does not verify")
    m = decode(payload)
    if not isinstance(m, dict) or sorted(m) != list(range(1, nkeys + 1)) and not (
            optional and sorted(m) == list(range(1, nkeys + 2))):
        raise CodeError("payload keys")
    return m


def badge(line, key, now):
    """(courier id, display name, carrier, expiry) of a valid, unexpired badge."""
    m = _open(line, BADGE_PREFIX, key, 4)
    if not (is_text(m[1], 32) and is_text(m[2], 32) and is_text(m[3], 16) and is_uint(m[4])):
        raise CodeError("badge fields")
    if now >= m[4]:
        raise CodeError("badge expired", EXPIRED)
    return m[1], m[2], m[3], m[4]


def config(line, key, now, last_serial):
    """(ssid, password, upstream url, serial, language or None) of a valid config code newer
    than last_serial."""
    m = _open(line, CONFIG_PREFIX, key, 5, True)
    if not (is_text(m[1], 32) and isinstance(m[2], str) and len(m[2]) <= 64
            and is_text(m[3], 200) and is_uint(m[4]) and is_uint(m[5])
            and m.get(6, "zh") in ("zh", "en")):
        raise CodeError("config fields")
    if now >= m[4]:
        raise CodeError("config code expired", EXPIRED)
    if m[5] <= last_serial:
        raise CodeError("config code replayed", REPLAYED)
    if not m[3].startswith("https://"):
        raise CodeError("upstream URL must be https")
    return m[1], m[2], m[3], m[5], m.get(6)
