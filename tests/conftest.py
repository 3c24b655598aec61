import pytest  # noqa: F401

# Firmware tests (tests/firmware) run under MicroPython through this plugin; pytester lets
# host tests run pytest on fixture trees to prove the harness reports what it should;
# sealsim.fixtures gives scenario tests `sim_devices` (simulated devices, always switched off).
pytest_plugins = ["sealsim.pytest_plugin", "sealsim.fixtures", "pytester"]
