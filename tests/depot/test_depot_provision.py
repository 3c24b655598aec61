"""`sealscan provision` against a simulated scanner, and the entry at a real upstream."""

import json

import pytest
from conftest import BADGE_KEY, BOARD, CONFIG_KEY, WIFI_PASS, deploy, leaked, nvs, sealscan

from sealscan.upstream.config import load_config
from sealscan.upstream.provisioning import open_provisioning_entry

CONTRACT = {"device_id", "device_key", "upstream_pk", "upstream_url", "tls_cert", "badge_key",
            "config_key", "carrier", "wifi_ssid", "wifi_pass", "config_serial", "lang",
            "provisioned", "lease_s", "lease_wipe_s"}


def test_provision_writes_the_nvs_contract_and_a_sealed_entry(deployed, depot):
    run = depot.provision(deployed.port)
    assert run.code == 0, run.text
    values = nvs(deployed)
    assert set(values) == CONTRACT
    cfg = load_config(depot.upstream)
    assert values["device_id"] == b"bdev-17"  # type byte + UTF-8
    assert values["upstream_pk"][1:] == cfg.public_key()
    assert values["upstream_url"] == b"bhttps://localhost:8443"
    assert values["carrier"] == b"bSF" and values["wifi_ssid"] == b"bdepot-ap"
    assert values["badge_key"][1:] == BADGE_KEY and values["config_key"][1:] == CONFIG_KEY
    assert values["provisioned"] == b"i\x01\x00\x00\x00"
    assert values["config_serial"] == b"i\x00\x00\x00\x00"
    assert values["lease_s"] == b"i" + (72 * 3600).to_bytes(4, "little")  # the default lease
    assert values["lease_wipe_s"] == b"i" + (336 * 3600).to_bytes(4, "little")
    assert values["lang"] == b"bzh"  # the screen language of a Chinese carrier's device
    device_key = values["device_key"][1:]
    assert len(device_key) == 32
    # The only clear copy of the device key is on the device; the entry opens upstream.
    (line,) = depot.entries.read_text().splitlines()
    opened = open_provisioning_entry(cfg.private_key(), line)
    assert opened.device_id == "dev-17" and opened.device_key == device_key
    for secret in (device_key, BADGE_KEY, CONFIG_KEY, WIFI_PASS.encode()):
        assert not leaked(secret, run.text)
        assert not leaked(secret, bytes(deployed.output))
    assert not leaked(device_key, depot.entries.read_bytes())
    # The upstream registers it (the runbook's next step).
    imported = sealscan("upstream", "import", "--dir", depot.upstream, depot.entries)
    assert imported.code == 0, imported.text
    devices = sealscan("upstream", "devices", "--dir", depot.upstream, "--json")
    assert "dev-17" in devices.out


def test_deploy_and_provision_live_in_flash_bin_and_survive_a_power_cut(deployed, depot):
    run = depot.provision(deployed.port)
    assert run.code == 0, run.text
    deployed.power_cut()  # RAM gone: what is left is flash.bin
    assert set(deployed.nvs()) == CONTRACT and deployed.nvs()["provisioned"] == 1
    assert "/firmware.json" in deployed.files() and "/sealer.mpy" in deployed.files()
    audit = sealscan("audit", "--dump", deployed.state / "flash.bin", "--board", BOARD)
    assert "NVS sealscan: badge_key, carrier, config_key, config_serial, device_id, " \
        "device_key, lang, lease_s, lease_wipe_s, provisioned, tls_cert, upstream_pk, " \
        "upstream_url, wifi_pass, wifi_ssid" in audit.out
    assert "RECORD DATA" not in audit.out and "FLAG /" not in audit.out, audit.out
    deployed.power_on()
    verify = sealscan("verify", "--port", deployed.port)
    assert verify.code == 0, verify.text


def test_provision_twice_refuses_without_force_and_replaces_the_key_with_it(deployed, depot):
    assert depot.provision(deployed.port).code == 0
    first = nvs(deployed)["device_key"]
    run = depot.provision(deployed.port, device_id="dev-18")
    assert run.code == 1
    assert run.err == (f"error: {deployed.port}: already provisioned as 'dev-17' (use --force "
                       "to provision it again with a new key)\n")
    assert nvs(deployed)["device_key"] == first
    assert len(depot.entries.read_text().splitlines()) == 1

    run = depot.provision(deployed.port, "--force", device_id="dev-18")
    assert run.code == 0, run.text
    assert "again, with a new key" in run.out
    assert nvs(deployed)["device_key"] != first and nvs(deployed)["device_id"] == b"bdev-18"
    assert len(depot.entries.read_text().splitlines()) == 2


