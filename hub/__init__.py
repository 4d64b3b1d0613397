"""The data-exchange hub."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hub")  # pyproject.toml's, as installed: one place to change it
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
