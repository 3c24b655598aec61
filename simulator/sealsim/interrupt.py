"""Ctrl-C as an ESP32 takes it, for a MicroPython unix-port process (see `interrupt`).

It stands for the ESP32 port's pending-interrupt flag: the board raises KeyboardInterrupt
when the VM next checks, never in the middle of native code.
"""

from __future__ import annotations

import functools
import os
import platform
import signal
import time


def _catches_sigint(pid: int) -> bool:
    """Whether the process has a SIGINT handler installed (/proc/PID/status SigCgt)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError):
        pass
    return False


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


# Syscalls in which a process waits for something (poll, select, sleeps, socket reads): the
# only places Ctrl-C may land (see interrupt). Linux numbers per ABI: the interpreter is a
# 32-bit build (simulator/interp), so on an x86_64 host its /proc/PID/syscall numbers are
# i386 ones.
_WAIT_SYSCALLS_BY_ABI = {
    # read poll select nanosleep recvfrom recvmsg clock_nanosleep epoll_wait pselect6 ppoll
    # epoll_pwait
    "x86_64": frozenset({0, 7, 23, 35, 45, 47, 230, 232, 270, 271, 281}),
    # read select(82) socketcall _newselect nanosleep poll epoll_wait clock_nanosleep
    # pselect6 ppoll epoll_pwait recvfrom recvmsg clock_nanosleep_time64 pselect6_time64
    # ppoll_time64 epoll_pwait2
    "i386": frozenset({3, 82, 102, 142, 162, 168, 256, 267, 308, 309, 319, 371, 372, 407,
                       413, 414, 441}),
    # epoll_pwait read pselect6 ppoll nanosleep clock_nanosleep recvfrom recvmsg
    "aarch64": frozenset({22, 63, 72, 73, 101, 115, 207, 212}),
}


def _exe_abi(exe: str) -> str:
    """The ABI of an ELF executable (its e_machine), as a key of _WAIT_SYSCALLS_BY_ABI."""
    try:
        with open(exe, "rb") as f:
            head = f.read(20)
    except OSError:
        return platform.machine()
    return {3: "i386", 62: "x86_64", 183: "aarch64"}.get(
        int.from_bytes(head[18:20], "little"), platform.machine())


@functools.cache
def _wait_syscalls() -> frozenset[int] | None:
    from sealsim import micropython as mp

    return _WAIT_SYSCALLS_BY_ABI.get(_exe_abi(mp.micropython_exe()))


def _stopped(pid: int, timeout: float = 2.0) -> bool:
    """Wait (bounded) until a SIGSTOP sent to `pid` has taken effect; False if it is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return False
        if state in ("T", "t"):
            return True
        if state in ("Z", "X") or time.monotonic() > deadline:
            return False
        time.sleep(0.0002)


def _waiting(pid: int) -> bool | None:
    """Whether a stopped process sits in a wait syscall (None: cannot tell on this system)."""
    waits = _wait_syscalls()
    if waits is None:
        return None
    try:
        with open(f"/proc/{pid}/syscall") as f:
            nr = f.read().split()[0]
    except (OSError, IndexError):
        return None
    return nr.lstrip("-").isdigit() and int(nr) in waits


def interrupt(pid: int, patience: float = 1.0) -> bool:
    """Ctrl-C while code runs, as an ESP32 takes it: True if SIGINT was delivered to
    MicroPython's handler, False if it has none installed (the byte is then REPL input).

    The unix port raises KeyboardInterrupt from inside its signal handler (a longjmp out of
    whatever native code runs), where an ESP32 only marks it pending for the VM. A signal in
    the middle of a garbage collection leaves the heap locked for good; one inside native
    socket or file code can leave an fd closed under a live socket (EBADF in
    _simlink.connect, seen under a stream of interrupts). So the process is stopped first and
    signalled only while it is blocked in a wait (asyncio's poll, a sleep, a socket read),
    as the board raises the pending interrupt there too. Stopped, it cannot remove its
    handler between the check and the signal either (SIG_DFL would kill it). A program
    that never waits gets the signal after `patience` seconds anyway."""
    deadline = time.monotonic() + patience
    while True:
        if not _signal(pid, signal.SIGSTOP):
            return False
        try:
            if not _stopped(pid) or not _catches_sigint(pid):
                return False
            if _waiting(pid) is not False or time.monotonic() > deadline:
                return _signal(pid, signal.SIGINT)
        finally:
            _signal(pid, signal.SIGCONT)
        time.sleep(0.001)
