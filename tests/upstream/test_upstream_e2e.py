"""Real HTTPS end to end: devices seal with the host sealer, the upstream acks only what it
stored, exactly once."""

import os
import ssl
import time

import cbor2
import pytest
from upkit import (
    ServerThread,
    client_for,
    inserts_fail,
    make_state,
    record,
    register,
    stored_count,
)

from sealscan.protocol import BadAckMac, SenderSession
from sealscan.upstream.client import BatchClient, pinned_ssl_context
from sealscan.upstream.config import make_tls_cert
from sealscan.upstream.errors import UpstreamConfigError
from sealscan.upstream.registry import open_store


def test_batch_over_tls_is_acked_and_stored(cfg, devices, server):
    dev = devices[0]
    sealed = dev.seal([record() for _ in range(16)])
    status, data = server.client().post_batch(dev.body(sealed))
    assert status == 200
    ans = dev.answer(data)  # MAC verifies under the session ack key
    assert ans.ack == list(range(16)) and ans.rej == {}
    assert set(ans.ver) == set(range(16))
    assert stored_count(cfg, "dev-a") == 16
    store = open_store(cfg)
    (enc, first), *_ = store.load_records("dev-a")
    store.close()
    assert enc == dev.session.enc and first.sealed == sealed[0][1]
    assert first.waybill == "SF1234567890123" and first.identity_token.startswith(b"RNID1:")


def test_same_batch_twice_is_stored_once(cfg, devices, server):
    dev = devices[0]
    body = dev.body(dev.seal([record() for _ in range(8)]))
    client = server.client()
    answers = [dev.answer(client.post_batch(body)[1]) for _ in range(2)]
    assert answers[0].ack == answers[1].ack == list(range(8))
    assert answers[0].ver == answers[1].ver
    assert stored_count(cfg) == 8


def test_lost_answer_retried_with_more_records(cfg, devices, server):
    # The answer to the first batch never reaches the device; it retries those records
    # together with new ones, in another order: each stored once, all acked.
    dev = devices[0]
    first = dev.seal([record() for _ in range(5)])
    client = server.client()
    status, _lost = client.post_batch(dev.body(first))
    assert status == 200 and stored_count(cfg) == 5
    more = dev.seal([record() for _ in range(3)])
    ans = dev.answer(client.post_batch(dev.body(list(reversed(first + more))))[1])
    assert ans.ack == list(range(8))
    assert stored_count(cfg) == 8
    assert open_store(cfg).device_stats()[0].duplicates == 5


def test_answer_mac_binds_the_session(cfg, devices, server):
    # An answer for one session does not verify in another: a device cannot be fooled into
    # dropping records by an answer meant for someone else.
    a, b = devices
    a.seal([record()])
    b.seal([record()])
    data = server.client().post_batch(b.body(b.seal([record()])))[1]
    with pytest.raises(BadAckMac):
        a.answer(data)


def test_new_session_same_indices_are_new_records(cfg, devices, server):
    dev = devices[0]
    client = server.client()
    dev.answer(client.post_batch(dev.body(dev.seal([record(), record()])))[1])
    dev.new_session()
    ans = dev.answer(client.post_batch(dev.body(dev.seal([record(), record()])))[1])
    assert ans.ack == [0, 1]
    assert stored_count(cfg) == 4


def test_partly_bad_batch_rejects_only_the_bad_record(cfg, devices, server):
    dev = devices[0]
    sealed = dev.seal([record() for _ in range(3)])
    i, s = sealed[1]
    sealed[1] = (i, s[:-1] + bytes([s[-1] ^ 1]))  # tag no longer verifies
    ans = dev.answer(server.client().post_batch(dev.body(sealed))[1])
    assert ans.ack == [0, 2] and ans.rej == {1: "decrypt"}
    assert stored_count(cfg) >= 2  # before the revocation was seen, and after


def test_conflicting_retransmission_is_rejected(cfg, devices, server, caplog):
    # Same (session, index) with other bytes can only come from someone holding the key:
    # it is refused, and the stored record stays as it was. A twin sender with the same
    # ephemeral key material makes such a forgery.
    dev = devices[0]
    ikm = os.urandom(32)
    dev.session = SenderSession.start(dev.upstream_pk, dev.device_id, dev.key, ikmE=ikm)
    twin = SenderSession.start(dev.upstream_pk, dev.device_id, dev.key, ikmE=ikm)
    assert twin.enc == dev.session.enc
    client = server.client()
    (i, s0), = dev.seal([record(waybill="SF1111111111111")])
    dev.answer(client.post_batch(dev.body([(i, s0)]))[1])
    _, forged = twin.seal(record(waybill="SF2222222222222"))
    ok, = dev.seal([record()])
    ans = dev.answer(client.post_batch(dev.body([(0, forged), ok]))[1])
    assert ans.rej == {0: "conflict"} and ans.ack == [ok[0]]
    store = open_store(cfg)
    recs = {r.index: r for _, r in store.load_records("dev-a")}
    assert recs[0].sealed == s0 and recs[0].waybill == "SF1111111111111"
    assert store.device_stats()[0].rejects == {"conflict": 1}
    alerts = [r for r in caplog.records if r.getMessage() == "conflict"]
    assert [(r.levelname, r.fields["device"]) for r in alerts] == [("WARNING", "dev-a")]


