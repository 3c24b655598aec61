"""The store is protected like the key (issue 13, 14.5): every file the upstream writes that
holds keys, credentials or records is created 0600, whatever the umask."""

import os
import stat

from upkit import ServerThread, make_state, record, register

# Files that are public by design: the key devices get, and the certificate they pin.
PUBLIC = {"upstream.pub", "tls/cert.pem"}


def modes(directory):
    out = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, directory)] = stat.S_IMODE(os.stat(path).st_mode)
    return out


def test_every_secret_or_record_file_is_0600(tmp_path, backend):
    old = os.umask(0o022)  # the usual umask: files default to 0644
    try:
        cfg = make_state(tmp_path)
        dev, = register(cfg, "dev-a")
        with ServerThread(cfg) as srv:
            client = srv.client()
            assert dev.answer(client.post_batch(dev.body(dev.seal([record()])))[1]).ack
        written = modes(cfg.directory)
    finally:
        os.umask(old)
    expected = {"upstream.json", "upstream.key", "tls/key.pem", "tls/cert.pem", "upstream.pub"}
    if backend == "sqlite":
        expected |= {"upstream.db"}
    assert expected <= set(written)
    for name, mode in written.items():
        if name not in PUBLIC:
            assert mode == 0o600, (name, oct(mode))  # includes upstream.db-wal / -shm


def test_an_existing_world_readable_store_is_tightened(tmp_path, backend):
    if backend != "sqlite":  # PostgreSQL's files belong to its server (0600 in a 0700 dir)
        return
    cfg = make_state(tmp_path)
    register(cfg, "dev-a")  # creates the store
    db = cfg.db_path
    db.chmod(0o644)
    register(cfg, "dev-b")  # any use of the store
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
