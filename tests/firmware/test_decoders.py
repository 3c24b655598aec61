# Decoder contracts under MicroPython: every scanned-code decoder answers malformed input with
# its documented error type (CodeError for codes), never TypeError/IndexError/KeyError.
# The structure-aware fuzz over all decoders is tests/sim/test_fuzz_decoders.py (host-driven).
from mpytest import raises


def test_cose_sign1_whose_header_map_is_an_integer_is_a_code_error():
    # [h'a10127', 0, h'', h''] zlib'd and base45'd: found by the fuzzer (issue 14, item 3);
    # idtoken.parse used to call len() on the integer.
    import idtoken
    from cbordec import CodeError

    with raises(CodeError):
        idtoken.parse(b"RNID1:6BFAQD9:BREL.IS000.L1+D0", 1000)


def test_cose_contract_types_every_field_before_anyone_reads_it():
    import cborenc
    from cbordec import CodeError, cose

    prot = b"\xa1\x01\x27"

    def msg(*items):
        out = cborenc.head(cborenc.ARRAY, len(items))
        for it in items:
            out += it
        return out

    def bstr(b):
        return cborenc.head(cborenc.BSTR, len(b)) + b

    good = msg(bstr(prot), b"\xa1\x04\x41k", bstr(b"payload"), bstr(bytes(64)))
    u, payload, sig = cose(good, prot, 64)
    assert u == {4: b"k"} and payload == b"payload" and sig == bytes(64)
    for bad in (msg(bstr(prot), b"\x00", bstr(b"p"), bstr(bytes(64))),       # header: int
                msg(bstr(prot), b"\x80", bstr(b"p"), bstr(bytes(64))),       # header: array
                msg(bstr(prot), b"\xa0", b"\x61p", bstr(bytes(64))),         # payload: text
                msg(bstr(prot), b"\xa0", bstr(b"p"), bstr(bytes(63))),       # short tag
                msg(b"\x63\xa1\x01\x27", b"\xa0", bstr(b"p"), bstr(bytes(64))),  # text prot
                msg(bstr(prot), b"\xa0", bstr(b"p")),                        # 3 items
                b"\x00"):
        with raises(CodeError):
            cose(bad, prot, 64)


def _utf8(cp):
    # a str made without interning (chr() would intern it as a qstr itself)
    b = bytes((0xE0 | cp >> 12, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F))
    return str(b, "utf-8")


def test_scanned_text_never_grows_the_interned_strings():
    # Looking at a str's characters one by one (for c in s, s[i], chr) interns each distinct
    # non-ASCII character as a qstr, which is never freed: hostile scans of ever new characters
    # would eat the heap for good. Waybills and base45 text are refused before that.
    import gc

    import base45
    import waybill

    def free_after(fn):
        fn()
        gc.collect()
        return gc.mem_free()

    def scans(start):
        def run():
            for cp in range(start, start + 1500):
                text = "SF" + _utf8(cp) * 13
                assert waybill.check("SF", text) == waybill.BAD_CHARS
                try:
                    base45.decode(bytes((0x41, 0x42, 0x80 + cp % 128)))
                except ValueError:
                    pass
        return run

    before = free_after(scans(0x4E00))  # warm-up: code paths, any one-time allocation
    after = free_after(scans(0x5400))
    assert after >= before - 256, (before, after)


_HIDE = 0x5A5A5A5A  # addresses kept XOR this: an int holding the address itself could
# keep the block alive (the GC is conservative about every word in the heap)


def _plant(canary):
    # in a function of its own, so no stale reference to the blocks stays on the caller's
    # stack
    import uctypes

    blocks = [bytearray(canary) for _ in range(32)]
    addrs = [uctypes.addressof(b) ^ _HIDE for b in blocks]
    blocks.clear()
    return addrs


def test_scrub_heap_zeroes_what_was_freed():
    # maintenance mode zeroes the free heap before it opens the console (app.py, bootload.py)
    import gc

    import uctypes
    from bootload import scrub_heap

    canary = b"11010519491231002X-CANARY" * 4
    addrs = _plant(canary)
    gc.collect()

    def holding():
        return [a for a in addrs if bytes(uctypes.bytearray_at(a ^ _HIDE, len(canary))) ==
                canary]

    assert holding(), "the freed blocks were all reused already: nothing to show"
    scrub_heap()
    assert holding() == []
