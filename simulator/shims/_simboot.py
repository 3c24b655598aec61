# sealsim boot (runs first in every simulated device process, like the ESP32's frozen _boot):
# the device's filesystem root is the state directory's fs/, shims are mounted read-only at
# /.sim, then boot.py and main.py run as on the board, then the REPL.
import sys
import os
import vfs

vfs.umount("/")
vfs.mount(vfs.VfsPosix(os.getenv("SEALSIM_FS")), "/")
vfs.mount(vfs.VfsPosix(os.getenv("SEALSIM_SHIMS")), "/.sim", readonly=True)
os.chdir("/")
sys.path[:] = ["/.sim", "", ".frozen", "/lib"]


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
del _run, vfs
