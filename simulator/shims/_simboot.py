# sealsim boot (runs first in every simulated device process, like the ESP32's frozen _boot):
# the device's filesystem root becomes the state directory's fs/ at once, the shims are all
# imported from a read-only mount that is removed again, then boot.py and main.py run as on
# the board, then the REPL.
#
# The shims stand in for native modules that an ESP32 keeps in flash and static RAM, outside
# the RAM budget its heap grows from. Importing them all here fixes their cost; the supervisor
# measures it (this file with SEALSIM_CALIBRATE set) and credits exactly that much to the
# initial heap and the budget, so the firmware finds the board's RAM as it is.
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
import ntptime

gc.collect()
if os.getenv("SEALSIM_CALIBRATE"):
    print("SHIMHEAP", gc.mem_alloc())
    raise SystemExit
del _simlink, machine, network, esp32, socket, ntptime
vfs.umount("/.sim")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]  # as on an ESP32


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        with open(name) as f:
            src = f.read()
        exec(compile(src, name, "exec"), globals())
    except (Exception, KeyboardInterrupt) as e:
        sys.print_exception(e)


_run("boot.py")
if not os.getenv("SEALSIM_NOMAIN"):
    _run("main.py")
del _run, vfs, gc
