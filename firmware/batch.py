# The batch body (sealscan protocol v1, docs/protocol.md §5), streamed: the sealed records are
# sent straight from the queue, never copied into one big buffer (64 records can exceed the
# heap). Deterministic CBOR, keys in bytewise order:
#
#   a4
#     61 "v"    01
#     63 "dev"  <tstr device id>
#     63 "enc"  58 20 <enc 32>
#     64 "recs" <array(n)> ( 82 <uint i> <bstr sealed_i> )...     0 <= n <= 64
#                                           (0: asks only for a lease renewal, lease.py)
import cborenc
from cborenc import ARRAY, BSTR, TSTR, UINT
from micropython import const

MAX_RECORDS = const(64)
_V = b"\xa4\x61v\x01\x63dev"
_ENC = b"\x63enc\x58\x20"
_RECS = b"\x64recs"


def _check(items):
    if len(items) > MAX_RECORDS:
        raise ValueError("a batch holds 0-64 records")


def length(device_id, items):
    """Body length in bytes for Content-Length. items: [(index, sealed buffer)]."""
    _check(items)
    n = len(_V) + cborenc.string_len(device_id) + len(_ENC) + 32 + len(_RECS)
    n += cborenc.head_len(len(items))
    for i, sealed in items:
        n += 1 + cborenc.head_len(i) + cborenc.head_len(len(sealed)) + len(sealed)
    return n


def chunks(device_id, enc, items):
    """Yield the body as buffers (small heads, and the sealed records themselves)."""
    _check(items)
    if len(enc) != 32:
        raise ValueError("enc must be 32 bytes")
    yield _V
    yield cborenc.head(TSTR, len(cborenc.utf8(device_id)))
    yield cborenc.utf8(device_id)
    yield _ENC
    yield enc
    yield _RECS
    yield cborenc.head(ARRAY, len(items))
    for i, sealed in items:
        yield b"\x82" + cborenc.head(UINT, i) + cborenc.head(BSTR, len(sealed))
        yield sealed
