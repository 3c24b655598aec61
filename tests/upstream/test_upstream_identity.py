"""Identity verdicts with tokens made by `sealscan codes identity`, and no identity data in
logs, metrics or `stats` output (canaries)."""

import json
import time
import zlib

import cbor2
from click.testing import CliRunner
from upkit import (
    CANARY_ID,
    CANARY_NAME,
    CANARY_PHONE,
    CANARY_WAYBILL,
    ServerProcess,
    ServerThread,
    client_for,
    make_state,
    record,
    register,
)

from sealscan.cli import cli
from sealscan.codes import b45decode, b45encode, parse_identity_token
from sealscan.upstream.config import load_config
from sealscan.upstream.registry import open_store


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def make_issuer(tmp_path, name, trusted_by=None):
    key = tmp_path / f"{name}.json"
    run("codes", "init-issuer", "--out", str(key))
    if trusted_by is not None:
        pub = tmp_path / f"{name}.pub.json"
        pub.write_text(run("codes", "issuer-public", "--issuer-key", str(key), "--json"))
        refused = CliRunner().invoke(cli, ["upstream", "trust-issuer", "-d",
                                           str(trusted_by.directory), str(pub)])
        assert refused.exit_code == 1 and "TEST issuer" in refused.output
        run("upstream", "trust-issuer", "-d", str(trusted_by.directory), str(pub),
            "--allow-test-issuer")
    return key


def cli_token(issuer_key, *extra, name="李四", id_number="440524188001010014",
              phone="13700001234") -> str:
    return run("codes", "identity", "--issuer-key", str(issuer_key), "--id-type", "11",
               "--id-number", id_number, "--name", name, "--phone", phone,
               *extra).strip()


def bad_signature(token: str) -> str:
    """The same token with one bit of its Ed25519 signature flipped."""
    sign1 = list(cbor2.loads(zlib.decompress(b45decode(token[6:]))))
    sign1[3] = bytes([sign1[3][0] ^ 1]) + sign1[3][1:]
    return "RNID1:" + b45encode(zlib.compress(cbor2.dumps(sign1), 9))


def test_identity_verdicts(tmp_path):
    cfg = make_state(tmp_path)
    trusted = make_issuer(tmp_path, "trusted", trusted_by=cfg)
    stranger = make_issuer(tmp_path, "stranger")
    cfg = load_config(tmp_path / "upstream")  # with the issuer trust-issuer added
    dev, = register(cfg, "dev-a")
    good = cli_token(trusted)
    tokens = {
        "ok": good,
        "expired": cli_token(trusted, "--expired"),
        "unknown-issuer": cli_token(stranger),
        "bad-signature": bad_signature(good),
    }
    assert parse_identity_token(tokens["bad-signature"]).kid == parse_identity_token(good).kid
    names = list(tokens)
    sealed = dev.seal([record(tokens[n].encode()) for n in names]
                      + [record(b"RNID1:not-base45!"), record(b"just some text")])
    with ServerThread(cfg) as srv:
        ans = dev.answer(srv.client().post_batch(dev.body(sealed))[1])
    assert {names[i]: ans.ver[i] for i in range(4)} == {n: n for n in names}
    assert ans.ver[4] == "bad-signature"  # unparsable token: a cross for the courier
    assert ans.rej == {5: "fields"}  # field 4 is not an identity token at all
    store = open_store(cfg)
    stored = {r.index: r.verdict for _, r in store.load_records("dev-a")}
    store.close()
    assert stored == {0: "ok", 1: "expired", 2: "unknown-issuer", 3: "bad-signature",
                      4: "malformed"}


def test_no_identity_data_in_logs_metrics_or_stats(tmp_path):
    cfg = make_state(tmp_path)
    issuer = make_issuer(tmp_path, "trusted", trusted_by=cfg)
    cfg = load_config(tmp_path / "upstream")
    dev, other = register(cfg, "dev-a", "dev-b")
    tok = cli_token(issuer, name=CANARY_NAME, id_number=CANARY_ID, phone=CANARY_PHONE)
    canaries = [CANARY_NAME, CANARY_ID, CANARY_PHONE, CANARY_WAYBILL, tok[6:40]]
    late = int(time.time()) - 3600
    sealed = dev.seal([record(tok.encode(), waybill=CANARY_WAYBILL),
                       record(tok.encode(), waybill=CANARY_WAYBILL, capture_time=late),
                       record(tok.encode(), waybill=CANARY_WAYBILL)])
    i, s = sealed[2]
    sealed[2] = (i, s[:-1] + bytes([s[-1] ^ 1]))  # one reject
    log = tmp_path / "upstream.log"
    server = ServerProcess(cfg, log, log_level="debug")
    try:
        client = client_for(cfg, server.port)
        body = dev.body(sealed)
        assert client.post_batch(body)[0] == 200
        assert client.post_batch(body)[0] == 200  # duplicate
        # hostile: the canary id number as a claimed device id, and another device's batch
        assert client.post_batch(dev.body(sealed, device_id=CANARY_ID))[0] == 403
        assert client.post_batch(dev.body(sealed, device_id=other.device_id))[0] == 403
        assert client.post_batch(body[:-7])[0] == 400
        metrics = client.request("GET", "/metrics")[1].decode()
        health = client.request("GET", "/v1/health")[1].decode()
    finally:
        server.stop()
    stats_table = run("upstream", "stats", "-d", str(cfg.directory))
    stats_json = run("upstream", "stats", "-d", str(cfg.directory), "--json")
    devices = run("upstream", "devices", "-d", str(cfg.directory), "--json")
    logs = log.read_text(encoding="utf-8")

    # positive controls: the canaries went through, were stored, and were counted
    store = open_store(cfg)
    stored = [r for _, r in store.load_records("dev-a")]
    store.close()
    assert len(stored) == 2 and {r.waybill for r in stored} == {CANARY_WAYBILL}
    assert parse_identity_token(stored[0].identity_token.decode()).claims.name == CANARY_NAME
    row = json.loads(stats_json)[0]
    assert (row["records"], row["late"], row["rejects"], row["duplicates"]) == (2, 1, 2, 2)
    assert "dev-a" in stats_table and '"event": "batch"' in logs
    assert 'sealscan_late_records_total 1' in metrics
    for text in (logs, metrics, health, stats_table, stats_json, devices):
        for canary in canaries:
            assert canary not in text
