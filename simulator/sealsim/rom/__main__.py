"""Run a simulated ESP32 / ESP32-S3 serial bootloader for people.

    python -m sealsim.rom --board esp32-devkitc-gm65 --state /tmp/dev1
    # prints the pty path; then: esptool --port <path> --before no-reset flash-id

Runs until interrupted (Ctrl-C / SIGTERM). The flash is <state>/flash.bin.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sealscan.boards import DEFAULT_BOARD
from sealsim.rom.chip import Faults, RomSimError, SimulatedChip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sealsim.rom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--board", default=DEFAULT_BOARD, help="board name or board file")
    parser.add_argument("--state", required=True, help="device state directory")
    parser.add_argument("--device-id", help="identity the MAC derives from (default: "
                        "the state directory's name)")
    parser.add_argument("--corrupt-write", action="store_true",
                        help="fault: the first block of every flash write reads back wrong")
    parser.add_argument("--drop-after", type=int, metavar="BLOCKS",
                        help="fault: the port disappears after this many flash data blocks")
    parser.add_argument("--replug-after", type=float, metavar="SECONDS",
                        help="fault: with --drop-after, the port comes back after this long")
    parser.add_argument("--wrong-model", action="store_true",
                        help="fault: answer as the other chip model")
    parser.add_argument("--link", help="also make this symlink to the pty (a stable name, "
                        "like /dev/serial/by-id; needed for --replug-after)")
    args = parser.parse_args(argv)
    if args.drop_after is not None and args.drop_after < 1:
        parser.error("--drop-after must be at least 1")
    if args.replug_after is not None and (args.drop_after is None or args.replug_after < 0):
        parser.error("--replug-after needs --drop-after and a non-negative delay")
    faults = Faults(corrupt_write=args.corrupt_write, drop_after_blocks=args.drop_after,
                    replug_after=args.replug_after, wrong_model=args.wrong_model)
    try:
        chip = SimulatedChip(args.board, args.state, device_id=args.device_id, faults=faults,
                             link=args.link)
    except RomSimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    port = chip.start()
    print(port, flush=True)
    print(f"{chip.model.display} ({chip.board.name}), MAC {chip.mac_text}, flash "
          f"{chip.flash_path}", file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.2):
            if not chip.running:  # the port was dropped for good, or the chip failed
                break
    except KeyboardInterrupt:
        pass
    finally:
        chip.stop()
    if chip.error is not None:
        print(f"error: {chip.error}", file=sys.stderr)
        return 1
    if "dropped" in chip.events and not chip.running:
        print("the port was dropped (injected fault)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
