"""`sealscan sim` is the simulator's own CLI module, loaded by name: without the sealsim
package the rest of the CLI works and `sim` says what is missing (no traceback)."""

import subprocess
import sys

# Runs the real CLI with `sealsim` not installed: an import hook answers for it as an
# environment without the package would (ModuleNotFoundError naming `sealsim`).
_RUN = """
import sys

class NoSimulator:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "sealsim":
            raise ModuleNotFoundError(f"No module named {name.partition('.')[0]!r}",
                                      name="sealsim")

sys.meta_path.insert(0, NoSimulator())
sys.argv = ["sealscan", *sys.argv[1:]]
from sealscan.cli import main
main()
"""


def _sealscan(*args):
    return subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True,
                          text=True, timeout=60)


def test_sim_without_the_simulator_says_what_is_missing():
    proc = _sealscan("sim", "run", "--board", "esp32-devkitc-gm65")
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    assert "needs the sealsim package" in proc.stderr and "make setup" in proc.stderr


def test_cli_help_without_the_simulator_still_lists_every_group():
    proc = _sealscan("--help")
    assert proc.returncode == 0, proc.stderr
    assert "sim" in proc.stdout and "not available" in proc.stdout
    assert "boards" in proc.stdout


def test_sim_is_loaded_from_the_simulator_package():
    from sealscan.cli import GROUPS

    assert GROUPS["sim"].startswith("sealsim.")
