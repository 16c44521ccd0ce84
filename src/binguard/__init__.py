"""binguard keeps Binance Spot trading bots alive.

Parts: `binguard.errors` (the catalog, typed errors, classify), `binguard.sim` (a local Binance with
fault injection), `binguard.connector` (a resilient async Spot client), `binguard.doctor` (log
diagnosis). The names below are the stable public face; everything else may move.
"""

from .errors import (
    BinanceError,
    Family,
    Recovery,
    catalog,
    classify,
)

__version__ = "0.1.0"

__all__ = ["BinanceError", "Family", "Recovery", "__version__", "catalog", "classify"]
