import os
import re
import tempfile
from pathlib import Path

import pytest

from sealsim import endtoend as e2ekit
from sealsim.audit import sweep

# Every directory the e2e scenarios wrote to: swept for canaries once they are all done.
_WRITTEN: list[Path] = []
# The upstream's record store is the one place the identity token may be (upstream.md).
_TOKEN = re.compile(rb"RNID1:[0-9A-Z $%*+\-./:]{40}")  # a scanned token's text
_RECORD_STORE = {"upstream.db", "upstream.db-wal", "upstream.db-shm", "upstream.db-journal"}


@pytest.fixture(scope="session", autouse=True)
def pii_sweep(tmp_path_factory):
    """After the e2e scenarios: every file they wrote (device state dirs and flash images,
    the upstream's state and log, console transcripts, temporary files of every process of
    the run: TMPDIR points into the run's own directory) holds no canary identity in UTF-8,
    UTF-16, hex or base64, and no identity token outside the upstream's record store."""
    tmp = tmp_path_factory.mktemp("tmpdir")
    _WRITTEN.append(tmp)
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None
    yield
    if saved is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved
    tempfile.tempdir = None
    hits = []
    for root in _WRITTEN:
        hits += sweep(root, e2ekit.CANARIES, patterns={"identity token": _TOKEN},
                      allowed=lambda p: p.name in _RECORD_STORE)
    assert not hits, "canary data written by the e2e run:\n" + "\n".join(
        f"  {h}" for h in hits)


@pytest.fixture(autouse=True)
def _swept(tmp_path):
    _WRITTEN.append(tmp_path)


@pytest.fixture(scope="session")
def firmware_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("fw")
    _WRITTEN.append(out)
    return e2ekit.build_firmware(out / "fs")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    state = tmp_path_factory.mktemp("upstream")
    _WRITTEN.append(state)
    up = e2ekit.Upstream(state / "state").start()
    yield up
    up.stop()


@pytest.fixture
def scanner(tmp_path, firmware_build, upstream, request):
    """make(name, url=None) -> (device, keys): a provisioned, started simulated handheld."""
    started = []
    counter = [0]

    def make(url: str | None = None, depot: bool = False, board: str = e2ekit.DEFAULT,
             setup_watch: bool = False, lease: tuple[int, int] | None = None, **kwargs):
        """depot=True: an empty board deployed and provisioned with `sealscan deploy` and
        `sealscan provision` over its console; otherwise the same flash contents (docs/device.md)
        are written straight into its state directory, which is faster. setup_watch=True:
        main.py also reports the lowest free heap of the first session setup
        (e2ekit.SETUP_WATCH_MAIN; measurements only)."""
        counter[0] += 1
        device_id = f"{request.node.name[5:25]}-{counter[0]}".replace("_", "-")
        state = tmp_path / f"dev{counter[0]}"
        if depot:
            dev = e2ekit.device(e2ekit.board(board), state, **kwargs)
            started.append(dev)
            keys = e2ekit.provision_with_depot_tools(dev, upstream, tmp_path / "depot",
                                                     device_id)
            return dev, keys
        keys = e2ekit.provision(state, e2ekit.board(board), firmware_build, upstream,
                                device_id=device_id, url=url, lease=lease)
        if setup_watch:
            e2ekit.watch_session_setup(state, e2ekit.board(board))
        dev = e2ekit.device(e2ekit.board(board), state, **kwargs)
        started.append(dev)
        return dev, keys

    yield make
    for i, dev in enumerate(started, 1):
        dev.close()
        # the console as a technician's serial log would keep it (swept by pii_sweep)
        (tmp_path / f"console-{i}.log").write_bytes(bytes(dev.output))