def test_unknown_and_revoked_devices_are_refused(cfg, devices, server):
    dev = devices[0]
    client = server.client()
    body = dev.body(dev.seal([record()]), device_id="nobody")
    status, data = client.post_batch(body)
    assert (status, cbor2.loads(data)) == (403, {"error": "unknown-device"})
    assert client.post_batch(dev.body(dev.seal([record()])))[0] == 200  # cached as active
    store = open_store(cfg)
    store.set_revoked("dev-a", True)
    bound = time.monotonic() + cfg.limits.registry_ttl  # docs/upstream.md: revocation bound
    status, data = poll_until(client, dev, 403)
    assert time.monotonic() <= bound + 0.5
    assert (status, cbor2.loads(data)) == (403, {"error": "revoked-device"})
    store.set_revoked("dev-a", False)
    store.close()
    assert poll_until(client, dev, 200)[0] == 200
    assert stored_count(cfg) >= 2  # before the revocation was seen, and after


def poll_until(client, dev, status, timeout=10.0):
    """Send one-record batches until one is answered `status` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = client.post_batch(dev.body(dev.seal([record()])))
        if got[0] == status or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_replayed_batch_from_another_device_is_refused(cfg, devices, server):
    a, b = devices
    body = a.body(a.seal([record()]), device_id=b.device_id)
    status, data = server.client().post_batch(body)
    assert (status, cbor2.loads(data)) == (403, {"error": "unauthenticated"})
    assert stored_count(cfg) == 0
    assert open_store(cfg).device_stats()[1].last_seen is None  # nothing written for it


def test_limits_each_have_their_status(tmp_path):
    cfg = make_state(tmp_path, max_body=4096, device_rate=0.001, device_burst=2)
    dev, = register(cfg, "dev-a")
    with ServerThread(cfg) as srv:
        client = srv.client()
        big = dev.body(dev.seal([record(waybill="SF" + "1" * 13)] * 40))
        status, data = client.post_batch(big)
        assert (status, cbor2.loads(data)) == (413, {"error": "too-large"})
        assert client.post_batch(dev.body(dev.seal([record()])))[0] == 200
        assert client.post_batch(dev.body(dev.seal([record()])))[0] == 200
        status, data = client.post_batch(dev.body(dev.seal([record()])))
        assert (status, cbor2.loads(data)) == (429, {"error": "rate"})
    assert stored_count(cfg) >= 2  # before the revocation was seen, and after


def test_too_many_records_is_413(cfg, devices, server):
    dev = devices[0]
    sealed = dev.seal([record() for _ in range(65)])
    status, data = server.client().post_batch(dev.raw_body([list(r) for r in sealed]))
    assert (status, cbor2.loads(data)) == (413, {"error": "too-many-records"})


def test_busy_store_is_503_and_nothing_acked(tmp_path):
    cfg = make_state(tmp_path, max_pending=0)
    dev, = register(cfg, "dev-a")
    with ServerThread(cfg) as srv:
        status, data = srv.client().post_batch(dev.body(dev.seal([record()])))
    assert (status, cbor2.loads(data)) == (503, {"error": "busy"})
    assert stored_count(cfg) == 0


def test_health_and_metrics(cfg, devices, server):
    dev = devices[0]
    client = server.client()
    client.post_batch(dev.body(dev.seal([record(), record()])))
    client.post_batch(dev.body(dev.seal([record()]), device_id="nobody"))
    status, data = client.request("GET", "/v1/health")
    assert status == 200 and b'"ok"' in data
    status, data = client.request("GET", "/metrics")
    text = data.decode()
    assert status == 200
    assert 'sealscan_batches_total{status="200"} 1' in text
    assert 'sealscan_batches_total{status="403"} 1' in text
    assert 'sealscan_records_total{outcome="stored"} 2' in text
    assert "sealscan_ack_latency_seconds_count 1" in text


def test_client_refuses_a_server_with_another_certificate(cfg, devices, server):
    other_cert, _ = make_tls_cert(["localhost", "127.0.0.1"])
    client = BatchClient("127.0.0.1", server.port, pinned_ssl_context(other_cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        client.request("GET", "/v1/health")
    pinned = client_for(cfg, server.port)
    pinned.pin = "00" * 32
    with pytest.raises(UpstreamConfigError, match="pin"):
        pinned.request("GET", "/v1/health")


def test_store_failure_is_503_and_nothing_acked_until_it_recovers(cfg, devices, server):
    dev = devices[0]
    body = dev.body(dev.seal([record(), record()]))
    client = server.client()
    with inserts_fail(cfg):  # the real store refuses every insert (a trigger raises)
        status, data = client.post_batch(body)
    assert (status, cbor2.loads(data)) == (503, {"error": "storage"})
    assert stored_count(cfg) == 0
    assert dev.answer(client.post_batch(body)[1]).ack == [0, 1]  # the device's retry
    assert stored_count(cfg) >= 2  # before the revocation was seen, and after


def test_a_bug_is_never_a_500(cfg, devices, server, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("sealscan.upstream.tokens.check_identity_token", broken)
    dev = devices[0]
    client = server.client()
    status, data = client.post_batch(dev.body(dev.seal([record()])))
    assert (status, cbor2.loads(data)) == (503, {"error": "internal"})
    assert stored_count(cfg) == 0
    assert client.request("GET", "/v1/health")[0] == 200  # still serving
