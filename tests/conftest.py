import pytest  # noqa: F401

# Firmware tests (tests/firmware) run under MicroPython through this plugin; pytester lets
# host tests run pytest on fixture trees to prove the harness reports what it should.
pytest_plugins = ["sealsim.pytest_plugin", "pytester"]