@pytest.mark.parametrize("which, content", [
    ("badge", "not hex at all\n"),
    ("config", "00" * 31 + "\n"),
    ("pk", "zz" * 32),
    ("cert", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"),
])
def test_malformed_key_files_are_one_line_errors_before_the_device_is_touched(
        deployed, depot, tmp_path, which, content):
    bad = tmp_path / f"bad-{which}"
    bad.write_text(content)
    args = depot.provision_args(deployed.port)
    if which in ("badge", "config"):
        args[args.index(f"--{which}-key") + 1] = bad
    else:
        i = args.index("--upstream")
        del args[i:i + 2]
        pk = depot.upstream / "upstream.pub"
        cert = depot.upstream / "tls" / "cert.pem"
        args += ["--upstream-url", "https://10.0.0.2:8443",
                 "--upstream-pk", bad if which == "pk" else pk,
                 "--tls-cert", bad if which == "cert" else cert]
    run = sealscan(*args, env={"SEALSCAN_WIFI_PASS": WIFI_PASS})
    assert run.code == 3, run.text
    assert run.err.startswith(f"error: {bad}: not a") and run.err.count("\n") == 1
    assert nvs(deployed) == {} and not depot.entries.exists()


def test_pieces_instead_of_directory_and_url_checks(deployed, depot):
    args = depot.provision_args(deployed.port)
    i = args.index("--upstream")
    del args[i:i + 2]
    args += ["--upstream-pk", depot.upstream / "upstream.pub", "--tls-cert",
             depot.upstream / "tls" / "cert.pem", "--upstream-url", "http://10.0.0.2"]
    run = sealscan(*args, env={"SEALSCAN_WIFI_PASS": WIFI_PASS})
    assert run.code == 2 and "must be https://HOST[:PORT]" in run.err  # a bad flag value
    args[-1] = "https://10.0.0.2:9443"
    run = sealscan(*args, "--json", env={"SEALSCAN_WIFI_PASS": WIFI_PASS})
    assert run.code == 0, run.text
    assert json.loads(run.out)["upstream_url"] == "https://10.0.0.2:9443"
    assert nvs(deployed)["upstream_url"] == b"bhttps://10.0.0.2:9443"


def test_wrong_board_undeployed_device_and_bad_carrier(blank, depot):
    run = depot.provision(blank.port)
    assert run.code == 1 and "no firmware deployed" in run.err
    run = sealscan(*depot.provision_args(blank.port), "--carrier", "NOPE",
                   env={"SEALSCAN_WIFI_PASS": WIFI_PASS})
    assert run.code == 2 and "carrier 'NOPE'" in run.err  # a bad flag value
    assert deploy(blank, "--board", BOARD).code == 0
    run = depot.provision(blank.port, "--board", "esp32s3-devkitc-st7789")
    assert run.code == 1
    assert run.err == (f"error: {blank.port}: the device is deployed as board {BOARD}, not "
                       "esp32s3-devkitc-st7789\n")
    assert nvs(blank) == {}


def test_no_issuers_key_and_a_retired_one_is_erased(deployed, depot):
    # `issuers` (the upstream's trusted identity issuers) was written and never read by any
    # firmware module: provisioning writes the contract only, and erases a key an older
    # version left (docs/device.md, "Retired").
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pk = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    load_config(depot.upstream).trust_issuer(b"issuer-7", pk)
    assert depot.provision(deployed.port).code == 0
    assert set(nvs(deployed)) == CONTRACT
    report = json.loads(sealscan("verify", "--port", deployed.port, "--json").out)
    assert report["ok"] and "issuers" not in report["nvs_keys"]
    deployed.exec("import esp32\nesp32.NVS('sealscan').set_blob('issuers', b'\\xa0')")
    assert "issuers" in nvs(deployed)  # as an older version left it
    assert depot.provision(deployed.port, "--force").code == 0
    assert set(nvs(deployed)) == CONTRACT


def test_wifi_password_from_the_prompt_is_not_echoed(deployed, depot):
    from click.testing import CliRunner

    from sealscan.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in depot.provision_args(deployed.port)],
                                input=WIFI_PASS + "\n", env={"SEALSCAN_WIFI_PASS": None})
    assert result.exit_code == 0, result.output
    assert "Wi-Fi password" in result.output and WIFI_PASS not in result.output
    assert nvs(deployed)["wifi_pass"] == b"b" + WIFI_PASS.encode()


