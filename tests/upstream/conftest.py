import pytest
from upkit import ServerThread, make_state, register


@pytest.fixture
def cfg(tmp_path):
    return make_state(tmp_path)


@pytest.fixture
def devices(cfg):
    return register(cfg, "dev-a", "dev-b")


@pytest.fixture
def server(cfg, devices):
    with ServerThread(cfg) as srv:
        yield srv
