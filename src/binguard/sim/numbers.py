"""Fixed-point amounts: every price and quantity is an int count of 1e-8 units ("atoms").

Binance prints amounts with 8 decimals and rejects more precision, so integers scaled by 1e8 are
exact, fast and free of float rounding; the matching engine never sees a Decimal or a float.
"""

from __future__ import annotations

import re

from .errors import SimError, illegal

SCALE = 100_000_000
DECIMALS = 8
DECIMAL_LEGAL = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
INT_LEGAL = "^[0-9]{1,20}$"
_DECIMAL = re.compile(r"([0-9]{1,20})(?:\.([0-9]{1,20}))?\Z")
_INT = re.compile(r"-?[0-9]{1,20}\Z")


def parse_amount(text: str, name: str, decimals: int = DECIMALS) -> int:
    """Atoms for a decimal parameter, with Binance's -1100 (syntax) and -1111 (precision) errors."""
    m = _DECIMAL.match(text)
    if m is None:
        raise illegal(name, DECIMAL_LEGAL)
    whole, frac = m.group(1), (m.group(2) or "").rstrip("0")
    if len(frac) > decimals:
        raise SimError.of(-1111, 0, name)
    return int(whole) * SCALE + (int(frac.ljust(DECIMALS, "0")) if frac else 0)


def parse_int(text: str, name: str) -> int:
    """An integer parameter (ids, limits, times); anything else is -1100 with the legal range."""
    if _INT.match(text) is None:
        raise illegal(name, INT_LEGAL)
    return int(text)


def to_atoms(text: str) -> int:
    """Atoms for a trusted decimal string from configuration (no Binance error, plain ValueError)."""
    whole, _, frac = text.strip().partition(".")
    frac = frac.rstrip("0")
    if len(frac) > DECIMALS or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"not a decimal with at most 8 places: {text!r}")
    return int(whole or "0") * SCALE + (int(frac.ljust(DECIMALS, "0")) if frac else 0)


def fmt(atoms: int) -> str:
    """Binance's 8-decimal text for an amount ("0.10000000")."""
    if atoms < 0:
        return "-" + fmt(-atoms)
    whole, frac = divmod(atoms, SCALE)
    return f"{whole}.{frac:08d}"


def mul(price: int, qty: int) -> int:
    """Quote atoms of price x qty, truncated to 8 decimals as Binance does."""
    return price * qty // SCALE
