"""`make lint` catches firmware MicroPython cannot compile or that calls APIs ESP32 lacks."""

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sealscan.cli import cli
from sealscan.paths import REPO

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lint"


def check(src: Path):
    return CliRunner().invoke(cli, ["firmware", "check", "--src", str(src)])


def test_good_firmware_passes():
    result = check(FIXTURES / "good")
    assert result.exit_code == 0, result.output
    assert "firmware ok" in result.output


def test_micropython_syntax_error_fails():
    result = check(FIXTURES / "bad_syntax")
    assert result.exit_code == 1
    assert "MicroPython cannot compile" in result.output
    assert "bad_syntax/app.py" in result.output


def test_missing_esp32_api_fails():
    result = check(FIXTURES / "bad_api")
    assert result.exit_code == 1
    assert 'bad_api/app.py:7: error: "UART" has no attribute "readbytes"' in result.output


@pytest.mark.parametrize("fixture", ["bad_syntax", "bad_api"])
def test_make_lint_firmware_fails(fixture):
    proc = subprocess.run(["make", "-s", "lint-firmware", f"FW_DIR={FIXTURES / fixture}"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"{fixture}/app.py" in proc.stderr
