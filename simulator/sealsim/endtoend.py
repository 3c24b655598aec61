"""End-to-end kit (tests/e2e and `make demo`): the real upstream (`sealscan upstream init`,
`trust-issuer`, `import`, `serve` over loopback HTTPS), the real firmware deployed as a depot
would (main.py + .mpy + board.json, NVS namespace "sealscan" per docs/device.md) on a simulated
device, and scanned codes with canary data."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_certificate

from sealscan import codes, fwtools
from sealscan.boards import Board, load_board
from sealscan.device.firmware import MANIFEST, FirmwareBuild, font_asset
from sealscan.fonttool import DEVICE_NAME as FONT_BIN
from sealscan.paths import FIRMWARE_DIR
from sealscan.protocol import generate_device_key
from sealscan.upstream.provisioning import make_provisioning_entry
from sealsim.device import Device
from sealsim.storage import FlashStorage

# Canary identities: none of these may ever reach a screen, a console, or flash.
CANARY_NAME = "欧阳金丝雀"
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13912345678"
CANARY_LATIN_NAME = "CANARYBIRDSON"
CANARY_PASSPORT = "E99887766"
CANARY_PHONE2 = "85298765432"
CANARIES = [CANARY_NAME, CANARY_ID, CANARY_PHONE, CANARY_LATIN_NAME, CANARY_PASSPORT,
            CANARY_PHONE2]
CARRIER = "SF"
WAYBILLS = ["SF1234567890123", "SF2234567890123", "SF3234567890123", "SF4234567890123"]


def sealscan(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sealscan", *args], capture_output=True,
                          text=True, timeout=60, check=check)


class Upstream:
    """`sealscan upstream serve` on 127.0.0.1 (a free port), TLS with its own cert."""

    def __init__(self, directory: Path, host: str = "127.0.0.1"):
        """`host`: the name its certificate carries (and devices connect to); it always
        listens on 127.0.0.1 (give "localhost" to make devices look the name up)."""
        self.dir = directory
        self.host = host
        sealscan("upstream", "init", "-d", str(directory), "--host", host)
        self.cfg = json.loads((directory / "upstream.json").read_text()) \
            if (directory / "upstream.json").exists() else {}
        self.public_key = bytes.fromhex((directory / "upstream.pub").read_text().strip())
        pem = (directory / "tls" / "cert.pem").read_bytes()
        self.cert_der = load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        self.issuer = codes.new_test_issuer()
        pub = directory / "issuer.json"
        pub.write_text(json.dumps(codes.issuer_public_data(self.issuer)))
        sealscan("upstream", "trust-issuer", "-d", str(directory), "--allow-test-issuer",
                 str(pub))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = directory / "serve.log"

    def register(self, device_id: str, device_key: bytes) -> None:
        path = self.dir / f"entry-{device_id}.jsonl"
        path.write_text(make_provisioning_entry(self.public_key, device_id, device_key) + "\n")
        sealscan("upstream", "import", "-d", str(self.dir), str(path))
        path.unlink()

    def start(self) -> Upstream:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sealscan", "upstream", "serve", "-d", str(self.dir),
             "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE, stderr=log)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if select.select([self.proc.stdout], [], [], 0.2)[0]:
                m = re.search(rb"listening on https://[^:]+:(\d+)", self.proc.stdout.readline())
                if m:
                    self.port = int(m.group(1))
                    return self
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("upstream did not start: " + self.log_path.read_text()[-500:])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        with contextlib.suppress(Exception):
            self._log.close()

    def stats(self) -> list[dict]:
        return json.loads(sealscan("upstream", "stats", "-d", str(self.dir), "--json").stdout)

    def records(self, device_id: str) -> list:
        from sealscan.upstream.config import load_config
        from sealscan.upstream.registry import open_store
        store = open_store(load_config(self.dir))
        try:
            return list(store.load_records(device_id))
        finally:
            store.close()

    def identity(self, **kw: object) -> str:
        now = int(time.time())
        args = dict(id_type=11, id_number=CANARY_ID, name=CANARY_NAME, phone=CANARY_PHONE,
                    issued_at=now - 60, expires_at=now + 86400)
        args.update(kw)
        return codes.make_identity_token(self.issuer, **args)  # type: ignore[arg-type]


@dataclass
class Keys:
    device_id: str
    device_key: bytes
    badge_key: bytes
    config_key: bytes

    def badge(self, courier_id: str = "courier-7", carrier: str = CARRIER,
              expires_in: int = 86400) -> str:
        return codes.make_badge(self.badge_key, courier_id=courier_id, display_name="Li",
                                carrier=carrier, expires_at=int(time.time()) + expires_in)


def build_firmware(out: Path, src: Path = FIRMWARE_DIR) -> Path:
    """What `sealscan deploy` puts on the filesystem: main.py as source, the rest as .mpy."""
    if out.exists():
        shutil.rmtree(out)
    fwtools.compile_firmware(src, out)
    (out / "main.mpy").unlink()
    shutil.copy(src / "main.py", out / "main.py")
    return out


def manifest(files: dict[str, bytes]) -> bytes:
    """firmware.json for `files` (name -> content), as `sealscan deploy` writes it last
    (main.py checks it at boot)."""
    return FirmwareBuild({n: d for n, d in files.items() if n != MANIFEST}, "e2e").manifest()


def provision(state: Path, board: Board, fw: Path, upstream: Upstream,
              device_id: str = "scanner-1", wifi: tuple[str, str] = ("depot", "depot-secret"),
              url: str | None = None, lease: tuple[int, int] | None = None) -> Keys:
    """Write the device's flash as deploy + provision would (docs/device.md), and register it."""
    keys = Keys(device_id, generate_device_key(), os.urandom(32), os.urandom(32))
    storage = FlashStorage(board, state)
    try:
        files = {p.name: p.read_bytes() for p in fw.iterdir()}
        files["board.json"] = board.device_config_json().encode()
        files[FONT_BIN] = font_asset(board)
        files[MANIFEST] = manifest(files)
        storage.deploy(files)
        nvs = storage.flash.nvs()
        text = {"device_id": device_id, "upstream_url": url or upstream.url,
                "carrier": CARRIER, "wifi_ssid": wifi[0], "wifi_pass": wifi[1]}
        blobs = {"device_key": keys.device_key, "upstream_pk": upstream.public_key,
                 "tls_cert": upstream.cert_der, "badge_key": keys.badge_key,
                 "config_key": keys.config_key,
                 **{k: v.encode() for k, v in text.items()}}
        for key in ("device_id", "device_key", "upstream_pk", "upstream_url", "tls_cert",
                    "badge_key", "config_key", "carrier", "wifi_ssid", "wifi_pass"):
            nvs.set_blob("sealscan", key, blobs[key])
        nvs.set_int("sealscan", "config_serial", 0)
        if lease:
            nvs.set_int("sealscan", "lease_s", lease[0])
            nvs.set_int("sealscan", "lease_wipe_s", lease[1])
        nvs.set_int("sealscan", "provisioned", 1)
    finally:
        storage.close()
    upstream.register(device_id, keys.device_key)
    return keys


