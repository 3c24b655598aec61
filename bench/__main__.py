"""`make bench`: run every bench/bench_*.py; each prints its own table with ratios against a
floor measured in the same run (these machines are noisy, so absolute numbers mean little)."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    if not wanted:
        print("no benchmarks matched" if argv else "no benchmarks in bench/ yet")
        return 0 if not argv else 1
    for name in wanted:
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
