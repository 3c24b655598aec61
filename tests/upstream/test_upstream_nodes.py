"""Several upstream nodes (separate `serve` processes on their own ports, standing for
machines) on one store: on PostgreSQL as deployed, and on one SQLite file as on one
machine. A batch whose answer was lost and that is retried on another node is stored once;
a revocation holds on every node within the registry bound; a node killed mid-batch loses
and duplicates nothing once the device retries on the other."""

import concurrent.futures
import signal
import time

import cbor2
import pytest
from click.testing import CliRunner
from upkit import ServerProcess, client_for, make_state, record, register

from sealscan.cli import cli
from sealscan.upstream.registry import open_store


@pytest.fixture
def nodes(tmp_path):
    cfg = make_state(tmp_path, registry_ttl=1.0)
    devs = register(cfg, *(f"dev-{k}" for k in range(6)))
    started = [ServerProcess(cfg, tmp_path / f"node{k}.log") for k in range(2)]
    yield cfg, devs, started
    for node in started:
        node.stop()


def records_of(cfg):
    store = open_store(cfg)
    try:
        return {d.device_id: store.load_records(d.device_id) for d in store.list_devices()}
    finally:
        store.close()


def test_lost_answer_retried_on_another_node_is_stored_once(nodes):
    cfg, devs, (a, b) = nodes
    dev = devs[0]
    body = dev.body(dev.seal([record() for _ in range(3)]))
    first = dev.answer(client_for(cfg, a.port).post_batch(body)[1])  # answer "lost"
    retry = dev.answer(client_for(cfg, b.port).post_batch(body)[1])
    assert first.ack == retry.ack == [0, 1, 2] and retry.ver == first.ver
    # the same batch racing on both nodes at once
    body2 = dev.body(dev.seal([record() for _ in range(4)]))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda port: dev.answer(client_for(cfg, port).post_batch(body2)[1]),
            [a.port, b.port] * 4))
    assert all(x.ack == [3, 4, 5, 6] for x in answers)
    stored = records_of(cfg)["dev-0"]
    assert sorted(r.index for _, r in stored) == list(range(7))  # each exactly once
    store = open_store(cfg)
    stats = {s.device_id: s for s in store.device_stats()}
    store.close()
    assert stats["dev-0"].records == 7
    assert stats["dev-0"].duplicates == 3 + 8 * 4 - 4  # every copy but the stored one


def test_revocation_on_one_node_holds_on_all_within_the_bound(nodes):
    cfg, devs, (a, b) = nodes
    dev = devs[1]
    clients = [client_for(cfg, a.port), client_for(cfg, b.port)]
    for c in clients:  # both nodes have the device cached as active
        assert c.post_batch(dev.body(dev.seal([record()])))[0] == 200
    result = CliRunner().invoke(cli, ["upstream", "revoke", "-d", str(cfg.directory),
                                      "--reason", "stolen", "dev-1"])
    assert result.exit_code == 0, result.output
    revoked_at = time.monotonic()
    seen = {}
    while len(seen) < 2 and time.monotonic() < revoked_at + 10:
        for k, c in enumerate(clients):
            status, data = c.post_batch(dev.body(dev.seal([record()])))
            if status == 403 and k not in seen:
                assert cbor2.loads(data) == {"error": "revoked-device"}
                seen[k] = time.monotonic() - revoked_at
        time.sleep(0.05)
    assert sorted(seen) == [0, 1]
    assert max(seen.values()) <= cfg.limits.registry_ttl + 0.5, seen  # documented bound


@pytest.mark.parametrize("point", ["after-receive", "before-commit", "after-commit"])
def test_node_killed_mid_batch_retry_on_the_other_loses_nothing(tmp_path, point):
    cfg = make_state(tmp_path)
    devs = register(cfg, "dev-a", "dev-b")
    dying = ServerProcess(cfg, tmp_path / "dying.log", fault=point)
    other = ServerProcess(cfg, tmp_path / "other.log")
    try:
        dev = devs[0]
        sealed = dev.seal([record() for _ in range(5)])
        with pytest.raises(Exception):  # noqa: B017 - no answer of any kind
            client_for(cfg, dying.port).post_batch(dev.body(sealed), retry=False)
        assert dying.wait_dead() == -signal.SIGKILL
        # meanwhile the other node keeps serving other devices
        assert devs[1].answer(client_for(cfg, other.port).post_batch(
            devs[1].body(devs[1].seal([record()])))[1]).ack == [0]
        more = dev.seal([record()])
        ans = dev.answer(client_for(cfg, other.port).post_batch(dev.body(sealed + more))[1])
        assert ans.ack == list(range(6))
    finally:
        dying.stop()
        other.stop()
    stored = records_of(cfg)
    assert sorted(r.index for _, r in stored["dev-a"]) == list(range(6))
    want = dict(sealed + more)
    assert all(r.sealed == want[r.index] for _, r in stored["dev-a"])
    assert len(stored["dev-b"]) == 1
