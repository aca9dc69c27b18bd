"""Chapterhouse: the composition root (config, app factory, CLI, logging)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chapterhouse")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
