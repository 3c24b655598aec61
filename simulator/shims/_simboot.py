# sealsim boot (runs first in every simulated device process, like the ESP32's frozen _boot):
# the device's flash (<state>/flash.bin) is opened and the host filesystem let go of at once,
# the shims are all imported from a read-only mount that is removed again, the vfs partition
# is mounted as LittleFS through esp32.Partition (formatted at first boot, as the esp32
# port's _boot.py and inisetup.py do), then boot.py and main.py run as on the board, then
# the REPL.
#
# The shims stand in for native modules that an ESP32 keeps in flash and static RAM, outside
# the RAM budget its heap grows from. Importing them all here fixes their cost; the supervisor
# measures it (this file with SEALSIM_CALIBRATE set) and credits exactly that much to the
# initial heap and the budget, so the firmware finds the board's RAM as it is. `time` is not
# a shim: the interpreter has the esp32 port's, on the device clock.
import gc
import sys
import os
import vfs

vfs.umount("/")  # from here on the device sees its own flash only
vfs.mount(vfs.VfsPosix(os.getenv("SEALSIM_STATE")), "/.state")
_flash = open("/.state/flash.bin", "r+b")  # the device is its flash.bin: kept open
vfs.umount("/.state")
vfs.mount(vfs.VfsPosix(os.getenv("SEALSIM_SHIMS")), "/.sim", readonly=True)
sys.path[:] = ["/.sim/device", "/.sim"]  # device/: shims that replace unix-port built-ins

import _simlink
import machine
import network
import esp32
import socket
import ntptime

esp32._attach(_flash, os.getenv("SEALSIM_PARTS"))
del _flash
# ports/esp32/modules/_boot.py, flashbdev.py and inisetup.py. Mounted before the heap is
# measured: like the VfsPosix mount before it, the filesystem's own heap counts as the
# simulator's, so main.py still finds the board's budget.
if True:
    _bdev = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    _bdev = _bdev[0] if _bdev else None
    try:
        if _bdev:
            vfs.mount(_bdev, "/")
    except OSError:
        _buf = bytearray(_bdev.ioctl(5, 0))
        _bdev.readblocks(0, _buf)
        if any(b != 0xFF for b in _buf):
            print("The filesystem appears to be corrupted. If you had important data there, "
                  "you\nmay want to make a flash snapshot to try to recover it. Otherwise, "
                  "perform\nfactory reprogramming of MicroPython firmware (completely erase "
                  "flash, followed\nby firmware programming).")
            raise SystemExit
        del _buf
        print("Performing initial setup")
        vfs.VfsLfs2.mkfs(_bdev)
        vfs.mount(vfs.VfsLfs2(_bdev), "/")
        with open("boot.py", "w") as _f:
            _f.write("# This file is executed on every boot (including wake-boot from "
                     "deepsleep)\n#import esp\n#esp.osdebug(None)\n#import webrepl\n"
                     "#webrepl.start()\n")
        del _f
    del _bdev
gc.collect()
if os.getenv("SEALSIM_CALIBRATE"):
    print("SHIMHEAP", gc.mem_alloc())
    raise SystemExit
# The boot's critical part is over: a Ctrl-C that arrived during it (a board's _boot.py is too
# short to be hit) is delivered now, to boot.py/main.py, instead of leaving flash unmounted.
_simlink.event("booted")
del _simlink, machine, network, socket, ntptime
vfs.umount("/.sim")
del esp32
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
