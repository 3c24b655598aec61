# Runs the app only if the files are the ones firmware.json names (bootcheck.py).
import gc
import sys

try:
    import bootcheck

    _why = bootcheck.check()
except ImportError:
    _why = "MISSING FILE"
if _why:
    print("sealscan: firmware incomplete, not starting:", _why)
    if "bootcheck" in sys.modules:
        bootcheck.refuse(_why)
else:
    del sys.modules["bootcheck"], bootcheck
    gc.collect()
    import app

    app.main()
