"""`sealscan provision`: give a deployed device its identity and keys (the NVS table of
docs/device.md).

The device key is made here, on the host, from the OS's CSPRNG (an ESP32's RNG is only truly
random with the radio on). It exists in clear only in this process's memory and in the
device's NVS: the depot keeps nothing but the provisioning entry, in which the key is sealed
to the upstream's public key (`sealscan.upstream.provisioning`). It is never printed.

Order on the device: `provisioned` is erased first (a re-provisioned device is never marked
done with half-old keys), every other key is set and committed, the entry goes into the
entries file (replacing any earlier entry for the same device id, atomically), and only then
`provisioned = 1` is committed. A device cut off before that is not provisioned: run provision
again (no --force needed); the file still has one entry for it, the new one.
"""

from __future__ import annotations

import ast
import hashlib
import ipaddress
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealscan.boards import Board
from sealscan.codes import MalformedCode, load_key_file
from sealscan.device.deploy import WrongBoard, device_board_name
from sealscan.device.firmware import MANIFEST
from sealscan.device.link import DeviceError, DeviceLink
from sealscan.errors import InputError, file_problem
from sealscan.paths import FIRMWARE_DIR
from sealscan.protocol import InvalidDeviceId, check_device_id, generate_device_key
from sealscan.upstream.provisioning import make_provisioning_entry

# The NVS contract (docs/device.md): key -> stored type. Every key is required by `verify`.
NVS_KEYS = {
    "device_id": "blob", "device_key": "blob", "upstream_pk": "blob", "upstream_url": "blob",
    "tls_cert": "blob", "badge_key": "blob", "config_key": "blob", "carrier": "blob",
    "wifi_ssid": "blob", "wifi_pass": "blob", "config_serial": "i32", "lang": "blob",
    "provisioned": "i32", "lease_s": "i32", "lease_wipe_s": "i32", "revoked": "i32",
}
# Written by the firmware only when it wipes its keys (revoked or lease over: docs/protocol.md
# 6.1-6.2), erased by provisioning: `verify` fails while it is there, never for its absence.
WIPE_MARK = "revoked"
LEASE_HOURS = 72  # docs/protocol.md 6.2: identities refused after this long without an ack
LEASE_WIPE_HOURS = 336  # ... and the keys wiped after this long (14 days)
# Keys older versions wrote that no firmware reads: erased when a device is provisioned again
# (docs/device.md, "Retired").
RETIRED_KEYS = ("issuers",)
UI_LANGS = ("zh", "en")  # firmware/texts.py LANGS; firmware without "lang" in NVS shows zh


def default_lang(carrier: str) -> str:
    """The UI language a device of `carrier` gets unless told otherwise: every carrier the
    firmware knows (waybill.CARRIERS) is a Chinese one, so zh."""
    return "zh" if carrier in carriers() else "en"
SECRET_KEYS = frozenset({"device_key", "badge_key", "config_key", "wifi_pass"})


class AlreadyProvisioned(DeviceError):
    """The device is provisioned already and --force was not given."""


class AlreadyRegistered(DeviceError):
    """The device id is registered at the upstream (or waits in the entries file) already:
    provisioning it again would orphan the scanner holding it."""


class NotDeployed(DeviceError):
    """The device has no firmware.json or board.json: deploy the firmware first."""


