"""Fleet health as an operator sees it: a simulated fleet with an ok, a silent, a
never-connected, a revoked (still sending), a refused (stale key) and a late device, and one
that only sends heartbeats. `stats --json` and `/metrics` classify each; the shipped alert
rules (docs/ops/sealscan-alerts.yml) fire on the metrics scraped from the real server,
checked with promtool (Debian's `prometheus` package, installed by `make setup`)."""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import cbor2
import pytest
from click.testing import CliRunner
from upkit import CANARY_ID, CANARY_NAME, ServerThread, make_state, record, register, token

from sealscan.cli import cli
from sealscan.protocol import generate_device_key
from sealscan.protocol.heartbeat import (
    decode_heartbeat,
    encode_heartbeat,
    heartbeat_ack_mac,
)
from sealscan.upstream.registry import open_store

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "ops" / "sealscan-alerts.yml"
DASHBOARD = ROOT / "docs" / "ops" / "grafana-sealscan.json"


def beat(dev, seq, queued=0, t=None):
    s = dev.session or dev.new_session()
    return encode_heartbeat(dev.device_id, s.enc, s.ack_key, seq,
                            int(time.time()) if t is None else t, queued)


def post(client, path, body):
    return client.request("POST", path, body, {"Content-Type": "application/cbor"})


def cli_json(*args):
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.fixture
def fleet(tmp_path):
    """Drive the fleet against a real server; returns (cfg, stats rows, /metrics text)."""
    cfg = make_state(tmp_path, registry_ttl=0)
    cfg.operations = type(cfg.operations)(silent_seconds=3, late_window_seconds=3600)
    cfg.save()
    names = ["ok", "silent", "never", "revoked", "refused", "late", "beats"]
    devs = dict(zip(names, register(cfg, *(f"dev-{n}" for n in names)), strict=True))
    with ServerThread(cfg) as srv:
        c = srv.client()
        assert c.post_batch(devs["silent"].body(devs["silent"].seal([record()])))[0] == 200
        time.sleep(cfg.operations.silent_seconds + 0.5)
        assert c.post_batch(devs["ok"].body(devs["ok"].seal([record()])))[0] == 200
        late = record(capture_time=int(time.time()) - 120)  # 2 min capture -> commit
        assert c.post_batch(devs["late"].body(devs["late"].seal([late])))[0] == 200
        store = open_store(cfg)
        store.set_revoked("dev-revoked", True, "stolen")
        store.close()
        rv = devs["revoked"]
        for _ in range(3):
            assert c.post_batch(rv.body(rv.seal([record()])))[0] == 403
        stale = devs["refused"]
        stale.key = generate_device_key()  # the device holds a key the upstream does not
        assert c.post_batch(stale.body(stale.seal([record()])))[0] == 403
        b = devs["beats"]
        status, data = post(c, "/v1/heartbeat", beat(b, 1, queued=2))
        assert status == 200
        assert cbor2.loads(data)["mac"] == heartbeat_ack_mac(b.session.ack_key, b.session.enc, 1)
        time.sleep(1.5)  # refusal counts reach the store within REFUSAL_FLUSH
        metrics = c.request("GET", "/metrics")[1].decode()
    rows = {r["device_id"]: r for r in cli_json("upstream", "stats", "-d",
                                                str(cfg.directory), "--json")}
    return cfg, rows, metrics


def test_stats_and_metrics_classify_every_device(fleet):
    cfg, rows, metrics = fleet
    states = {d: r["state"] for d, r in rows.items()}
    assert states == {"dev-ok": "ok", "dev-silent": "silent", "dev-never": "never-connected",
                      "dev-revoked": "revoked", "dev-refused": "refused", "dev-late": "late",
                      "dev-beats": "ok"}
    assert rows["dev-revoked"]["refused_by_reason"] == {"revoked-device": 3}
    assert rows["dev-revoked"]["revoked_reason"] == "stolen"
    assert rows["dev-refused"]["refused_by_reason"] == {"unauthenticated": 1}
    assert rows["dev-beats"]["queued"] == 2 and rows["dev-beats"]["last_heartbeat"]
    assert rows["dev-beats"]["last_seen"] is None
    assert rows["dev-never"]["last_heard"] is None
    assert rows["dev-late"]["late"] == 1
    gauge = dict(re.findall(r'sealscan_devices\{state="([a-z-]+)"\} (\d+)', metrics))
    assert gauge == {"revoked": "1", "never-connected": "1", "refused": "1", "silent": "1",
                     "late": "1", "ok": "2"}
    assert 'sealscan_refused_total{reason="revoked-device"} 3' in metrics
    assert 'sealscan_heartbeats_total{result="ok"} 1' in metrics


