# Test-side helpers around the Sealer (never deployed): the bytes a queued record was sealed
# to, and the canonical answer body the upstream sends back (answer.py decodes it).
import cborenc
from cborenc import ARRAY, BSTR, MAP, TSTR, UINT


def sealed(s, index, enc=None):
    """The sealed bytes of the queued record `index` of session `enc` (default: current)."""
    slot = s._slot_of(enc if enc is not None else s.enc)
    for sl, i, mv in s.queue.entries():
        if sl == slot and i == index:
            return bytes(mv)
    raise KeyError(index)


def _text(s):
    b = s.encode()
    return cborenc.head(TSTR, len(b)) + b


def _map(m):
    out = cborenc.head(MAP, len(m))
    for k in sorted(m):
        out += cborenc.head(UINT, k) + _text(m[k])
    return out


def answer_body(ack, rej, ver, mac):
    """{"ack": ack, "mac": mac, "rej": rej, "ver": ver} in deterministic CBOR."""
    out = b"\xa4" + _text("ack") + cborenc.head(ARRAY, len(ack))
    for i in ack:
        out += cborenc.head(UINT, i)
    out += _text("mac") + cborenc.head(BSTR, len(mac)) + bytes(mac)
    return out + _text("rej") + _map(rej) + _text("ver") + _map(ver)