def carriers(src: Path = FIRMWARE_DIR) -> tuple[str, ...]:
    """The carrier codes the firmware knows (`CARRIERS` in firmware/waybill.py)."""
    tree = ast.parse((src / "waybill.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CARRIERS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise InputError(f"{src / 'waybill.py'}: no CARRIERS")


@dataclass(frozen=True)
class Upstream:
    public_key: bytes  # X25519, 32 bytes
    url: str
    tls_cert_der: bytes
    # whether a device id is in the upstream's registry (known when its directory is given)
    registered: Callable[[str], bool] | None = field(default=None, compare=False)

    @property
    def pin(self) -> str:
        return hashlib.sha256(self.tls_cert_der).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"{file_problem(path, e)} (the {what})") from None


def load_public_key(path: Path) -> bytes:
    """An upstream public key file: 64 hex characters (`upstream.pub`)."""
    try:
        key = bytes.fromhex(_read(path, "upstream public key").decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path}: not an upstream public key (64 hex characters)") from None
    if len(key) != 32:
        raise InputError(f"{path}: an upstream public key is 32 bytes (64 hex characters)")
    return key


def load_cert_der(path: Path) -> bytes:
    """The upstream's TLS certificate, PEM or DER, as DER (the pin the device stores)."""
    data = _read(path, "TLS certificate")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputError(f"{path}: not a PEM or DER certificate") from None
    return cert.public_bytes(serialization.Encoding.DER)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise InputError(f"upstream URL {url!r}: must be https://HOST[:PORT] (the device "
                         "appends /v1/batches)")
    try:
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise InputError(f"upstream URL {url!r}: bad port") from None
    return url.rstrip("/")


def load_upstream(directory: Path | None = None, *, public_key: Path | None = None,
                  url: str | None = None, tls_cert: Path | None = None) -> Upstream:
    """From an upstream state directory (`sealscan upstream init --dir DIR`: upstream.pub,
    tls/cert.pem, the listen port; the host is the certificate's first name unless `url`),
    or from the three pieces given one by one (which also override the directory's)."""
    registered = None
    if directory is not None:
        from sealscan.upstream.config import load_config
        from sealscan.upstream.errors import UpstreamConfigError

        try:
            cfg = load_config(directory)
        except UpstreamConfigError as e:
            raise InputError(str(e)) from None
        registered = _registry_lookup(cfg)
        public_key = public_key or Path(directory) / "upstream.pub"
        tls_cert = tls_cert or cfg.path(cfg.tls_cert)
        if url is None:
            url = f"https://{_cert_host(load_cert_der(tls_cert), tls_cert)}:{cfg.port}"
    missing = [n for n, v in (("--upstream-pk", public_key), ("--upstream-url", url),
                              ("--tls-cert", tls_cert)) if v is None]
    if missing:
        raise InputError(f"upstream: give --upstream DIR or {', '.join(missing)}")
    assert public_key is not None and url is not None and tls_cert is not None
    return Upstream(load_public_key(public_key), check_url(url), load_cert_der(tls_cert),
                    registered)


def _registry_lookup(cfg: object) -> Callable[[str], bool]:
    def registered(device_id: str) -> bool:
        from sealscan.upstream.errors import StorageError
        from sealscan.upstream.registry import is_registered

        try:
            return is_registered(cfg, device_id)  # type: ignore[arg-type]
        except StorageError as e:
            raise InputError(f"upstream registry: {e}") from None
    return registered


def _entry_id(line: str) -> object:
    try:
        return json.loads(line).get("device_id")
    except (ValueError, AttributeError):
        return None


def check_unregistered(request: ProvisionRequest, entries: Path, rekey: bool,
                       held: bytes | None = None) -> None:
    """AlreadyRegistered unless the id is free (or `rekey` gives a registered id a new key).
    An entry for the id in `entries` is refused too, unless the device on the link holds that
    id (`held`: provisioned again, e.g. with --force, or a run cut short): keep_entry replaces
    its stale entry, so the file stays importable."""
    d = request.device_id
    try:
        lines = Path(entries).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{file_problem(entries, e)} (the provisioning entries)") from None
    if held != d.encode() and any(_entry_id(line) == d for line in lines):
        raise AlreadyRegistered(f"{entries} has an entry for {d} already: import it "
                                "(`sealscan upstream import`) or use another entries file")
    reg = request.upstream.registered
    if not rekey and reg is not None and reg(d):
        raise AlreadyRegistered(
            f"device id {d} is registered at the upstream already: another scanner holding it "
            "would be refused from now on (orphaned). Choose another id, or give this id a "
            "new key with --rekey (then `sealscan upstream import --rekey`)")


def _cert_host(der: bytes, path: Path) -> str:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise InputError(f"{path}: no subject alternative name; give --upstream-url") from None
    names: list[str] = [*san.get_values_for_type(x509.DNSName),
                        *(str(a) for a in san.get_values_for_type(x509.IPAddress))]
    if not names:
        raise InputError(f"{path}: no host name in the certificate; give --upstream-url")
    host = names[0]
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return host


def load_secret_key(path: Path, what: str) -> bytes:
    try:
        return load_key_file(path)
    except MalformedCode as e:
        if not Path(path).is_file():  # missing, a directory, ...: load_key_file says which
            raise InputError(str(e)) from None
        raise InputError(f"{path}: not a {what} file (64 hex characters)") from None


@dataclass(frozen=True)
class ProvisionRequest:
    device_id: str
    upstream: Upstream
    carrier: str
    badge_key: bytes
    config_key: bytes
    wifi_ssid: str
    wifi_pass: str
    lang: str | None = None  # screen language; None: default_lang(carrier)
    lease_hours: float = LEASE_HOURS  # 0: no lease
    lease_wipe_hours: float = LEASE_WIPE_HOURS  # 0: never wiped for want of an ack

    def __repr__(self) -> str:  # never show the keys or the Wi-Fi password
        return f"ProvisionRequest(device_id={self.device_id!r}, carrier={self.carrier!r})"

    def check(self) -> None:
        check_device_id_value(self.device_id)
        check_carrier(self.carrier)
        check_wifi_ssid(self.wifi_ssid)
        if self.lang is not None and self.lang not in UI_LANGS:
            raise InputError(f"language {self.lang!r}: not one of {', '.join(UI_LANGS)}")
        if len(self.wifi_pass.encode()) > 64 or 0 < len(self.wifi_pass) < 8:
            raise InputError("Wi-Fi password: empty (open network) or 8 to 64 characters")
        check_lease(self.lease_hours, self.lease_wipe_hours)


# One check per provisioning value (InputError): ProvisionRequest.check runs them all, the CLI
# runs each on its flag (a bad flag value, exit 2).

def check_device_id_value(value: str) -> str:
    try:
        return check_device_id(value)
    except InvalidDeviceId as e:
        raise InputError(f"device id {value!r}: {e}") from None


def check_carrier(value: str) -> str:
    if value not in carriers():
        raise InputError(f"carrier {value!r}: not one of {', '.join(carriers())}")
    return value


def check_lease(hours: float, wipe_hours: float) -> None:
    if not 0 <= hours <= 8760 or not 0 <= wipe_hours <= 8760:
        raise InputError("lease: 0 (none) to 8760 hours")
    if wipe_hours and wipe_hours < hours:
        raise InputError("lease: the wipe limit must not be shorter than the lease")


def check_wifi_ssid(value: str) -> str:
    if not 1 <= len(value.encode()) <= 32:
        raise InputError("Wi-Fi SSID: 1 to 32 bytes")
    return value


@dataclass(frozen=True)
class ProvisionResult:
    port: str
    device_id: str
    board: str
    upstream_url: str
    tls_pin: str
    entries: str
    replaced: bool
    rekeyed: bool = False
    restarted: bool = False

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def keep_entry(entries: Path, device_id: str, entry: str) -> None:
    """Put `entry` in the entries file in place of any earlier entry for `device_id` (a run
    cut short, or a device provisioned again: its old key is gone), atomically: a power cut
    leaves the old file or the new one, and the file never names a device twice."""
    try:
        old = entries.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        old = []
    lines = [ln for ln in old if _entry_id(ln) != device_id]
    tmp = entries.with_name(entries.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(ln + "\n" for ln in [*lines, entry]))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, entries)
    fd = os.open(entries.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_provisioned(link: DeviceLink) -> bool:
    return link.nvs_read({"provisioned": "i32"}).get("provisioned") == 1


def open_entries(path: Path) -> TextIO:
    """The provisioning entries file, open for appending: open it before the device link, so
    an entry that could not be kept is known before the device is touched."""
    try:
        return open(path, "a", encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot append provisioning entries ({e.strerror})") from None


def provision(link: DeviceLink, request: ProvisionRequest, entries: TextIO, *,
              board: Board | None = None, force: bool = False, rekey: bool = False,
              restart: bool = True) -> ProvisionResult:
    """Make the device key and write the NVS contract to the device on `link`; the entry
    (the key sealed to the upstream) goes into the file `entries` (open_entries) names, in
    place of any earlier entry for the device (keep_entry), before `provisioned = 1` is set.
    An id registered at the upstream (or in the entries file) is refused unless `rekey`
    (which also provisions a provisioned device again); `restart` soft-resets the device into
    the app at the end."""
    request.check()
    port = link.port
    name = device_board_name(link)
    if name is None or link.sha256_files(["/" + MANIFEST])["/" + MANIFEST] is None:
        raise NotDeployed(f"{port}: no firmware deployed (run `sealscan deploy --port {port} "
                          "--board BOARD` first; `sealscan boards list` names them)")
    if board is not None and name != board.name:
        raise WrongBoard(f"{port}: the device is deployed as board {name}, not "
                         f"{board.name}")
    held = link.nvs_read({"device_id": "blob"}).get("device_id")
    check_unregistered(request, Path(entries.name), rekey,
                       held if isinstance(held, bytes) else None)
    force = force or rekey
    was = is_provisioned(link)
    if was and not force:
        current = link.nvs_read({"device_id": "blob"}).get("device_id", b"")
        shown = current.decode("utf-8", "replace") if isinstance(current, bytes) else "?"
        raise AlreadyProvisioned(f"{port}: already provisioned as {shown!r} (use --force "
                                 "to provision it again with a new key)")
    device_key = generate_device_key()
    entry = make_provisioning_entry(request.upstream.public_key, request.device_id,
                                    device_key)
    values: dict[str, bytes | int] = {
        "device_id": request.device_id.encode(),
        "device_key": device_key,
        "upstream_pk": request.upstream.public_key,
        "upstream_url": request.upstream.url.encode(),
        "tls_cert": request.upstream.tls_cert_der,
        "badge_key": request.badge_key,
        "config_key": request.config_key,
        "carrier": request.carrier.encode(),
        "wifi_ssid": request.wifi_ssid.encode(),
        "wifi_pass": request.wifi_pass.encode(),
        "config_serial": 0,
        "lang": (request.lang or default_lang(request.carrier)).encode(),
        "lease_s": round(request.lease_hours * 3600),
        "lease_wipe_s": round(request.lease_wipe_hours * 3600),
    }
    link.nvs_write({}, erase=("provisioned", WIPE_MARK, *RETIRED_KEYS))
    link.nvs_write(values)
    del device_key, values
    keep_entry(Path(entries.name), request.device_id, entry)
    link.nvs_write({"provisioned": 1})
    if restart:
        link.soft_reset()  # main.py starts the app: no power cycle needed
    return ProvisionResult(port, request.device_id, name, request.upstream.url,
                           request.upstream.pin, str(entries.name), was, rekey, restart)
