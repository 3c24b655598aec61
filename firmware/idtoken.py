# Sender identity tokens: RNID1: + base45(zlib(COSE_Sign1)) (docs/protocol.md, scanned codes).
#
#   COSE_Sign1 = [h'a10127', {4: kid}, bstr claims, bstr signature(64)]   (untagged)
#   claims     = {1: issuer, 4: expiry, 6: issued-at, -65537: id type, -65538: id number,
#                 -65539: name, -65540: phone}
#
# The device checks structure, expiry, id type and the id number's check character, and keeps
# only masked text for the screen. It does not verify the Ed25519 signature: the upstream does
# and answers the verdict with the ack. The raw token (the scanned text) is what gets sealed.
#
# No plaintext residue: the token is decoded into two preallocated buffers (base45 output,
# zlib output), CBOR is read from them in place (cbordec views: no str or bytes copy of a
# claim) and masked from there; both buffers are wiped when parse() returns or raises, and the
# zlib window DeflateIO allocated (it holds the decompressed token too) is scrubbed
# (wipe.scrub). What is left is the masked text of an accepted token.
import gc
import io

import base45
import checkdigits
import deflate
import mask
from cbordec import DAMAGED, EXPIRED, CodeError, cose, decode, is_text, is_uint
from micropython import const
from wipe import scrub, wipe, wipe_stream

PREFIX = b"RNID1:"
MAX_TOKEN = const(768)  # scanned characters (Sealer.MAX_TOKEN)
_MAX_RAW = const(1024)  # decompressed COSE_Sign1
_WBITS = const(10)  # 2**10 = _MAX_RAW
_PROTECTED = b"\xa1\x01\x27"
_KEYS = [-65540, -65539, -65538, -65537, 1, 4, 6]
ID_TYPES = (11, 12, 16, 17, 18, 19, 20, 21)
# id types whose number carries a GB 11643 MOD 11-2 check character
_CHECKED = (11, 20, 21)

_zbuf = bytearray(_MAX_RAW + 1)
_b45buf = bytearray(MAX_TOKEN * 2 // 3 + 1)


class Identity:
    """What the device keeps of a scanned identity: masked text only."""

    def __init__(self, id_type, id_masked, name_masked, phone_masked, expires):
        self.id_type = id_type
        self.id_masked = id_masked
        self.name_masked = name_masked
        self.phone_masked = phone_masked
        self.expires = expires


def check_id_number(id_type, number):
    """`number`: the id number's ASCII bytes (a view into the decode buffer)."""
    if id_type not in ID_TYPES:
        raise CodeError("unknown id type")
    if not 1 <= len(number) <= 32:
        raise CodeError("id number length")
    for c in number:
        if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122):  # 0-9 A-Z a-z
            raise CodeError("id number characters")
    if id_type in _CHECKED:
        if not checkdigits.resident_id(number):
            raise CodeError("id number check character wrong")
        if id_type == 20 and not (number[0] == 56 and 49 <= number[1] <= 51):  # 81 82 83
            raise CodeError("residence permit prefix")
        if id_type == 21 and number[0] != 57:  # 9
            raise CodeError("permanent residence id prefix")


def _inflate(line):
    n = len(line) - len(PREFIX)
    if not 1 <= n <= MAX_TOKEN:
        raise CodeError("identity token length")
    try:
        k = base45.decode_into(memoryview(line)[len(PREFIX):], _b45buf)
    except ValueError:
        raise CodeError("not base45")
    src = io.BytesIO(memoryview(_b45buf)[:k])
    got = 0
    try:
        # A 1 KiB window (wbits 10), not the 32 KiB the header may ask for: the output is at
        # most 1 KiB, so no back-reference can reach further.
        z = deflate.DeflateIO(src, deflate.ZLIB, _WBITS)
        mv = memoryview(_zbuf)
        while got < len(_zbuf):
            r = z.readinto(mv[got:])
            if not r:
                break
            got += r
    except (OSError, ValueError, EOFError):
        raise CodeError("not zlib data")
    finally:
        used = src.tell()
        wipe_stream(src, k)  # BytesIO made its own copy of the zlib stream
        z = None  # type: ignore[assignment]
        # the window (up to 2**_WBITS bytes, never more than the header's) now is garbage
        # holding what was decompressed: free it and zero that memory
        gc.collect()
        scrub(1 << _WBITS)
    if got > _MAX_RAW:
        raise CodeError("identity token too large")
    if used != k:  # the zlib stream (checksum included) must be all there is
        raise CodeError("data after the zlib stream")
    return memoryview(_zbuf)[:got]


def parse(line, now):
    """Identity (masked) of a scanned RNID1: line (bytes); CodeError if it is malformed,
    expired, or its id number is implausible. The decode buffers are wiped either way."""
    try:
        return _parse(line, now)
    finally:
        wipe(_b45buf)
        wipe(_zbuf)


def _parse(line, now):
    try:
        data = _inflate(line)
    except CodeError:  # base45 or zlib broken: a damaged read (UART overrun, a smudge)
        raise CodeError("damaged", DAMAGED)  # nothing was kept: the courier scans it again
    # CBOR broken: damaged too; a well-formed CBOR item that is no COSE_Sign1 is invalid
    u, payload, _ = cose(data, _PROTECTED, 64, True, "COSE_Sign1", DAMAGED)
    kid = u.get(4)
    if len(u) != 1 or not isinstance(kid, memoryview) or not 1 <= len(kid) <= 16:
        raise CodeError("COSE_Sign1 fields")
    c = decode(payload, True)
    if not isinstance(c, dict) or sorted(c) != _KEYS:
        raise CodeError("identity claims")
    id_type = c[-65537]
    number = c[-65538]
    name = c[-65539]
    phone = c[-65540]
    if not (is_text(c[1], 64) and is_uint(c[4]) and is_uint(c[6]) and is_uint(id_type)
            and is_text(number, 32) and is_text(name, 64) and is_text(phone, 20)):
        raise CodeError("identity claim types")
    if now >= c[4]:
        raise CodeError("identity token expired", EXPIRED)
    check_id_number(id_type, number[0])
    try:
        return Identity(id_type, mask.id_number(number[0]), mask.name(name[0]),
                        mask.phone(phone[0]), c[4])
    except UnicodeError:  # what stays visible does not decode
        raise CodeError("text is not UTF-8")
