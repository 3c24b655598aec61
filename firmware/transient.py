# Modules needed only rarely (HPKE session setup, badge and config codes) are imported when
# needed and released afterwards: once no longer in sys.modules and unreferenced, their
# bytecode and globals are garbage, which the ~110 KB heap needs back.
#
#   fresh = transient.loading("hpkeks", "hkdf")   # those not loaded yet
#   import hpkeks
#   try: ... finally: transient.release(fresh)     # only what this use loaded
#
# Modules something else had already loaded (a test, another user) are left alone.
import sys


def loading(*names):
    """The names among `names` that are not loaded yet (release() them when done)."""
    return [n for n in names if n not in sys.modules]


def release(names):
    for n in names:
        sys.modules.pop(n, None)
