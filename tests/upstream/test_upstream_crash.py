"""Kill the real server process at marked points of a batch (SIGKILL from the fault hook):
after a restart and a retry nothing is lost, nothing is stored twice, and nothing was acked
that was not durably stored."""

import http.client
import json
import signal
import socket
import ssl

import pytest
from upkit import ServerProcess, client_for, make_state, record, register

from sealscan.upstream.client import BatchClient
from sealscan.upstream.registry import open_store


@pytest.mark.parametrize("point", ["after-receive", "before-commit", "after-commit"])
def test_crash_then_retry_stores_exactly_once(tmp_path, point):
    cfg = make_state(tmp_path)
    dev, = register(cfg, "dev-a")
    log = tmp_path / "upstream.log"
    first = dev.seal([record() for _ in range(6)])
    server = ServerProcess(cfg, log, fault=point)
    try:
        client = client_for(cfg, server.port)
        with pytest.raises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
            client.post_batch(dev.body(first), retry=False)  # no answer: nothing acked
        assert server.wait_dead() == -signal.SIGKILL
    finally:
        server.stop()
    client.close()
    store = open_store(cfg)
    # committed before the kill only at "after-commit"; before that nothing is in the store
    assert store.count_records() == (6 if point == "after-commit" else 0)

    server = ServerProcess(cfg, log)  # restart without the fault, then the device retries
    try:
        client = client_for(cfg, server.port)
        more = dev.seal([record() for _ in range(2)])
        ans = dev.answer(client.post_batch(dev.body(first + more))[1])
        # and once more, as if this answer had been lost too
        again = dev.answer(client.post_batch(dev.body(first + more))[1])
    finally:
        server.stop()
    assert ans.ack == again.ack == list(range(8)) and ans.rej == {}
    stored = store.load_records("dev-a")
    assert sorted(r.index for _, r in stored) == list(range(8))  # each exactly once
    sealed = dict(first + more)
    assert all(r.sealed == sealed[r.index] for _, r in stored)
    assert store.device_stats()[0].records == 8
    store.close()
    assert f'"point": "{point}"' in log.read_text()  # the kill was the marked one


def test_two_workers_share_port_store_and_metrics(tmp_path):
    cfg = make_state(tmp_path)
    devs = register(cfg, *(f"dev-{k}" for k in range(24)))
    with socket.socket() as s:  # a free port for SO_REUSEPORT (several workers need one)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ServerProcess(cfg, tmp_path / "upstream.log", workers=2, port=port)
    pids = set()
    try:
        for dev in devs:  # a fresh connection each: the kernel spreads them over the workers
            client = client_for(cfg, server.port)
            pids.add(json.loads(client.request("GET", "/v1/health")[1])["pid"])
            assert dev.answer(client.post_batch(dev.body(dev.seal([record()] * 2)))[1]).ack \
                == [0, 1]
            client.close()
        text = client_for(cfg, server.port).request("GET", "/metrics")[1].decode()
    finally:
        server.stop()
    assert len(pids) == 2  # both workers served (all 24 on one: p = 2**-23)
    assert 'sealscan_records_total{outcome="stored"} 48' in text  # summed over the workers
    store = open_store(cfg)
    assert store.count_records() == 48
    store.close()


def test_plain_http_only_with_the_explicit_flag(tmp_path):
    cfg = make_state(tmp_path)
    dev, = register(cfg, "dev-a")
    log = tmp_path / "upstream.log"
    server = ServerProcess(cfg, log)  # default: TLS, plain HTTP is not understood
    try:
        plain = BatchClient("127.0.0.1", server.port, None, timeout=10)
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            plain.post_batch(dev.body(dev.seal([record()])), retry=False)
    finally:
        server.stop()
    server = ServerProcess(cfg, log, insecure_http=True)
    try:
        plain = BatchClient("127.0.0.1", server.port, None, timeout=10)
        status, data = plain.post_batch(dev.body(dev.seal([record()])))
    finally:
        server.stop()
    assert status == 200 and dev.answer(data).ack == [1]
    assert "plain HTTP without TLS" in log.read_text()
