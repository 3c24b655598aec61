"""A MicroPython board on a serial port, driven through mpremote's serial transport.

`DeviceLink` is what every depot command talks to: the same code drives a real ESP32 on
`/dev/ttyUSB0` and a simulated one on its console pty. It interrupts whatever main.py is
doing, enters the raw REPL (no soft reset, so nothing of the application runs in between)
and offers the few operations the depot needs: run code, list/read/write/remove files, hash
files on the device, read and write NVS. Every failure is a `DeviceError` with one line.

Secrets travel to the device inside raw-REPL code (the raw REPL does not echo). Nothing here
prints what it sends or receives; error messages carry the device's exception line only.
"""

from __future__ import annotations

import ast
import binascii
import errno
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from sealscan.errors import SealscanError

NVS_NAMESPACE = "sealscan"
_READ_CHUNK = 1024  # bytes per raw-REPL round trip when reading a file
_WRITE_CHUNK = 1024  # bytes per raw-REPL round trip when writing a file
_NVS_MAX_BLOB = 4096
_ENTER_ATTEMPTS = 3
_OPEN_ATTEMPTS = 3
_ENTER_TIMEOUT = 4  # seconds per attempt to reach the raw REPL


class DeviceError(SealscanError):
    """A depot operation on a device failed. str() is one actionable line (exit 1)."""


class PortError(DeviceError):
    """The serial port is missing, not ours to open, or nothing answers on it."""


