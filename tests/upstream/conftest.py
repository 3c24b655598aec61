"""Every upstream test runs twice: on SQLite and on a real PostgreSQL server (the one
bundled by the `pgserver` wheel, started once per test session; a fresh database per
test). Nothing is skipped on either path."""

import pytest
import upkit
from upkit import ServerThread, make_state, register

from sealscan.upstream.pglocal import LocalPostgres


@pytest.fixture(scope="session")
def local_postgres():
    pg = LocalPostgres().start()
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"], autouse=True)
def backend(request, monkeypatch):
    """The store every make_state() of this test uses."""
    if request.param == "postgresql":
        pg = request.getfixturevalue("local_postgres")
        monkeypatch.setattr(upkit, "new_database", pg.new_database)
    else:
        monkeypatch.setattr(upkit, "new_database", None)
    return request.param


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
