"""Re-staging without a cable: an RNCF1: config code moves a handheld to another upstream
URL and Wi-Fi; the only application write to flash, and only those NVS keys."""

import socket
import time

from test_e2e_capture import login
from test_e2e_faults import capture

from sealscan import codes
from sealsim.audit import Snapshot, audit
from sealsim.endtoend import CANARIES, WAYBILLS


def test_config_code_moves_the_device_to_the_right_upstream(scanner, upstream):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"https://127.0.0.1:{s.getsockname()[1]}"  # nothing listens here
    dev, keys = scanner(url=dead)
    login(dev, keys)
    before = Snapshot.take(dev.state)
    written = len(dev.writes)
    token = capture(dev, upstream, WAYBILLS[0])
    dev.wait_for("upload failed", 20)
    cfg = dict(ssid="depot-2", password="another-secret", upstream_url=upstream.url,
               expires_at=int(time.time()) + 600)
    forged = codes.make_config(bytes(32), serial=3, **cfg)  # type: ignore[arg-type]
    mark = len(dev.output)
    dev.scan(forged)
    dev.wait_for("scan refused: Settings code bad", 20, since=mark)
    good = codes.make_config(keys.config_key, serial=3, **cfg)  # type: ignore[arg-type]
    dev.scan(good)
    dev.wait_for("config applied, serial 3", 20, since=mark)
    dev.wait_for("record 0 verdict ok", 30, since=mark)
    mark = len(dev.output)
    dev.scan(good)  # replayed
    dev.wait_for("scan refused: Settings code used", 20, since=mark)
    nvs = dev.nvs()
    assert nvs["upstream_url"] == upstream.url.encode()
    assert nvs["wifi_ssid"] == b"depot-2"
    whats = [what for _, _, what in dev.writes[written:]]
    assert whats and all(
        "commit" in w or any(f"'{k}'" in w for k in ("wifi_ssid", "wifi_pass", "upstream_url",
                                                      "config_serial")) for w in whats), whats
    report = audit(before, dev.state, [*CANARIES, token, WAYBILLS[0]],
                   journal=dev.writes[written:], allowed={"nvs/sealscan.nvs"})
    report.check()
    assert [r.index for _, r in upstream.records(keys.device_id)] == [0]
