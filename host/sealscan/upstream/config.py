"""The upstream's state directory: configuration, TLS certificate, X25519 key pair, database.

Layout (made by `sealscan upstream init --dir DIR`)::

    DIR/upstream.json     configuration (listen address, limits, trusted identity issuers)
    DIR/upstream.key      X25519 private key, 64 hex chars, mode 0600 (never printed)
    DIR/upstream.pub      X25519 public key, 64 hex chars (goes on every device)
    DIR/tls/key.pem       TLS private key (ECDSA P-256: ESP32 mbedTLS has no Ed25519/X25519 TLS)
    DIR/tls/cert.pem      self-signed TLS certificate; devices pin its SHA-256
    DIR/upstream.db       SQLite store (made on first use, mode 0600), unless `database` is a
                          postgresql:// URL (several nodes share one PostgreSQL)

The operator may point `tls.cert`/`tls.key` at a certificate of their own instead.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import NameOID

from sealscan.codes import MalformedCode, load_key_file, save_key_file
from sealscan.upstream.errors import AlreadyInitialised, UpstreamConfigError

CONFIG_NAME = "upstream.json"
CONFIG_VERSION = 1
CERT_DAYS = 5 * 365


@dataclass(frozen=True)
class Limits:
    """Request limits; each refusal has its own status code (docs/upstream.md)."""

    max_body: int = 128 * 1024  # bytes of one POST body -> 413
    max_records: int = 64  # records in one batch -> 413 (protocol MAX_RECORDS)
    device_rate: float = 20.0  # batches per second per device, sustained -> 429
    device_burst: int = 40  # batches a device may send at once before 429
    max_pending: int = 4096  # batches waiting for the store in one worker -> 503
    session_cache: int = 20000  # opened HPKE sessions kept per worker (LRU)
    late_seconds: int = 30  # a record committed later than this after capture is "late"
    token_cache: int = 100000  # identity tokens whose signature check is remembered (LRU)
    # seconds a worker trusts its copy of a registry row: a revocation (or a new device)
    # made on any node or by the CLI holds on every node within this bound
    registry_ttl: float = 2.0
    registry_cache: int = 100000  # registry rows (and unknown ids) remembered per worker
    # ms a commit group waits for more batches before its transaction (one fsync and one
    # thread handoff for all of them); device-shaped traffic has few batches in flight
    commit_delay_ms: float = 4.0


@dataclass(frozen=True)
class Operations:
    """Fleet health and retention (docs/upstream.md, "Fleet health")."""

    silent_seconds: int = 3600  # not heard from (batch, heartbeat or refusal) -> "silent"
    late_window_seconds: int = 86400  # a late record committed this recently -> "late"
    heartbeat_skew_seconds: int = 300  # a heartbeat's device clock this far off is refused
    retention_days: float = 0  # `upstream prune` deletes records committed earlier; 0 = keep


@dataclass
class UpstreamConfig:
    directory: Path
    host: str = "0.0.0.0"
    port: int = 8443
    tls_cert: str = "tls/cert.pem"
    tls_key: str = "tls/key.pem"
    upstream_key: str = "upstream.key"
    database: str = "upstream.db"
    # kid (hex) -> Ed25519 public key (hex, 32 raw bytes) of trusted identity token issuers.
    issuers: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    operations: Operations = field(default_factory=Operations)

    def path(self, rel: str) -> Path:
        return (self.directory / rel).resolve()

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.database)

    @property
    def db_path(self) -> Path:
        if self.is_postgres:
            raise UpstreamConfigError("the store is PostgreSQL, not a file")
        return self.path(self.database)

    def private_key(self) -> bytes:
        return read_hex_key(self.path(self.upstream_key))

    def public_key(self) -> bytes:
        sk = X25519PrivateKey.from_private_bytes(self.private_key())
        return sk.public_key().public_bytes_raw()

    def issuer_keys(self) -> dict[bytes, Ed25519PublicKey]:
        out = {}
        for kid, pk in self.issuers.items():
            try:
                out[bytes.fromhex(kid)] = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pk))
            except ValueError as e:
                raise UpstreamConfigError(
                    f"{self.directory / CONFIG_NAME}: issuers: {kid}: {e}") from e
        return out

    def trust_issuer(self, kid: bytes, public_key: bytes) -> None:
        """Trust an identity token issuer (kid, raw Ed25519 public key) and save."""
        try:
            Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError as e:
            raise UpstreamConfigError(f"issuer public key: {e}") from e
        if not kid:
            raise UpstreamConfigError("issuer kid: empty")
        self.issuers[kid.hex()] = public_key.hex()
        self.save()

    def to_json(self) -> dict[str, Any]:
        return {"version": CONFIG_VERSION, "listen": {"host": self.host, "port": self.port},
                "tls": {"cert": self.tls_cert, "key": self.tls_key},
                "upstream_key": self.upstream_key, "database": self.database,
                "issuers": dict(sorted(self.issuers.items())), "limits": asdict(self.limits),
                "operations": asdict(self.operations)}

    def save(self) -> None:
        """Write upstream.json atomically, mode 0600 (a database URL may hold a password)."""
        path = self.directory / CONFIG_NAME
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        write_secret(tmp, (json.dumps(self.to_json(), indent=2) + "\n").encode())
        os.replace(tmp, path)


def is_postgres_url(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


def load_config(directory: Path | str) -> UpstreamConfig:
    directory = Path(directory)
    path = directory / CONFIG_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise UpstreamConfigError(f"{path}: not found (run `sealscan upstream init --dir "
                                  f"{shlex.quote(str(directory))}`)") from None
    except (OSError, ValueError) as e:
        raise UpstreamConfigError(f"{path}: {e}") from e
    try:
        if raw.get("version") != CONFIG_VERSION:
            raise UpstreamConfigError(f"{path}: version: expected {CONFIG_VERSION}")
        lim = Limits(**raw.get("limits", {}))
        ops = Operations(**raw.get("operations", {}))
        cfg = UpstreamConfig(directory=directory, host=str(raw["listen"]["host"]),
                             port=int(raw["listen"]["port"]), tls_cert=str(raw["tls"]["cert"]),
                             tls_key=str(raw["tls"]["key"]),
                             upstream_key=str(raw["upstream_key"]),
                             database=str(raw["database"]), issuers=dict(raw.get("issuers", {})),
                             limits=lim, operations=ops)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise UpstreamConfigError(f"{path}: {type(e).__name__}: {e}") from e
    cfg.issuer_keys()  # validate now, not on the first batch
    return cfg


def read_hex_key(path: Path) -> bytes:
    """A 32-byte key file of 64 hex characters (the same format as the codes keys)."""
    try:
        return load_key_file(path)
    except MalformedCode as e:
        raise UpstreamConfigError(str(e)) from None


def write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def make_tls_cert(hosts: list[str]) -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 certificate for `hosts` (names or IP addresses):
    returns (cert PEM, key PEM). P-256 because ESP32 mbedTLS speaks TLS 1.2 without X25519."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealscan upstream")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def cert_pin(cert_pem: bytes) -> str:
    """The pin a device stores: SHA-256 of the certificate's DER encoding, hex."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as e:
        raise UpstreamConfigError(f"not a PEM certificate: {e}") from e
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class InitResult:
    directory: Path
    public_key: str  # X25519, hex
    cert_path: Path
    cert_sha256: str