def test_shipped_alert_rules_fire_on_the_fleet(fleet, tmp_path):
    _cfg, _rows, metrics = fleet
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make setup` installs Debian's prometheus package"
    series = []
    for line in metrics.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        labels = name[name.index("{"):] if "{" in name else "{}"
        base = name.split("{")[0]
        full = base + labels[:-1] + (", " if labels != "{}" else "") + 'job="sealscan"}'
        full = full.replace("{, ", "{")
        kind = "counter" if base.endswith(("_total", "_bucket", "_sum", "_count")) else "gauge"
        v = float(value)
        # a counter rises from 0 to its value one minute in; a gauge holds its value
        values = f"0 {v:g}+0x40" if kind == "counter" else f"{v:g}+0x40"
        series.append({"series": full, "values": values})
    series.append({"series": 'up{job="sealscan"}', "values": "1+0x40"})
    want = ["SealscanDeviceSilent", "SealscanDeviceNeverConnected", "SealscanDeviceRefused",
            "SealscanRevokedDeviceSending", "SealscanLateRecords"]
    quiet = ["SealscanStoreFailing", "SealscanAckLatencyHigh", "SealscanConnectionErrors",
             "SealscanNodeDown"]
    firing = _firing(promtool, tmp_path, series, want + quiet)
    assert firing == set(want)


def _firing(promtool, tmp_path, series, names):
    """The alerts among `names` that fire at 25m: promtool is given a test that expects
    each to fire, and its failure report says which did not."""
    import yaml

    tests = {"rule_files": [str(RULES)], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": series,
                        "alert_rule_test": [{"eval_time": "25m", "alertname": n,
                                             "exp_alerts": []} for n in names]}]}
    path = tmp_path / "rules-test.yml"
    path.write_text(yaml.safe_dump(tests))
    res = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                         text=True, timeout=120)
    out = res.stdout + res.stderr
    # promtool names each alert whose expected list (empty) differs from what fired
    return {n for n in names if re.search(rf"alertname: {n}\b", out)}


def test_heartbeat_is_authenticated_fresh_and_never_logs_data(cfg, devices, server, caplog):
    dev = devices[0]
    c = server.client()
    assert post(c, "/v1/heartbeat", beat(dev, 1))[0] == 200
    assert post(c, "/v1/heartbeat", beat(dev, 1))[0] == 200  # a replay: answered, not stored
    assert 'sealscan_heartbeats_total{result="replay"} 1' in c.request("GET", "/metrics")[1]\
        .decode()
    forged = decode_heartbeat(beat(dev, 2))
    body = cbor2.dumps({"v": 1, "dev": dev.device_id, "enc": forged.enc, "seq": 3,
                        "t": forged.time, "q": 0, "mac": forged.mac}, canonical=True)
    assert (post(c, "/v1/heartbeat", body)[0], cbor2.loads(post(c, "/v1/heartbeat", body)[1])) \
        == (403, {"error": "unauthenticated"})
    status, data = post(c, "/v1/heartbeat", beat(dev, 4, t=int(time.time()) - 3600))
    assert (status, cbor2.loads(data)) == (400, {"error": "clock"})
    status, data = post(c, "/v1/heartbeat", CANARY_ID.encode() + CANARY_NAME.encode())
    assert (status, cbor2.loads(data)) == (400, {"error": "malformed"})
    other = devices[1]
    other.new_session()
    status, data = post(c, "/v1/heartbeat", encode_heartbeat(
        CANARY_ID, other.session.enc, other.session.ack_key, 1, int(time.time()), 0))
    assert (status, cbor2.loads(data)) == (403, {"error": "unknown-device"})
    store = open_store(cfg)
    s = {x.device_id: x for x in store.device_stats()}["dev-a"]
    store.close()
    assert s.last_heartbeat is not None and s.last_seen is None
    logged = "\n".join(r.getMessage() + repr(getattr(r, "fields", {})) for r in caplog.records)
    assert CANARY_ID not in logged and CANARY_NAME not in logged
    assert token(name=CANARY_NAME) not in logged.encode()


def test_grafana_dashboard_queries_only_metrics_the_server_exports(fleet):
    _cfg, _rows, metrics = fleet
    board = json.loads(DASHBOARD.read_text())
    exported = {line.split("{")[0].split(" ")[0] for line in metrics.splitlines()
                if line and not line.startswith("#")}
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 6
    for expr in exprs:
        used = set(re.findall(r"\b(sealscan_[a-z_]+)", expr))
        assert used and used <= exported, (expr, used - exported)
    rules = RULES.read_text()
    for name in re.findall(r"\b(sealscan_[a-z_]+)", rules):
        assert name in exported, name
