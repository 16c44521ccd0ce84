"""Account balances: free and locked per asset, in atoms."""

from __future__ import annotations

from collections import defaultdict

from ..config import AccountSpec
from ..numbers import to_atoms


class Account:
    """Balances and commission rates. `unlimited` accounts (the background crowd) never run dry."""

    __slots__ = (
        "can_trade",
        "free",
        "locked",
        "maker_bps",
        "name",
        "taker_bps",
        "uid",
        "unlimited",
        "update_time",
    )

    def __init__(
        self,
        name: str,
        uid: int,
        balances: dict[str, int],
        maker_bps: int = 10,
        taker_bps: int = 10,
        can_trade: bool = True,
        unlimited: bool = False,
    ) -> None:
        self.name = name
        self.uid = uid
        self.free: defaultdict[str, int] = defaultdict(int, balances)
        self.locked: defaultdict[str, int] = defaultdict(int)
        self.maker_bps = maker_bps
        self.taker_bps = taker_bps
        self.can_trade = can_trade
        self.unlimited = unlimited
        self.update_time = 0

    @classmethod
    def of(cls, spec: AccountSpec) -> Account:
        return cls(
            spec.name,
            spec.uid,
            {asset: to_atoms(v) for asset, v in spec.balances.items()},
            spec.maker_bps,
            spec.taker_bps,
            spec.can_trade,
        )

    def has(self, asset: str, amount: int) -> bool:
        return self.unlimited or self.free[asset] >= amount

    def lock(self, asset: str, amount: int) -> None:
        if not self.unlimited:
            self.free[asset] -= amount
            self.locked[asset] += amount

    def unlock(self, asset: str, amount: int) -> None:
        if not self.unlimited:
            self.locked[asset] -= amount
            self.free[asset] += amount

    def debit_locked(self, asset: str, amount: int) -> None:
        if not self.unlimited:
            self.locked[asset] -= amount

    def debit(self, asset: str, amount: int) -> None:
        if not self.unlimited:
            self.free[asset] -= amount

    def credit(self, asset: str, amount: int) -> None:
        if not self.unlimited:
            self.free[asset] += amount
