"""A throwaway local PostgreSQL server for tests, benches and demos (never for production).

It is the PostgreSQL 16 server that the PyPI wheel `pgserver` bundles (installed by `make
setup` from requirements.lock, so a fresh machine needs nothing else): `initdb` and start in
a directory, listening on a unix socket only (no TCP port), stopped when this process
exits. As root, pgserver runs the server as a system user `pgserver` it creates.

    with LocalPostgres(tmpdir) as pg:
        url = pg.new_database()          # a fresh, empty database per test
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

_names = itertools.count()


class LocalPostgres:
    def __init__(self, directory: Path | str | None = None):
        """`directory` is the data directory; by default a new one in the system temporary
        directory (as root the server's own user must reach it: a test's tmp_path, under a
        0700 folder, is not reachable), removed by stop()."""
        self._own = directory is None
        if directory is None:
            parent = Path(tempfile.mkdtemp(prefix="sealscan-pg-"))
            parent.chmod(0o711)
            directory = parent / "data"
        self.directory = Path(directory)
        self._server: Any = None

    def start(self) -> LocalPostgres:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            import pgserver

            self._server = pgserver.get_server(self.directory, cleanup_mode="stop")
        return self

    def url(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database))

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._own:
            shutil.rmtree(self.directory.parent, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
