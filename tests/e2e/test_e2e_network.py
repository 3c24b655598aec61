"""Wi-Fi and DNS as the esp32 port's driver has them (issue 10): the driver reconnects by
itself and a second connect() while it connects raises OSError("Wifi Internal State
Error"); a DNS lookup takes time and can fail. Neither stops the app: it looks the upstream's
name up when Wi-Fi comes up (never on an upload's path), holds uploads until it has an
address, and keeps scanning meanwhile."""

import time

import pytest

from sealsim import endtoend as e2ekit
from sealsim.endtoend import WAYBILLS


@pytest.fixture(scope="module")
def named_upstream(tmp_path_factory):
    up = e2ekit.Upstream(tmp_path_factory.mktemp("named") / "state", host="localhost").start()
    yield up
    up.stop()


def wifi_cycle(dev, dns_ok: bool) -> int:
    """The access point goes away and comes back with the resolver answering or not; the
    console offset before."""
    dev.dns_ok = dns_ok
    mark = len(dev.output)
    dev.set_wifi(False)
    dev.wait_for("wifi down", 20, since=mark)
    dev.set_wifi(True)
    return mark


def test_wifi_state_error_and_a_failing_dns_do_not_stop_the_app(tmp_path, named_upstream,
                                                                 firmware_build):
    board = e2ekit.board()
    keys = e2ekit.provision(tmp_path / "dev", board, firmware_build, named_upstream,
                            device_id="named-upstream")
    dev = e2ekit.device(board, tmp_path / "dev", wifi=False)
    try:
        dev.dns_ok = False
        dev.wait_for("ready", 30)
        # the access point stays away longer than any reconnect interval of the app's:
        # the driver keeps trying by itself; connecting again would raise its state error
        mark = len(dev.output)
        dev.scan(keys.badge())
        dev.wait_for("courier logged in", 20, since=mark)
        time.sleep(11)
        dev.set_wifi(True)  # the upstream's name does not resolve
        dev.wait_for("DNS failed: OSError", 30, since=mark)
        dev.wait_for("session started", 30, since=mark)
        token = named_upstream.identity()
        dev.scan(token)
        dev.scan(WAYBILLS[0])
        dev.wait_for("sealed record 0", 20, since=mark)  # scanning goes on
        time.sleep(2)
        assert dev.net_connects == 0  # no upload without an address, no DNS on its path
        # the resolver answers again; the next lookup (Wi-Fi back) finds the address
        m2 = wifi_cycle(dev, dns_ok=True)
        dev.wait_for("record 0 verdict ok", 40, since=m2)
        (_, rec), = named_upstream.records(keys.device_id)
        assert rec.identity_token == token.encode()
        # a failing resolver later keeps the address found before: uploads go on
        m3 = wifi_cycle(dev, dns_ok=False)
        dev.wait_for("wifi up", 20, since=m3)
        dev.scan(named_upstream.identity())
        dev.scan(WAYBILLS[1])
        dev.wait_for("record 1 verdict ok", 40, since=m3)
        out = dev.output.decode("utf-8", "replace")
        assert "task wifi failed" not in out and "Traceback" not in out
    finally:
        dev.close()
