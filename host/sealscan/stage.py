"""`sealscan stage`: every scanner on the station staged at once, one thread each.

Per scanner, in order (each step is idempotent, so a re-run redoes at most the step it was in):

    identify   the chip on the flashing port (esptool): model, MAC (the scanner's identity
               here), and the board: the one the ids CSV names, else the one for that chip
    flash      the board's pinned image, unless the chip holds it already (MD5 read back)
    deploy     the firmware (`sealscan deploy`: unchanged files are skipped)
    provision  device id from the CSV or the pattern, keys made here (`sealscan provision`:
               refused for an id registered already unless --rekey); one entries file each
    verify     `sealscan verify`: firmware, board.json and every NVS key present
    register   `sealscan upstream import` of its entry (with --upstream DIR; identical
               imports are no-ops)
    e2e        a test record sealed and sent by the device's own firmware over its pinned
               TLS, which counts only once its ack's MAC verified on the device

The state lives in the output directory: `devices/<mac>.json` (steps done, device id),
`entries/<device id>.jsonl` (the sealed entry), `receipts/<mac>.json` (written only after the
e2e ack: a device without one is not staged) and `summary.json`. A receipt holds the board,
chip, MAC, image sha256, firmware hash, device id and the sha256 of the sealed entry; never a
key. Threads stop between steps when `stop` is set (Ctrl-C).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sealscan import codes, flashing
from sealscan.boards import Board, load_board
from sealscan.device import deploy as deploying
from sealscan.device import inspect
from sealscan.device import provision as prov
from sealscan.device.firmware import FirmwareBuild, build_firmware
from sealscan.device.link import DeviceError, open_link
from sealscan.errors import InputError, SealscanError

STEPS = ("identify", "flash", "deploy", "provision", "verify", "register", "e2e")
STAGED, FAILED, ALREADY, INTERRUPTED = "staged", "failed", "already staged", "interrupted"
UNREGISTERED = "not registered"  # provisioned and verified; its entry waits for an import
STAGE_BAUD = 921600
# Failures a retry cannot mend: reported at once, the device left as it is.
PERMANENT = (flashing.WrongChip, flashing.ImageRefused, flashing.ImageUnreadable,
             prov.AlreadyRegistered, prov.AlreadyProvisioned, InputError,
             deploying.WrongBoard)


class StageError(InputError):
    """Bad station input (ports, ids CSV, images): one line, exit 3."""


@dataclass(frozen=True)
class Scanner:
    """One slot of the station: its flashing port and console port (the same port on real
    hardware; the simulator has two), and what the ids CSV says about it."""

    port: str
    console: str
    board: str | None = None
    device_id: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Scanner:
        """PORT, or FLASHPORT+CONSOLEPORT."""
        flash, _, console = spec.partition("+")
        if not flash:
            raise StageError(f"port {spec!r}: empty")
        return cls(flash, console or flash)


@dataclass
class Image:
    path: Path
    sha256: str | None  # the hash the technician vouches for (boards without a pin)


@dataclass
class StageOptions:
    boards: list[Board]
    images: dict[str, Image]  # board name -> image
    upstream: prov.Upstream
    upstream_dir: Path | None  # given: entries are imported and the e2e record is sent
    badge_key: bytes
    config_key: bytes
    carrier: str
    wifi_ssid: str
    wifi_pass: str
    out: Path
    id_pattern: str | None = None  # e.g. "sz-{n:03d}"
    first: int = 1
    lease_hours: float = prov.LEASE_HOURS
    lease_wipe_hours: float = prov.LEASE_WIPE_HOURS
    baud: int = STAGE_BAUD
    before: str = "default-reset"
    retries: int = 1
    rekey: bool = False

    def __repr__(self) -> str:  # never show the keys or the Wi-Fi password
        return f"StageOptions(out={str(self.out)!r}, boards={[b.name for b in self.boards]})"


@dataclass
class DeviceRun:
    """One scanner's progress, shown in the live table."""

    scanner: Scanner
    status: str = "waiting"  # waiting, a step name, staged, failed, already staged, ...
    detail: str = ""
    mac: str | None = None
    board: str | None = None
    device_id: str | None = None
    attempts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # step -> time it took
    skipped: list[str] = field(default_factory=list)  # steps found done already
    receipt: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.status in (STAGED, FAILED, ALREADY, INTERRUPTED, UNREGISTERED)

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.scanner.port, "console": self.scanner.console,
                "status": self.status, "detail": self.detail, "mac": self.mac,
                "board": self.board, "device_id": self.device_id, "attempts": self.attempts,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "skipped": self.skipped}


