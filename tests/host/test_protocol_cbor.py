"""Deterministic CBOR: the encoder writes RFC 8949 4.2.1 form, the strict decoder refuses
everything else with the caller's typed error."""

import pytest

from sealscan.protocol import cbor
from sealscan.protocol.errors import MalformedBatch


@pytest.mark.parametrize("value, encoded", [
    (0, "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (1023, "1903ff"),
    (65536, "1a00010000"), (1700000000, "1a6553f100"), (-1, "20"), (-65537, "3a00010000"),
    (b"", "40"), (b"\x01\x02", "420102"), ("", "60"), ("a", "6161"), ([], "80"),
    ({1: 30}, "a101181e"),
    # keys sort by their encoded bytes: 1, 4, 6 first, then the negative claim keys
    ({-65540: 0, 6: 0, -65537: 0, 1: 0, 4: 0},
     "a5010004000600" "3a0001000000" "3a0001000300"),
    ({"recs": 0, "v": 0, "enc": 0, "dev": 0}, "a461760063646576006365" "6e630064726563" "7300"),
])
def test_dumps_is_deterministic(value, encoded):
    assert cbor.dumps(value).hex() == encoded
    assert cbor.loads_strict(bytes.fromhex(encoded), MalformedBatch, "x") == value


@pytest.mark.parametrize("bad", [
    "",  # empty
    "0000",  # trailing byte
    "1800",  # 0 not in shortest form
    "190017",  # 23 in 3 bytes
    "9f01ff",  # indefinite array
    "5f4101ff",  # indefinite bytes
    "c11a00000001",  # tag 1 (epoch datetime)
    "c24101",  # tag 2 bignum decodes to an int: re-encoding differs
    "f4", "f6", "f93c00", "fb3ff0000000000000",  # false, null, floats
    "a2020101",  # keys out of order
    "a201010102",  # duplicate key
    "62c328",  # invalid UTF-8
    "5a00000010",  # byte string longer than the input
    "1c",  # reserved additional info
    "81" * 20 + "00",  # nesting deeper than v1 ever uses
    "81" * 100000 + "00",  # nesting deep enough to exhaust a recursive decoder
    "5bffffffffffffffff", "9bffffffffffffffff", "bbffffffffffffffff",  # huge lengths
    "9b00000000ffffffff" + "00" * 100, "7b7fffffffffffffff" + "61" * 100,
])
def test_loads_strict_refuses(bad):
    with pytest.raises(MalformedBatch):
        cbor.loads_strict(bytes.fromhex(bad), MalformedBatch, "x")


def test_loads_strict_refuses_non_bytes():
    with pytest.raises(MalformedBatch):
        cbor.loads_strict("a0", MalformedBatch, "x")