DEFAULT = "esp32-devkitc-gm65"


def board(name: str = DEFAULT) -> Board:
    return load_board(name)


def device(b: Board, state: Path, **kwargs: object) -> Device:
    """A started simulated device. Its heap grows from the board's RAM budget, which mbedTLS
    shares as on an ESP32 (no allowance on top: simulator/interp, docs/simulator.md)."""
    return Device(b, state, **kwargs).start()  # type: ignore[arg-type]


def frame_text(img) -> list[str]:  # noqa: ANN001 - a PIL image
    """Text drawn with framebuf.text() on one captured frame."""
    from sealsim.screen import read_text
    data = img.convert("L").tobytes()
    w, h = img.size
    return read_text([[v > 0 for v in data[y * w:(y + 1) * w]] for y in range(h)])


def all_screen_text(dev: Device) -> str:
    """Every captured frame's text, joined (what a person could have seen)."""
    return "\n".join("\n".join(frame_text(f)) for f in list(dev.panel.frames))


class AnswerTamperer:
    """A TLS man in the middle holding the upstream's own certificate and key (the worst
    case: a stolen server key). It forwards each batch to the real upstream and corrupts the
    answer while `mode` is set: "forge" flips a MAC byte, "garble" sends random bytes with
    200, "error" answers 500, "replace" sends `replacement` (status, body) instead (a forged
    or replayed revocation). The device must drop nothing on any of these. `answers` keeps
    every (status, body) the upstream gave."""

    def __init__(self, upstream: Upstream):
        import http.server
        import ssl
        import threading

        self.upstream = upstream
        self.mode: str | None = "forge"
        self.seen: list[str] = []
        self.answers: list[tuple[int, bytes]] = []
        self.replacement: tuple[int, bytes] = (403, b"")
        kit = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = kit._forward(body)
                kit.answers.append((status, answer))
                mode = kit.mode
                kit.seen.append(mode or "pass")
                if mode == "forge" and status == 200:
                    answer = answer[:-1] + bytes([answer[-1] ^ 1])
                elif mode == "garble":
                    status, answer = 200, os.urandom(len(answer) or 40)
                elif mode == "error":
                    status, answer = 500, b""
                elif mode == "replace":
                    status, answer = kit.replacement
                self.send_response(status)
                self.send_header("Content-Type", "application/cbor")
                self.send_header("Content-Length", str(len(answer)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(upstream.dir / "tls" / "cert.pem", upstream.dir / "tls" / "key.pem")
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        import http.client
        import ssl
        ctx = ssl.create_default_context(cafile=str(self.upstream.dir / "tls" / "cert.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.upstream.port, context=ctx,
                                           timeout=20)
        try:
            conn.request("POST", "/v1/batches", body, {"Content-Type": "application/cbor"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def provision_with_depot_tools(dev: Device, upstream: Upstream, work: Path,
                               device_id: str = "scanner-1") -> Keys:
    """What a depot technician does, with the real commands over the device's console:
    `sealscan deploy`, `sealscan provision` (which restarts the device into the app),
    `sealscan upstream import`."""
    work.mkdir(parents=True, exist_ok=True)
    badge, config = work / "badge.key", work / "config.key"
    for p in (badge, config):
        if not p.exists():
            sealscan("codes", "init-key", "--out", str(p))
    entries = work / f"entries-{device_id}.jsonl"
    sealscan("deploy", "--port", dev.port, "--board", dev.board.name)
    env = dict(os.environ, SEALSCAN_WIFI_PASS="depot-secret")
    r = subprocess.run(
        [sys.executable, "-m", "sealscan", "provision", "--port", dev.port, "--device-id",
         device_id, "--upstream", str(upstream.dir), "--upstream-url", upstream.url,
         "--carrier", CARRIER, "--badge-key", str(badge), "--config-key", str(config),
         "--wifi-ssid", "depot", "--entries", str(entries)],
        capture_output=True, text=True, timeout=120, env=env)
    if r.returncode:
        raise RuntimeError("provision failed: " + r.stderr[-500:])
    sealscan("upstream", "import", "-d", str(upstream.dir), str(entries))
    return Keys(device_id, b"", codes.load_key_file(badge), codes.load_key_file(config))


# A main.py for measurements only (tests, bench): the product's `import app; app.main()` plus
# an asyncio task that, while a session-setup module (x25519, then hpkeks) is loaded, collects
# at every pause of the setup (X25519 yields to the loop every few ladder steps, the key
# schedule once between its exports) and remembers the lowest free heap. It prints "setup
# low, free N" once the setup is over. Its own bytecode and task (~1.1 KB, bench_app reports
# it) count against the app, so the number is pessimistic; work between pauses is not seen.
SETUP_WATCH_MAIN = """\
import asyncio, gc, sys
def _w():
    low = 0
    while True:
        if "x25519" in sys.modules or "hpkeks" in sys.modules:
            gc.collect()
            f = gc.mem_free()
            if not low or f < low:
                low = f
        elif low:
            print("setup low, free", low)
            return
        yield
async def _watch():
    for _ in _w():
        await asyncio.sleep(0)
asyncio.create_task(_watch())
import app
app.main()
"""
SETUP_LOW = rb"setup low, free (\d+)\r?\n"


def watch_session_setup(state: Path, board: Board) -> None:
    """Replace a provisioned device's main.py with SETUP_WATCH_MAIN (before it starts)."""
    storage = FlashStorage(board, state)
    try:
        files = storage.files()
        files["/main.py"] = SETUP_WATCH_MAIN.encode()
        storage.deploy({"main.py": files["/main.py"],
                        MANIFEST: manifest({n.lstrip("/"): d for n, d in files.items()})})
    finally:
        storage.close()
