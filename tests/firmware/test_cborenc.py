# The firmware's hand-written CBOR heads against RFC 8949 Appendix A examples.
from binascii import unhexlify

from mpytest import raises


def test_rfc8949_appendix_a_heads():
    import cborenc

    cases = [
        (cborenc.UINT, 0, "00"), (cborenc.UINT, 23, "17"), (cborenc.UINT, 24, "1818"),
        (cborenc.UINT, 100, "1864"), (cborenc.UINT, 1000, "1903e8"),
        (cborenc.UINT, 1000000, "1a000f4240"), (cborenc.UINT, 1000000000000,
                                                "1b000000e8d4a51000"),
        (cborenc.UINT, 18446744073709551615, "1bffffffffffffffff"),
        (cborenc.ARRAY, 25, "9819"), (cborenc.MAP, 2, "a2"), (cborenc.BSTR, 4, "44"),
    ]
    for major, n, enc in cases:
        assert cborenc.head(major, n) == unhexlify(enc), (n, enc)
        assert cborenc.head_len(n) == len(enc) // 2
    with raises(cborenc.CborError):
        cborenc.head(cborenc.UINT, 1 << 64)
    with raises(cborenc.CborError):
        cborenc.head(cborenc.UINT, -1)


def test_strings_are_their_utf8_bytes():
    import cborenc

    buf = bytearray(16)
    n = cborenc.put_string(buf, 0, cborenc.TSTR, "\u6c34")  # RFC 8949: "水" = 63e6b0b4
    assert buf[:n] == unhexlify("63e6b0b4")
    n = cborenc.put_string(buf, 0, cborenc.BSTR, b"\x01\x02\x03\x04")
    assert buf[:n] == unhexlify("4401020304")
    assert cborenc.string_len("\u00fc") == 3  # "ü" = 62c3bc
