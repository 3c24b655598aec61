"""Provisioning entries (device keys sealed to the upstream) and the registry CLI."""

import json

import pytest
from click.testing import CliRunner
from upkit import make_state

from sealscan.cli import cli
from sealscan.protocol import generate_device_key, generate_upstream_keypair
from sealscan.upstream.config import load_config
from sealscan.upstream.errors import ProvisioningEntryError
from sealscan.upstream.provisioning import (
    make_provisioning_entry,
    open_provisioning_entry,
    read_entries,
)
from sealscan.upstream.registry import open_store


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_entry_opens_only_with_the_upstream_key_and_hides_the_device_key():
    sk, pk = generate_upstream_keypair()
    key = generate_device_key()
    line = make_provisioning_entry(pk, "dev-7", key)
    assert key.hex() not in line and key.hex() not in repr(open_provisioning_entry(sk, line))
    assert open_provisioning_entry(sk, line).device_key == key
    other_sk, _ = generate_upstream_keypair()
    with pytest.raises(ProvisioningEntryError, match="another upstream key"):
        open_provisioning_entry(other_sk, line)


@pytest.mark.parametrize("edit, message", [
    (lambda e: {**e, "device_id": "dev-8"}, "made for another device id"),  # relabelled
    (lambda e: {**e, "sealed_key": e["sealed_key"][:-2] + "AA"}, "does not open"),
    (lambda e: {**e, "sealed_key": e["sealed_key"][:20]}, "expected 80 bytes"),
    (lambda e: {**e, "sealed_key": "*not base64*"}, "base64url"),
    (lambda e: {**e, "v": 2}, "version 1"),
    (lambda e: {**e, "device_id": "bad id!"}, "device_id"),
    (lambda e: {**e, "device_id": 7}, "must be strings"),
])
def test_tampered_entries_are_refused(edit, message):
    sk, pk = generate_upstream_keypair()
    entry = json.loads(make_provisioning_entry(pk, "dev-7", generate_device_key()))
    with pytest.raises(ProvisioningEntryError, match=message):
        open_provisioning_entry(sk, json.dumps(edit(entry)))


def test_file_errors_name_the_line_and_import_nothing():
    sk, pk = generate_upstream_keypair()
    good = make_provisioning_entry(pk, "dev-1", generate_device_key())
    with pytest.raises(ProvisioningEntryError, match="line 3: not JSON"):
        read_entries(sk, f"# depot 4\n{good}\n{{oops\n")
    with pytest.raises(ProvisioningEntryError, match="line 2: device dev-1 appears twice"):
        read_entries(sk, f"{good}\n{good}\n")


def test_cli_init_import_revoke_list(tmp_path):
    d = tmp_path / "up"
    out = run("upstream", "init", "-d", str(d), "--host", "upstream.depot.example")
    assert out.exit_code == 0, out.output
    key_hex = (d / "upstream.key").read_text().strip()
    assert key_hex not in out.output and "TLS pin" in out.output
    assert (d / "upstream.key").stat().st_mode & 0o077 == 0
    assert run("upstream", "init", "-d", str(d)).exit_code == 1  # never silently re-keyed
    pk = bytes.fromhex((d / "upstream.pub").read_text())
    keys = {f"dev-{n}": generate_device_key() for n in range(3)}
    entries = tmp_path / "entries.jsonl"
    entries.write_text("".join(make_provisioning_entry(pk, i, k) + "\n"
                               for i, k in keys.items()))
    res = run("upstream", "import", "-d", str(d), str(entries))
    assert res.exit_code == 0 and "registered 3" in res.output
    # the same entries again: nothing changes, nothing fails
    again = run("upstream", "import", "-d", str(d), str(entries))
    assert again.exit_code == 0 and "registered 0 device(s), 3 unchanged" in again.output
    assert run("upstream", "revoke", "-d", str(d), "dev-1").exit_code == 0
    assert run("upstream", "revoke", "-d", str(d), "nope").exit_code == 1
    listed = run("upstream", "devices", "-d", str(d), "--json")
    rows = {r["device_id"]: r["revoked"] for r in json.loads(listed.output)}
    assert rows == {"dev-0": False, "dev-1": True, "dev-2": False}
    assert all(k.hex() not in listed.output for k in keys.values())
    assert run("upstream", "unrevoke", "-d", str(d), "dev-1").exit_code == 0
    store = open_store(load_config(d))
    assert store.get_device("dev-2").device_key == keys["dev-2"]
    store.close()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    res = run("upstream", "import", "-d", str(d), str(bad))
    assert res.exit_code == 3 and "line 1" in res.output


def test_cli_missing_or_broken_state_is_input_error(tmp_path):
    res = run("upstream", "devices", "-d", str(tmp_path / "none"))
    assert res.exit_code == 3 and "upstream init" in res.output
    cfg = make_state(tmp_path)
    (cfg.directory / "upstream.json").write_text('{"version": 1, "listen": 5}')
    res = run("upstream", "stats", "-d", str(cfg.directory))
    assert res.exit_code == 3 and "upstream.json" in res.output


def test_a_key_change_for_a_registered_id_needs_rekey_and_says_what_it_does(tmp_path):
    d = tmp_path / "up"
    assert run("upstream", "init", "-d", str(d), "--host", "upstream.depot.example"
               ).exit_code == 0
    pk = bytes.fromhex((d / "upstream.pub").read_text())
    old, new = generate_device_key(), generate_device_key()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(make_provisioning_entry(pk, "dev-1", old) + "\n")
    second.write_text(make_provisioning_entry(pk, "dev-1", new) + "\n"
                      + make_provisioning_entry(pk, "dev-2", generate_device_key()) + "\n")
    assert run("upstream", "import", "-d", str(d), str(first)).exit_code == 0
    refused = run("upstream", "import", "-d", str(d), str(second))
    assert refused.exit_code == 1
    assert "dev-1 is registered already with another key" in refused.output
    assert "--rekey" in refused.output and "403 unauthenticated" in refused.output
    store = open_store(load_config(d))
    assert store.get_device("dev-1").device_key == old  # all or nothing: unchanged
    assert store.get_device("dev-2") is None
    store.close()
    assert run("upstream", "revoke", "-d", str(d), "dev-1").exit_code == 0
    done = run("upstream", "import", "-d", str(d), str(second), "--rekey")
    assert done.exit_code == 0
    assert "registered 1 device(s), 0 unchanged (already registered with the same key), " \
        "1 re-keyed" in done.output
    assert "re-keyed dev-1: batches sealed with its old key are refused" in done.output
    assert "dev-1 is still revoked" in done.output
    assert old.hex() not in done.output and new.hex() not in done.output
    store = open_store(load_config(d))
    assert store.get_device("dev-1").device_key == new
    store.close()