class DeviceCommandError(DeviceError):
    """Code run on the device raised; str() is the device's exception line."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # absolute, e.g. "/main.py"
    is_dir: bool
    size: int


class _Transport(SerialTransport):
    """mpremote's serial transport with a shorter silence limit: 10 s without a byte is
    mpremote's default; nothing the depot runs keeps a board quiet for 3 s, so a board that
    lost power or a pulled cable is noticed sooner."""

    silence = 3.0

    def read_until(self, min_num_bytes, ending, timeout=10, data_consumer=None,
                   timeout_overall=None):
        if timeout is None or timeout > self.silence:
            timeout = self.silence
        return super().read_until(min_num_bytes, ending, timeout, data_consumer,
                                  timeout_overall)


class _Gate:
    """sys.stdout that drops what a thread inside quiet() prints. (contextlib's
    redirect_stdout swaps the one global sys.stdout: with several devices driven at once, as
    `sealscan stage` does, the swaps interleave and the real stdout is lost.)"""

    def __init__(self, inner: Any):
        self.inner = inner

    def write(self, text: str) -> int:
        return len(text) if getattr(_local, "quiet", 0) else self.inner.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_local = threading.local()
_gate_lock = threading.Lock()


@contextmanager
def quiet() -> Iterator[None]:
    """Nothing this thread prints reaches stdout (mpremote prints what a device sent)."""
    with _gate_lock:
        if not isinstance(sys.stdout, _Gate):
            sys.stdout = _Gate(sys.stdout)  # type: ignore[assignment]
    _local.quiet = getattr(_local, "quiet", 0) + 1
    try:
        yield
    finally:
        _local.quiet -= 1


def check_port(port: str) -> None:
    """Fail early, with the fix in the message, on the usual serial port problems."""
    if not port:
        raise PortError("no serial port given (run `sealscan ports` to list them)")
    try:
        st = os.stat(port)
    except FileNotFoundError:
        raise PortError(f"{port}: no such serial port (is the scanner plugged in? "
                        "run `sealscan ports`)") from None
    except OSError as e:
        raise PortError(f"{port}: {e.strerror}") from None
    if not stat.S_ISCHR(st.st_mode):
        raise PortError(f"{port}: not a serial device")
    if not os.access(port, os.R_OK | os.W_OK):
        raise PortError(f"{port}: permission denied (add your user to the group owning the "
                        "port, e.g. `sudo usermod -aG dialout $USER`, then log in again)")


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown error"


class DeviceLink:
    """An open raw-REPL session with a MicroPython board. Use `open_link(port)`."""

    def __init__(self, port: str, *, timeout: float = 1):
        check_port(port)
        self.port = port
        for attempt in range(_OPEN_ATTEMPTS):  # a board's USB port can vanish while it resets
            try:
                self._t = _Transport(port, baudrate=115200, timeout=timeout)
                break
            except (TransportError, serial.SerialException, OSError) as e:
                if isinstance(e, OSError) and e.errno == errno.EACCES:
                    raise PortError(f"{port}: permission denied") from None
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise PortError(f"{port}: cannot open the port (is another program, e.g. "
                                    "a serial monitor, holding it?)") from None
                time.sleep(0.5)
        # A board that is still booting (just reset, or main.py starting) can drop the
        # keys: try again, as a technician pressing Ctrl-C twice would.
        for attempt in range(_ENTER_ATTEMPTS):
            try:
                # mpremote prints what it got when this fails: device output is not ours
                # to show (it could hold anything), and --json output must stay JSON.
                with quiet():
                    self._t.enter_raw_repl(soft_reset=True, timeout_overall=_ENTER_TIMEOUT)
                return
            except (TransportError, serial.SerialException, OSError):
                if attempt == _ENTER_ATTEMPTS - 1:
                    break
        self.close()
        raise PortError(f"{port}: no MicroPython REPL answers (a scanner running its app keeps "
                        "its console locked: power it off and on again holding BACK, "
                        "maintenance mode; or flash MicroPython first with `sealscan flash "
                        "write`; or check the port)")

    def close(self) -> None:
        try:
            if self._t.in_raw_repl:
                self._t.exit_raw_repl()
            self._t.close()
        except (TransportError, serial.SerialException, OSError):
            pass

    # --------------------------------------------------------------------- code ----------
    def exec(self, code: str) -> str:
        """Run `code` on the device; what it printed. DeviceCommandError if it raised."""
        try:
            with quiet():
                out = self._t.exec(code)
        except TransportExecError as e:
            raise DeviceCommandError(_one_line(e.error_output)) from None
        except (TransportError, serial.SerialException, OSError) as e:
            raise PortError(f"{self.port}: the connection to the device was lost "
                            f"({type(e).__name__})") from None
        return out.decode("utf-8", "replace")

    def eval(self, code: str) -> object:
        """Run `code` (which prints one Python literal) and parse what it printed."""
        out = self.exec(code).strip()
        try:
            return ast.literal_eval(out)
        except (ValueError, SyntaxError):
            raise DeviceError(f"{self.port}: unexpected answer from the device") from None

    def machine(self) -> str:
        """`sys.implementation._machine`, e.g. "Generic ESP32 module with ESP32"."""
        return str(self.eval("import sys\nprint(repr(getattr(sys.implementation, "
                             "'_machine', '')))"))

    def soft_reset(self) -> None:
        """Leave the raw REPL and soft-reset, so main.py runs (the session ends here)."""
        try:
            self._t.exit_raw_repl()
            self._t.read_until(1, b">>> ", timeout_overall=_ENTER_TIMEOUT)
            self._t.serial.write(b"\x04")
            seen = self._t.read_until(1, b"soft reboot\r\n", timeout_overall=_ENTER_TIMEOUT)
        except (TransportError, serial.SerialException, OSError):
            raise PortError(f"{self.port}: the connection was lost at the reset") from None
        if not seen.endswith(b"soft reboot\r\n"):
            raise PortError(f"{self.port}: the device did not soft-reset")

    # --------------------------------------------------------------------- files ---------
    def walk(self, top: str = "/") -> list[FileEntry]:
        """Every file and directory under `top`, depth first, with sizes (via os.stat)."""
        code = (
            "import os\n"
            "def _w(d):\n"
            " for e in os.ilistdir(d):\n"
            "  p = (d if d.endswith('/') else d + '/') + e[0]\n"
            "  m = os.stat(p)\n"
            "  print(repr((p, bool(m[0] & 0x4000), m[6])), end=',')\n"
            "  if m[0] & 0x4000:\n"
            "   _w(p)\n"
            f"print('[', end='')\n_w({top!r})\nprint(']')\n"
        )
        items = self.eval(code)
        assert isinstance(items, list)
        return [FileEntry(str(p), bool(d), int(s)) for p, d, s in items]

    def read_file(self, path: str) -> bytes:
        self.exec(f"import binascii\n_f = open({path!r}, 'rb')")
        data = bytearray()
        try:
            while True:
                out = self.exec(f"print(binascii.hexlify(_f.read({_READ_CHUNK})).decode())")
                chunk = binascii.unhexlify(out.strip())
                if not chunk:
                    break
                data += chunk
        finally:
            self.exec("_f.close()\ndel _f")
        return bytes(data)

    def write_file(self, path: str, data: bytes) -> None:
        """Write `path` atomically: a temporary file first, renamed over the old one, so a
        power cut leaves the old or the new file, never half of one."""
        tmp = path + ".part"
        self.exec(f"_f = open({tmp!r}, 'wb')")
        try:
            for i in range(0, len(data), _WRITE_CHUNK):
                self.exec(f"_f.write({bytes(data[i:i + _WRITE_CHUNK])!r})")
        finally:
            self.exec("_f.close()\ndel _f")
        # Renamed relative to "/": the unix port's VfsPosix mounted at "/" (the simulator)
        # refuses os.rename on absolute paths; a board accepts both.
        src, dst = tmp.lstrip("/"), path.lstrip("/")
        self.exec("import os\nos.chdir('/')\n"
                  f"try:\n os.rename({src!r}, {dst!r})\n"
                  f"except OSError:\n os.remove({dst!r})\n os.rename({src!r}, {dst!r})\n")

    def remove(self, path: str, *, is_dir: bool = False) -> None:
        self.exec(f"import os\nos.{'rmdir' if is_dir else 'remove'}({path!r})")

    def sync(self) -> None:
        """Flush the filesystem (os.sync where the port has it)."""
        self.exec("import os\nif hasattr(os, 'sync'):\n os.sync()")

    def sha256_files(self, paths: list[str]) -> dict[str, str | None]:
        """sha256 (hex) of each file as the device reads it; None for a missing file."""
        code = (
            "import hashlib, binascii\n"
            "_b = bytearray(512)\n"
            "def _h(p):\n"
            " try:\n  f = open(p, 'rb')\n except OSError:\n  return None\n"
            " h = hashlib.sha256()\n"
            " while True:\n"
            "  n = f.readinto(_b)\n"
            "  if not n:\n   break\n"
            "  h.update(_b if n == 512 else _b[:n])\n"
            " f.close()\n"
            " return binascii.hexlify(h.digest()).decode()\n"
            f"print(repr({{p: _h(p) for p in {list(paths)!r}}}))\n"
        )
        result = self.eval(code)
        assert isinstance(result, dict)
        return result

    # --------------------------------------------------------------------- NVS -----------
    def nvs_read(self, keys: dict[str, str], namespace: str = NVS_NAMESPACE
                 ) -> dict[str, bytes | int]:
        """Values of `keys` (name -> "blob" or "i32") that exist in the namespace."""
        code = (
            "import esp32\n"
            f"_n = esp32.NVS({namespace!r})\n"
            f"_b = bytearray({_NVS_MAX_BLOB})\n"
            "_r = {}\n"
            f"for _k, _t in {sorted(keys.items())!r}:\n"
            " try:\n"
            "  _r[_k] = _n.get_i32(_k) if _t == 'i32' else bytes(_b[:_n.get_blob(_k, _b)])\n"
            " except OSError:\n"
            "  pass\n"
            "print(repr(_r))\n"
            "del _n, _b, _r\n"
        )
        result = self.eval(code)
        assert isinstance(result, dict)
        return result

    def nvs_present(self, keys: dict[str, str], namespace: str = NVS_NAMESPACE) -> list[str]:
        """Which of `keys` (name -> "blob" or "i32") exist. Values stay on the device."""
        code = (
            "import esp32\n"
            f"_n = esp32.NVS({namespace!r})\n"
            f"_b = bytearray({_NVS_MAX_BLOB})\n"
            "_r = []\n"
            f"for _k, _t in {sorted(keys.items())!r}:\n"
            " try:\n"
            "  _n.get_i32(_k) if _t == 'i32' else _n.get_blob(_k, _b)\n"
            "  _r.append(_k)\n"
            " except OSError:\n"
            "  pass\n"
            "print(repr(_r))\n"
            "del _n, _b, _r\n"
        )
        result = self.eval(code)
        assert isinstance(result, list)
        return [str(k) for k in result]

    def nvs_write(self, values: dict[str, bytes | int], *, erase: tuple[str, ...] = (),
                  namespace: str = NVS_NAMESPACE) -> None:
        """Set blobs (bytes) and i32s (int), erase `erase`, then commit."""
        lines = ["import esp32", f"_n = esp32.NVS({namespace!r})"]
        for key in erase:
            lines.append(f"try:\n _n.erase_key({key!r})\nexcept OSError:\n pass")
        for key, value in values.items():
            if isinstance(value, int):
                lines.append(f"_n.set_i32({key!r}, {int(value)})")
            else:
                lines.append(f"_n.set_blob({key!r}, {bytes(value)!r})")
        lines += ["_n.commit()", "del _n"]
        self.exec("\n".join(lines) + "\n")

    def nvs_partition(self) -> bytes | None:
        """The raw NVS partition where the port exposes esp32.Partition (a real board); None
        where it does not. esp32.NVS cannot list keys: this is how an audit sees them all
        (`sealscan.flashimage.nvs.read_nvs`)."""
        code = (
            "import esp32\n"
            "try:\n"
            " _p = esp32.Partition.find(esp32.Partition.TYPE_DATA, label='nvs')\n"
            "except AttributeError:\n"
            " _p = []\n"
            "print(repr(_p[0].ioctl(4, 0) if _p else 0))\n"
        )
        blocks = self.eval(code)
        if not isinstance(blocks, int) or blocks <= 0:
            return None
        data = bytearray()
        self.exec("import binascii\n_pb = bytearray(4096)")
        for block in range(blocks):
            out = self.exec(f"_p[0].readblocks({block}, _pb)\n"
                            "print(binascii.hexlify(_pb).decode())")
            data += binascii.unhexlify(out.strip())
        return bytes(data)


@contextmanager
def open_link(port: str, *, timeout: float = 1) -> Iterator[DeviceLink]:
    link = DeviceLink(port, timeout=timeout)
    try:
        yield link
    finally:
        link.close()
