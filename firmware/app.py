# Boot order of the sealscan application (main.py: `import app; app.main()`).
#
# RAM is the budget (~110 KB): the big buffers are allocated before most code is loaded, while
# the heap is still one piece. 1) configuration from board.json + NVS, 2) the Sealer (its
# record queue is the largest block), 3) the rest of the application, 4) the asyncio tasks.
# The boot-only code (bootload.py) is loaded for 1) and 3) and released before 4).
import gc

import config
import transient
from micropython import const

# Sealed records waiting for their ack: ~250 bytes each, so 6 KiB holds ~24 records, several
# times what a courier captures in the 30 s an ack may take. Boards with PSRAM keep more.
_QUEUE_SMALL = const(6144)
_QUEUE_LARGE = const(65536)
# The watchdog (handheld._WDT_MS) cannot be stopped on an ESP32 and outlives a soft reset, but
# not a chip reset: the app never lets go to a console (it ends in machine.reset()), and the
# depot's console is maintenance mode, entered at power-on before any app started a watchdog.


def main():
    fresh = transient.loading("bootload")
    try:
        a = _boot()
    finally:
        transient.release(fresh)
    if a is None:  # not started (maintenance mode, not provisioned): no record data in RAM
        return
    gc.collect()
    import asyncio

    import machine
    import micropython

    # From here record data can be in RAM: the console is locked. Ctrl-C no longer
    # interrupts, and the app never returns to the REPL (and so to the raw REPL): whatever
    # ends it (an exception asyncio lets through, SystemExit) resets the board. The depot's
    # way in is maintenance mode (BACK held at power-on: bootload.maintenance).
    micropython.kbd_intr(-1)
    try:
        asyncio.run(a.run())
    finally:
        machine.reset()


def _boot():
    import bootload
    import esp32

    try:
        board = bootload.load_board()
        if bootload.maintenance(board):
            bootload.scrub_heap()
            print("sealscan: maintenance mode (BACK held at power-on): app not started, "
                  "console open")
            return None
        cfg = bootload.read_config(esp32.NVS(config.NAMESPACE), board)
    except (OSError, ValueError, config.ConfigError) as e:
        print("sealscan: cannot start:", e)
        return None
    gc.collect()
    import sealer

    queue = _QUEUE_LARGE if board.get("heap_kib", 0) >= 1024 else _QUEUE_SMALL
    s = sealer.Sealer(cfg.device_id, cfg.device_key, cfg.upstream_pk, queue)
    gc.collect()
    import flow
    import handheld

    fl = flow.Flow(cfg.badge_key, cfg.config_key, cfg.carrier, cfg.config_serial)
    try:
        io = bootload.wire(board, cfg.lang)
    except config.ConfigError as e:  # the font asset is missing or damaged
        print("sealscan: cannot start:", e)
        return None
    # the parsed board.json goes with this frame
    return handheld.App(cfg, s, fl, io)
