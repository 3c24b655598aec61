import pytest

from sealsim import endtoend as e2ekit


@pytest.fixture(scope="session")
def firmware_build(tmp_path_factory):
    return e2ekit.build_firmware(tmp_path_factory.mktemp("fw") / "fs")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    up = e2ekit.Upstream(tmp_path_factory.mktemp("upstream") / "state").start()
    yield up
    up.stop()


@pytest.fixture
def scanner(tmp_path, firmware_build, upstream, request):
    """make(name, url=None) -> (device, keys): a provisioned, started simulated handheld."""
    started = []
    counter = [0]

    def make(url: str | None = None, depot: bool = False, board: str = e2ekit.DEFAULT,
             setup_watch: bool = False, **kwargs):
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
                                device_id=device_id, url=url)
        if setup_watch:
            e2ekit.watch_session_setup(state, e2ekit.board(board))
        dev = e2ekit.device(e2ekit.board(board), state, **kwargs)
        started.append(dev)
        return dev, keys

    yield make
    for dev in started:
        dev.close()
