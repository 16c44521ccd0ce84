"""binguard keeps Binance Spot trading bots alive.

Parts: `binguard.errors` (the catalog, typed errors, classify), `binguard.sim` (a local Binance with
fault injection), `binguard.connector` (a resilient async Spot client), `binguard.doctor` (log
diagnosis). The names below are the stable public face; everything else may move.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from .errors import (
    BinanceError,
    Family,
    Recovery,
    catalog,
    classify,
)

try:  # one place for the version: pyproject.toml, read through the installed metadata
    __version__ = _version("binguard")
except PackageNotFoundError:  # a source tree used without installing it
    __version__ = "0+unknown"

__all__ = ["BinanceError", "Family", "Recovery", "__version__", "catalog", "classify"]
