import json
import subprocess
import sys

import click
from click.testing import CliRunner

from sealscan import __version__
from sealscan.cli import GROUPS, cli


def test_help_lists_groups_with_descriptions():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for group in GROUPS:
        line = next((ln for ln in lines if ln.strip().startswith(group + " ")), None)
        assert line is not None, f"{group} missing from --help"
        assert len(line.split(None, 1)[1]) > 10, f"{group} has no description"


def test_every_group_has_real_commands():
    # No placeholder groups: each group lists at least one command with its own help; a
    # top-level command (deploy, provision, ... like mpremote's) has a description and options.
    for group in GROUPS:
        result = CliRunner().invoke(cli, [group, "--help"])
        assert result.exit_code == 0, result.output
        if isinstance(cli.get_command(click.Context(cli), group), click.Group):
            assert "Commands:" in result.output
        else:
            usage, description = result.output.split("\n\n", 2)[:2]
            assert usage.startswith("Usage: ") and len(description.strip()) > 10, group
            assert "Options:" in result.output and "--help" in result.output


def test_version_console_script():
    out = subprocess.run([sys.executable, "-m", "sealscan", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"sealscan, version {__version__}"


def test_boards_list_json():
    result = CliRunner().invoke(cli, ["boards", "list", "--json"])
    assert result.exit_code == 0
    names = [b["name"] for b in json.loads(result.output)]
    assert "esp32-devkitc-gm65" in names


def test_unknown_board_is_input_error():
    result = CliRunner().invoke(cli, ["boards", "show", "no-such-board"])
    assert result.exit_code == 3
    assert "no board named 'no-such-board'" in result.output