def init_state(directory: Path | str, hosts: list[str] | None = None, port: int = 8443,
               force: bool = False) -> InitResult:
    """Create a new upstream state directory: key pair, self-signed TLS cert, config.

    Refuses to overwrite an existing one unless `force` (a new key pair orphans every
    provisioned device)."""
    directory = Path(directory)
    hosts = hosts or ["localhost", "127.0.0.1"]
    if (directory / CONFIG_NAME).exists() and not force:
        raise AlreadyInitialised(f"{directory / CONFIG_NAME}: already exists (use --force to "
                                 "replace the keys; every provisioned device then needs the new "
                                 "public key)")
    (directory / "tls").mkdir(parents=True, exist_ok=True)
    sk = X25519PrivateKey.generate()
    (directory / "upstream.key").unlink(missing_ok=True)  # only reached when new or --force
    save_key_file(sk.private_bytes_raw(), directory / "upstream.key")
    pk_hex = sk.public_key().public_bytes_raw().hex()
    (directory / "upstream.pub").write_text(pk_hex + "\n")
    cert_pem, key_pem = make_tls_cert(hosts)
    write_secret(directory / "tls" / "key.pem", key_pem)
    (directory / "tls" / "cert.pem").write_bytes(cert_pem)
    cfg = UpstreamConfig(directory=directory, port=port)
    cfg.save()
    return InitResult(directory, pk_hex, directory / "tls" / "cert.pem", cert_pin(cert_pem))
