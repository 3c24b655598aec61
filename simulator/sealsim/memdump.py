"""What a simulated device holds in RAM: the writable memory of its interpreter process(es).

A simulated device is a process session (the supervisor starts MicroPython with
start_new_session, possibly behind a launcher): every process of that session is dumped,
whatever interpreter it runs. For each one, the writable private and anonymous mappings in
/proc/PID/maps (heap, .data/.bss, stacks, anonymous mmaps: the MicroPython GC heap is one of
these) are read through /proc/PID/mem while the process is stopped. Needs the right to ptrace
the process (root, or the same user with ptrace_scope 0).

What it sees: every byte the interpreter can write: live objects, freed GC blocks, static
buffers, C stacks, libc malloc arenas (mbedTLS, the UART and socket buffers of the unix port).
What it cannot see: kernel buffers (pty, sockets), read-only mappings (code, .mpy files mapped
read-only), other processes (the host supervisor, the upstream), and what an ESP32 keeps
outside the MicroPython heap (the IDF UART ring buffer, Wi-Fi/lwIP buffers) — the simulator's
stand-ins for those live in the supervisor, not here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    pid: int
    start: int
    end: int
    name: str
    data: bytes


def session_pids(sid: int) -> list[int]:
    """Every process whose session id is `sid`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 3 and int(fields[3]) == sid:
            pids.append(int(entry))
    return sorted(pids)


def writable_regions(pid: int) -> Iterator[tuple[int, int, str]]:
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            perms = parts[1]
            name = parts[5].strip() if len(parts) > 5 else ""
            if "w" not in perms or "r" not in perms or name in ("[vvar]", "[vsyscall]",
                                                                  "[vvar_vclock]"):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            yield start, end, name


@contextlib.contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    time.sleep(0.05)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def dump(sid: int) -> list[Region]:
    """The writable memory of every process of session `sid`, read while they are stopped."""
    pids = session_pids(sid)
    out = []
    with stopped(pids):
        for pid in pids:
            try:
                regions = list(writable_regions(pid))
                mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
            except OSError:
                continue
            with mem:
                for start, end, name in regions:
                    try:
                        mem.seek(start)
                        data = mem.read(end - start)
                    except OSError:
                        continue
                    out.append(Region(pid, start, end, name, data))
    return out


def find(regions: list[Region], needles: dict[str, bytes]) -> list[str]:
    """Which needles occur, where: 'label in pid N region NAME at +offset'."""
    hits = []
    for label, needle in needles.items():
        for r in regions:
            i = r.data.find(needle)
            if i >= 0:
                hits.append(f"{label} in pid {r.pid} {r.name or '[anon]'} at +{i:#x}")
    return hits
