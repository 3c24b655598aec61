"""Export for the regulator's downstream (streamed in pages, resumable, each record exactly
once, 0600) and retention (`prune`), on both stores."""

import json
import stat
import time

import pytest
from click.testing import CliRunner
from upkit import ServerThread, make_state, record, register

from sealscan.cli import cli
from sealscan.upstream.export import export_records
from sealscan.upstream.registry import open_store


def run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def filled(tmp_path):
    cfg = make_state(tmp_path)
    devs = register(cfg, "dev-a", "dev-b", "dev-c")
    with ServerThread(cfg) as srv:
        c = srv.client()
        for _ in range(6):  # six commits: the export crosses commit times and devices
            for d in devs:
                assert d.answer(c.post_batch(d.body(d.seal([record(), record()])))[1]).ack
    return cfg, devs


def keys(path):
    return [(x["device_id"], x["enc"], x["index"]) for x in
            map(json.loads, path.read_text().splitlines())]


def test_interrupted_export_resumes_with_every_record_exactly_once(filled, tmp_path):
    cfg, devs = filled
    out = tmp_path / "export.jsonl"
    store = open_store(cfg)
    total = store.count_records()
    assert total == 36
    first = export_records(store, out, settle=0, page_size=5, stop_after_pages=3)
    assert first.records == 15
    # a crash after a page was written but before its cursor was saved: garbage at the end
    with open(out, "ab") as f:
        f.write(b'{"half a line')
    second = export_records(store, out, resume=True, settle=0, page_size=7)
    store.close()
    assert (second.records, second.resumed_from) == (21, 15)
    got = keys(out)
    assert len(got) == len(set(got)) == total  # all of them, none twice
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.with_name(out.name + ".cursor").stat().st_mode) == 0o600
    line = json.loads(out.read_text().splitlines()[0])
    assert line["identity_token"].startswith("RNID1:") and line["verdict"] == "ok"


def test_export_cli_refuses_to_overwrite_and_settles(filled, tmp_path):
    cfg, _ = filled
    out = tmp_path / "e.jsonl"
    res = run("upstream", "export", "-d", str(cfg.directory), "-o", str(out))
    assert res.exit_code == 0 and "exported 0 record(s)" in res.output  # all too recent
    res = run("upstream", "export", "-d", str(cfg.directory), "-o", str(out))
    assert res.exit_code == 3 and "--resume" in res.output
    res = run("upstream", "export", "-d", str(cfg.directory), "-o", str(out), "--resume",
              "--settle", "0", "--page", "4")
    assert res.exit_code == 0 and "exported 36 record(s)" in res.output, res.output
    assert len(keys(out)) == 36


def test_prune_deletes_only_records_past_retention(filled):
    cfg, devs = filled
    res = run("upstream", "prune", "-d", str(cfg.directory))
    assert res.exit_code == 2 and "no retention" in res.output
    store = open_store(cfg)
    assert store.delete_committed_before(time.time() - 3600) == 0
    assert store.delete_committed_before(time.time() + 1) == 36
    assert store.count_records() == 0
    store.close()
    res = run("upstream", "prune", "-d", str(cfg.directory), "--days", "30")
    assert res.exit_code == 0 and "deleted 0 record(s)" in res.output