def read_ids_csv(path: Path) -> dict[str, tuple[str, str | None]]:
    """port -> (device id, board or None) from a CSV with columns port, device_id[, board]."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise StageError(f"{path}: cannot read the ids CSV ({e})") from None
    out: dict[str, tuple[str, str | None]] = {}
    for n, row in enumerate(rows, 2):
        port, dev = (row.get("port") or "").strip(), (row.get("device_id") or "").strip()
        if not port or not dev:
            raise StageError(f"{path}: line {n}: needs port and device_id")
        if port in out or dev in {d for d, _ in out.values()}:
            raise StageError(f"{path}: line {n}: port or device id {dev!r} appears twice")
        out[port] = (dev, (row.get("board") or "").strip() or None)
    return out


def check_pattern(pattern: str) -> str:
    try:
        sample = pattern.format(n=1)
    except (KeyError, IndexError, ValueError) as e:
        raise StageError(f"id pattern {pattern!r}: use {{n}}, e.g. sz-{{n:03d}} ({e})"
                         ) from None
    if sample == pattern.format(n=2):
        raise StageError(f"id pattern {pattern!r}: must contain {{n}}")
    return pattern


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _mac_name(mac: str) -> str:
    return mac.replace(":", "")


# Run on the device over its console (raw REPL) after registration: the firmware's own
# sealer and uplink seal one test record, send it over the pinned TLS and settle it only on
# an answer whose MAC verifies. Prints counts only.
_E2E_SCRIPT = """\
import gc, time, asyncio, network, esp32, socket
import bootload, config, sealer, uplink
cfg = bootload.read_config(esp32.NVS(config.NAMESPACE))
w = network.WLAN(network.STA_IF)
w.active(True)
if not w.isconnected():
    w.connect(cfg.wifi_ssid, cfg.wifi_pass)
t0 = time.ticks_ms()
while not w.isconnected() and time.ticks_diff(time.ticks_ms(), t0) < 20000:
    time.sleep_ms(100)
if time.gmtime()[0] < 2024:
    try:
        import ntptime
        ntptime.settime()
    except Exception:
        pass
addr = socket.getaddrinfo(cfg.host, cfg.port)[0][-1][0]  # uplink takes it resolved
gc.collect()
s = sealer.Sealer(cfg.device_id, cfg.device_key, cfg.upstream_pk, 2048)
async def _t():
    await s.start_session()
    s.seal(sealer.unix_time(), cfg.carrier, {waybill!r}, {token!r}, "depot-stage")
    gc.collect()
    with s.batch() as b:
        enc = b.enc
        st, body, _ = await uplink.post_batch(addr, cfg.host, cfg.port,
                                              uplink.ssl_context(cfg.tls_cert), b)
    ok = 0
    if st == 200:
        ok = 1 if s.settle(enc, body) is not None and len(s.queue) == 0 else 0
    print("STAGE-E2E", st, ok)
