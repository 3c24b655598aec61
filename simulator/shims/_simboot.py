# sealsim boot (runs first in every simulated device process, like the ESP32's frozen _boot):
# the device's filesystem root becomes the state directory's fs/ at once, the shims are all
# imported from a read-only mount that is removed again, then boot.py and main.py run as on
# the board, then the REPL.
#
# The shims stand in for native modules that cost an ESP32 no heap. Importing them all here
# fixes their cost; the supervisor adds exactly that much to the heap (measured by running
# this file with SEALSIM_CALIBRATE set), so the firmware finds the board's budget free.
import gc
import sys
import os
import vfs

vfs.umount("/")  # from here on the device sees its own flash only
vfs.mount(vfs.VfsPosix(os.getenv("SEALSIM_FS")), "/")
vfs.mount(vfs.VfsPosix(os.getenv("SEALSIM_SHIMS")), "/.sim", readonly=True)
sys.path[:] = ["/.sim/device", "/.sim"]  # device/: shims that replace unix-port built-ins

import _simlink
import machine
import network
import esp32
import socket
import time
import ntptime

gc.collect()
if os.getenv("SEALSIM_CALIBRATE"):
    print("SHIMHEAP", gc.mem_alloc())
    raise SystemExit
del _simlink, machine, network, esp32, socket, time, ntptime
vfs.umount("/.sim")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]  # as on an ESP32


def _compile(name):
    with open(name) as f:
        return compile(f.read(), name, "exec")


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        # only the compiled code stays alive while main.py runs (an ESP32 compiles main.py
        # from the file as it reads it and never holds its source text): read and compile
        # in a function of its own, so no stale reference to the text stays in this frame
        exec(_compile(name), globals())
    except (Exception, KeyboardInterrupt) as e:
        sys.print_exception(e)


_run("boot.py")
if not os.getenv("SEALSIM_NOMAIN"):
    _run("main.py")
del _run, _compile, vfs, gc
