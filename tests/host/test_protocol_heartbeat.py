"""Heartbeat vectors (docs/vectors/heartbeat/heartbeat-v1.json, protocol 5.1): the host
encodes each body byte for byte, verifies each MAC, and refuses each invalid body with the
named error."""

import json

import pytest

from sealscan.protocol import BadAckMac, ProtocolError, vectors
from sealscan.protocol import heartbeat as hb

V = json.loads((vectors.VECTORS_DIR / "heartbeat" / "heartbeat-v1.json").read_text())
ACK_KEY, ENC = bytes.fromhex(V["ack_key"]), bytes.fromhex(V["enc"])


@pytest.mark.parametrize("beat", V["beats"], ids=lambda b: f"seq{b['seq']}")
def test_vector_heartbeats_encode_and_verify(beat):
    body = hb.encode_heartbeat(V["device_id"], ENC, ACK_KEY, beat["seq"], beat["t"], beat["q"])
    assert body.hex() == beat["body"]
    got = hb.decode_heartbeat(body)
    assert (got.seq, got.time, got.queued, got.mac.hex()) == (beat["seq"], beat["t"],
                                                               beat["q"], beat["mac"])
    hb.verify_heartbeat(got, ACK_KEY)
    assert hb.heartbeat_ack_mac(ACK_KEY, ENC, beat["seq"]).hex() == beat["ack_mac"]


@pytest.mark.parametrize("case", V["invalid"], ids=lambda c: c["reason"])
def test_vector_invalid_heartbeats_are_refused(case):
    errors = {"BadAckMac": BadAckMac, "MalformedHeartbeat": hb.MalformedHeartbeat}
    with pytest.raises(errors[case["error"]]):
        hb.verify_heartbeat(hb.decode_heartbeat(bytes.fromhex(case["body"])), ACK_KEY)


@pytest.mark.parametrize("bad", [b"", b"\xa0", b"\xff" * 40, b"\xa7" + b"\x00" * 20])
def test_garbage_is_a_protocol_error(bad):
    with pytest.raises(ProtocolError):
        hb.decode_heartbeat(bad)