asyncio.run(_t())
"""
_E2E_RE = re.compile(r"STAGE-E2E (\d+) ([01])")
E2E_WAYBILL = {"SF": "SF1000000000001"}


class Station:
    """Stages `scanners` with `options`; `changed` is called (from any thread) whenever a
    device's row changes."""

    def __init__(self, scanners: list[Scanner], options: StageOptions,
                 changed: Callable[[DeviceRun], None] | None = None):
        if not scanners:
            raise StageError("no scanners: give --port, or plug scanners in (`sealscan ports`)")
        ports = [s.port for s in scanners]
        if len(set(ports)) != len(ports):
            raise StageError("a port is given twice")
        self.opts = options
        self.runs = [DeviceRun(s) for s in scanners]
        self.changed = changed or (lambda _r: None)
        self.stop = threading.Event()
        self._ids_lock = threading.Lock()
        self._import_lock = threading.Lock()
        self._taken: set[str] = set()
        self._built: dict[str, tuple[bytes, FirmwareBuild]] = {}  # board -> (image, build)
        self._build_lock = threading.Lock()
        self._issuer = codes.new_test_issuer()
        self.out = options.out
        for sub in ("devices", "entries", "receipts"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)

    # -- the run -----------------------------------------------------------------------------

    def start(self) -> None:
        """Every scanner's thread at once (they never wait for each other)."""
        self._t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._device, args=(r,), daemon=True,
                                          name=f"stage-{r.scanner.port}") for r in self.runs]
        for t in self._threads:
            t.start()

    def wait(self) -> dict[str, Any]:
        """Until every thread is done (KeyboardInterrupt passes through: set `stop`, then
        wait() again, and each thread stops after its current step)."""
        for t in self._threads:
            while t.is_alive():
                t.join(0.2)
        return self.summary(time.monotonic() - self._t0)

    def run(self) -> dict[str, Any]:
        self.start()
        return self.wait()

    def summary(self, wall: float) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.runs:
            counts[r.status] = counts.get(r.status, 0) + 1
        per_step: dict[str, list[float]] = {}
        for r in self.runs:
            for step, s in r.seconds.items():
                per_step.setdefault(step, []).append(s)
        parts = [p.read_text(encoding="utf-8") for p in sorted((self.out / "entries")
                                                               .glob("*.jsonl"))]
        (self.out / "entries.jsonl").write_text("".join(parts), encoding="utf-8")
        summary = {"wall_seconds": round(wall, 3), "counts": counts,
                   "step_seconds_mean": {k: round(sum(v) / len(v), 3)
                                         for k, v in per_step.items()},
                   "devices": [r.to_dict() for r in self.runs]}
        _write_json(self.out / "summary.json", summary)
        return summary

    def _set(self, r: DeviceRun, status: str, detail: str = "") -> None:
        r.status, r.detail = status, detail
        self.changed(r)

    def _device(self, r: DeviceRun) -> None:
        try:
            self._stage(r)
        except (SealscanError, OSError) as e:  # every library failure: one line
            self._set(r, FAILED, f"{r.status}: {e}")
        except _Interrupted:
            self._set(r, INTERRUPTED, f"stopped before {r.status}; run stage again")
        except Exception as e:  # noqa: BLE001 - one device's bug never stops the others
            self._set(r, FAILED, f"{r.status}: unexpected {type(e).__name__}")

    def _step(self, r: DeviceRun, name: str, fn: Callable[[], Any]) -> Any:
        """Run one step, retrying what a retry can mend."""
        if self.stop.is_set():
            raise _Interrupted()
        self._set(r, name)
        t0 = time.monotonic()
        for attempt in range(self.opts.retries + 1):
            r.attempts += 1
            try:
                result = fn()
                break
            except PERMANENT:
                raise
            except (flashing.FlashingError, DeviceError) as e:  # the port, the link
                if attempt == self.opts.retries or self.stop.is_set():
                    raise
                self._set(r, name, f"retrying after: {e}")
                time.sleep(2)
        r.seconds[name] = time.monotonic() - t0
        return result

    # -- the steps -----------------------------------------------------------------------------

    def _stage(self, r: DeviceRun) -> None:
        o, sc = self.opts, r.scanner
        chip = self._step(r, "identify", lambda: self._identify(sc))
        r.mac = chip.mac
        name = _mac_name(chip.mac)
        state_path = self.out / "devices" / f"{name}.json"
        receipt_path = self.out / "receipts" / f"{name}.json"
        state = _read_json(state_path) or {"mac": chip.mac, "done": []}
        if (receipt := _read_json(receipt_path)) and not o.rekey:
            r.receipt, r.board, r.device_id = receipt, receipt.get("board"), \
                receipt.get("device_id")
            self._set(r, ALREADY, f"staged before as {r.device_id} (receipt kept); "
                                  "--rekey re-stages a returned scanner")
            return
        if o.rekey and receipt:
            receipt_path.unlink()
            state["done"] = [s for s in state["done"] if s in ("identify", "flash", "deploy")]
        board = self._board(sc, chip)
        r.board = board.name
        done: list[str] = state["done"]

        def mark(step: str, **extra: Any) -> None:
            if step not in done:
                done.append(step)
            state.update(extra, board=board.name)
            _write_json(state_path, state)

        mark("identify")
        data, build = self._prepared(board)
        flashed = self._step(r, "flash", lambda: self._flash(sc, board, data))
        if not flashed.written:
            r.skipped.append("flash")
        mark("flash", image_sha256=flashed.sha256)
        deployed = self._step(r, "deploy", lambda: self._deploy(sc, board, build))
        mark("deploy", firmware=deployed.version)
        device_id = state.get("device_id") or self._device_id(sc)
        r.device_id = device_id
        state["device_id"] = device_id
        _write_json(state_path, state)
        entry = self.out / "entries" / f"{device_id}.jsonl"
        if "provision" in done and entry.exists():
            r.skipped.append("provision")
        else:
            self._step(r, "provision", lambda: self._provision(sc, board, device_id, entry))
            mark("provision", entry_sha256=hashlib.sha256(entry.read_bytes()).hexdigest())
        report = self._step(r, "verify", lambda: self._verify(sc, board))
        if report.problems:
            raise StageError("; ".join(report.problems))
        mark("verify")
        if o.upstream_dir is None:
            self._set(r, UNREGISTERED, "provisioned and verified; import "
                                 f"{self.out / 'entries'} at the upstream (no --upstream DIR)")
            return
        self._step(r, "register", lambda: self._register(entry))
        mark("register")
        status = self._step(r, "e2e", lambda: self._e2e(sc, board))
        receipt = {"board": board.name, "chip": chip.chip, "chip_description": chip.description,
                   "mac": chip.mac, "image_sha256": flashed.sha256,
                   "firmware": deployed.version, "device_id": device_id,
                   "entry_sha256": state["entry_sha256"], "e2e": status,
                   "staged_at": int(time.time()),
                   "seconds": {k: round(v, 3) for k, v in r.seconds.items()}}
        _write_json(receipt_path, receipt)  # only now does the device count as staged
        mark("e2e")
        r.receipt = receipt
        self._set(r, STAGED, f"{device_id}: test record acked")

    def _identify(self, sc: Scanner) -> flashing.ChipInfo:
        with flashing.connect(sc.port, before=self.opts.before) as esp:
            return flashing.identify(esp)

    def _prepared(self, board: Board) -> tuple[bytes, FirmwareBuild]:
        """The board's image (checked against its pin) and firmware build, made once."""
        with self._build_lock:
            if board.name not in self._built:
                image = self.opts.images.get(board.name)
                if image is None:
                    raise StageError(f"no image for board {board.name} "
                                     f"(--image {board.name}=FILE)")
                data = flashing.load_image(board, image.path, image.sha256)
                self._built[board.name] = (data, build_firmware(board))
            return self._built[board.name]

    def _flash(self, sc: Scanner, board: Board, data: bytes) -> flashing.FlashResult:
        image = self.opts.images[board.name]
        with flashing.connect(sc.port, before=self.opts.before) as esp:
            return flashing.flash_image(esp, board, image.path, data, baud=self.opts.baud,
                                        skip_same=True)

    def _deploy(self, sc: Scanner, board: Board, build: FirmwareBuild
                ) -> deploying.DeployResult:
        with open_link(sc.console) as link:
            return deploying.deploy(link, board, build, reset=False)

    def _verify(self, sc: Scanner, board: Board) -> inspect.VerifyReport:
        with open_link(sc.console) as link:
            return inspect.verify(link, board_name=board.name)

    def _board(self, sc: Scanner, chip: flashing.ChipInfo) -> Board:
        if sc.board is not None:
            board = load_board(sc.board)
            if board.chip != chip.chip:
                raise flashing.WrongChip(
                    f"{sc.port} has an {chip.description}, but its slot is a {board.name} "
                    f"({board.chip}): wrong device in this slot; nothing was written")
            return board
        matches = [b for b in self.opts.boards if b.chip == chip.chip]
        if len(matches) != 1:
            raise flashing.WrongChip(
                f"{sc.port} has an {chip.description}: " + (
                    "no board given for that chip; nothing was written" if not matches else
                    "several boards use that chip: name it in the ids CSV"))
        return matches[0]

    def _device_id(self, sc: Scanner) -> str:
        if sc.device_id is not None:
            return sc.device_id
        o = self.opts
        if o.id_pattern is None:
            raise StageError(f"{sc.port}: no device id (give --ids PATTERN or a CSV row)")
        with self._ids_lock:
            used = set(self._taken)
            for p in (self.out / "devices").glob("*.json"):
                d = _read_json(p)
                if d and isinstance(d.get("device_id"), str):
                    used.add(d["device_id"])
            n = o.first
            while True:
                candidate = o.id_pattern.format(n=n)
                registered = o.upstream.registered
                if candidate not in used and not (registered and registered(candidate)):
                    self._taken.add(candidate)
                    return candidate
                n += 1

    def _provision(self, sc: Scanner, board: Board, device_id: str, entry: Path) -> None:
        o = self.opts
        part = entry.with_name(entry.name + ".part")
        part.unlink(missing_ok=True)
        request = prov.ProvisionRequest(
            device_id=device_id, upstream=o.upstream, carrier=o.carrier,
            badge_key=o.badge_key, config_key=o.config_key, wifi_ssid=o.wifi_ssid,
            wifi_pass=o.wifi_pass, lease_hours=o.lease_hours,
            lease_wipe_hours=o.lease_wipe_hours)
        with prov.open_entries(part) as out, open_link(sc.console) as link:
            # a device this station provisioned in a run that stopped before it was recorded
            held = link.nvs_read({"device_id": "blob"}).get("device_id")
            ours = held == device_id.encode() and not (o.upstream.registered
                                                      and o.upstream.registered(device_id))
            prov.provision(link, request, out, board=board, force=ours or o.rekey,
                           rekey=o.rekey, restart=False)
        os.replace(part, entry)

    def _register(self, entry: Path) -> None:
        from sealscan.upstream.config import load_config
        from sealscan.upstream.registry import import_entries

        assert self.opts.upstream_dir is not None
        cfg = load_config(self.opts.upstream_dir)
        with self._import_lock:
            res = import_entries(cfg, entry, rekey=self.opts.rekey)
            if res.revoked:  # re-keyed: the old (perhaps stolen) key no longer works
                from sealscan.upstream.registry import open_store

                store = open_store(cfg)
                try:
                    for device_id in res.revoked:
                        store.set_revoked(device_id, False)
                finally:
                    store.close()

    def _e2e(self, sc: Scanner, board: Board) -> str:
        now = int(time.time())
        token = codes.make_identity_token(
            self._issuer, id_type=11, id_number="11010519491231002X", name="STAGE TEST",
            phone="00000000000", issued_at=now - 60, expires_at=now + 3600)
        script = _E2E_SCRIPT.format(waybill=E2E_WAYBILL.get(self.opts.carrier,
                                                             "SF1000000000001"),
                                    token=token.encode())
        with open_link(sc.console) as link:
            out = link.exec(script)
            m = _E2E_RE.search(out)
            if m is None or m.group(2) != "1":
                status = m.group(1) if m else "no answer"
                raise DeviceError(f"{sc.console}: the test record was not acked "
                                  f"(upstream answered {status})")
            link.soft_reset()  # into the app
        return "acked"


class _Interrupted(Exception):
    pass


def receipts(out: Path) -> list[dict[str, Any]]:
    return [d for p in sorted((out / "receipts").glob("*.json")) if (d := _read_json(p))]


def as_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj)
