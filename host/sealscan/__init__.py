"""sealscan host tools: flash, deploy, provision and audit courier scanners."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sealscan")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"