def test_provisioned_device_restarts_into_the_app_by_itself(deployed, depot):
    mark = len(deployed.output)
    run = depot.provision(deployed.port, "--lease-hours", "1", "--lease-wipe-hours", "2")
    assert run.code == 0, run.text
    assert "restarted into the app" in run.out
    deployed.wait_for("sealscan: ready, device dev-17", 30, since=mark)
    assert nvs(deployed)["lease_s"] == b"i" + (3600).to_bytes(4, "little")


def test_an_id_registered_at_the_upstream_is_refused_and_rekey_gives_it_a_new_key(
        deployed, depot):
    assert depot.provision(deployed.port).code == 0
    assert sealscan("upstream", "import", "--dir", depot.upstream, depot.entries).code == 0
    registered = nvs(deployed)["device_key"]
    depot.entries.unlink()
    # another scanner (here: the same one, re-provisioned) asking for that id is refused
    run = depot.provision(deployed.port, "--force")
    assert run.code == 1
    assert "device id dev-17 is registered at the upstream already" in run.err
    assert "orphaned" in run.err and "--rekey" in run.err
    assert nvs(deployed)["device_key"] == registered
    assert not depot.entries.exists() or depot.entries.read_text() == ""
    # an entry waiting in the entries file counts too (unless this very device holds the id:
    # provisioned again, its stale entry is dropped)
    assert depot.provision(deployed.port, "--force", device_id="dev-30").code == 0
    assert depot.provision(deployed.port, "--force", device_id="dev-30").code == 0
    assert [json.loads(x)["device_id"] for x in depot.entries.read_text().splitlines()] == \
        ["dev-30"]
    assert depot.provision(deployed.port, "--force", device_id="dev-31").code == 0
    run = depot.provision(deployed.port, "--force", device_id="dev-30")
    assert run.code == 1 and "has an entry for dev-30 already" in run.err
    depot.entries.unlink()
    # the explicit re-key: the device gets a new key, the upstream is told what happens
    run = depot.provision(deployed.port, "--rekey")
    assert run.code == 0, run.text
    assert "upstream import --rekey" in run.out and "refuses its old key" in run.out
    new = nvs(deployed)["device_key"]
    assert new != registered
    assert sealscan("upstream", "import", "--dir", depot.upstream, depot.entries).code == 1
    done = sealscan("upstream", "import", "--dir", depot.upstream, depot.entries, "--rekey")
    assert done.code == 0 and "re-keyed dev-17" in done.out
    for secret in (registered[1:], new[1:]):
        assert not leaked(secret, run.text + done.text)


def test_power_cut_at_every_step_of_provision_then_rerun_leaves_one_importable_entry(
        deployed, depot):
    # A cut after each NVS write or the entry (issue 14, item 7): the device is provisioned
    # with the whole key set or not at all, and running provision again (as the runbook says)
    # leaves exactly one entry for the device, which the upstream imports.
    from sealscan.device import provision as prov
    from sealscan.device.link import NVS_NAMESPACE, DeviceLink
    from sealscan.upstream.provisioning import read_entries

    real_nvs, real_entry = DeviceLink.nvs_write, prov.keep_entry
    # cut after: erasing `provisioned`, writing the keys, writing the entry
    for cut_at in ("erase", "keys", "entry"):
        calls = []

        def nvs_then_cut(self, values, *, erase=(), namespace=NVS_NAMESPACE, _at=cut_at,
                         calls=calls):
            real_nvs(self, values, erase=erase, namespace=namespace)
            calls.append("erase" if erase else "keys")
            if calls[-1] == _at:
                deployed.power_cut()

        def entry_then_cut(*args, _at=cut_at):
            real_entry(*args)
            if _at == "entry":
                deployed.power_cut()

        DeviceLink.nvs_write, prov.keep_entry = nvs_then_cut, entry_then_cut
        try:
            run = depot.provision(deployed.port, "--force")
        finally:
            DeviceLink.nvs_write, prov.keep_entry = real_nvs, real_entry
        assert run.code != 0, cut_at
        mark = len(deployed.output)
        deployed.power_on()
        deployed.wait_for(">>> ", since=mark)
        keys = nvs(deployed)
        # provisioned (1) only if every key is there
        assert "provisioned" not in keys or set(keys) == CONTRACT, cut_at
        run = depot.provision(deployed.port, "--force")
        assert run.code == 0, run.text
        entries = read_entries(load_config(depot.upstream).private_key(),
                               depot.entries.read_text())
        assert [e.device_id for e in entries] == ["dev-17"], cut_at
        assert entries[0].device_key == nvs(deployed)["device_key"][1:]
