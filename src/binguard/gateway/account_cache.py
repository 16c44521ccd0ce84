"""Keys mode's account cache: one real key's `GET /api/v3/account`, kept from the user data stream.

A snapshot (the upstream answer to `GET /api/v3/account`, all balances) is taken once the
subscription is live; events that arrive while it is in flight (from `expect`, called as the
request leaves: what came before is in the snapshot) are held and applied on top of it
(user-data-stream.md): an `outboundAccountPosition` carries the absolute free and locked
amounts of the assets it names, so it is applied when its `u` (time of the account update) is
not older than the snapshot's `updateTime`, in stream order; a `balanceUpdate` carries a delta,
which cannot be placed against a snapshot taken at an unknown moment, so one arriving before the
snapshot is in asks for a new snapshot (`load` says so). Answers follow rest-api.md §Account
information, `omitZeroBalances` included.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

_EIGHT = Decimal("0.00000001")  # Binance's balances carry 8 decimals


class AccountCache:
    """The account of one real key: a snapshot and the events since (module docstring)."""

    def __init__(self) -> None:
        self._account: dict[str, Any] | None = None  # the snapshot but its balances
        self._balances: dict[str, tuple[str, str]] = {}  # asset -> (free, locked), as sent
        self._held: list[dict[str, Any]] = []  # events before the snapshot came
        self._delta_held = False  # a balanceUpdate came before the snapshot

    @property
    def ready(self) -> bool:
        return self._account is not None

    def reset(self) -> None:
        """Forget everything (a gap, a new subscription): answer nothing until `load`."""
        self._account = None
        self._balances = {}
        self._held = []
        self._delta_held = False

    def expect(self) -> None:
        """A snapshot request leaves now: every event received so far is in its answer, so only
        the events from here on are held (the hold stays as short as the request)."""
        self._held, self._delta_held = [], False

    def load(self, snapshot: Any) -> bool:
        """Take a snapshot and apply the events held since the subscription began; False (and
        still not ready) if it cannot be used: not the account's shape, or a delta came while
        it was in flight (take another)."""
        if self._delta_held:
            self._held, self._delta_held = [], False
            return False
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("balances"), list):
            return False
        if not isinstance(snapshot.get("updateTime"), int):
            return False
        balances: dict[str, tuple[str, str]] = {}
        for row in snapshot["balances"]:
            if not isinstance(row, dict) or not isinstance(row.get("asset"), str):
                return False
            balances[row["asset"]] = (str(row.get("free")), str(row.get("locked")))
        self._account = {k: v for k, v in snapshot.items() if k != "balances"}
        self._balances = balances
        held, self._held = self._held, []
        for event in held:
            u = event.get("u")
            if isinstance(u, int) and u >= snapshot["updateTime"]:
                self._position(event)
        return True

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("e")
        if kind not in ("outboundAccountPosition", "balanceUpdate"):
            return
        if self._account is None:
            if kind == "balanceUpdate":
                self._delta_held = True
            else:
                self._held.append(event)
            return
        if kind == "outboundAccountPosition":
            self._position(event)
        else:
            self._delta(event)

    def _position(self, event: dict[str, Any]) -> None:
        assert self._account is not None
        for row in event.get("B") or ():
            if isinstance(row, dict) and isinstance(row.get("a"), str):
                self._balances[row["a"]] = (str(row.get("f")), str(row.get("l")))
        u = event.get("u")
        if isinstance(u, int) and u > self._account.get("updateTime", 0):
            self._account["updateTime"] = u

    def _delta(self, event: dict[str, Any]) -> None:
        asset = event.get("a")
        if not isinstance(asset, str):
            return
        free, locked = self._balances.get(asset, ("0.00000000", "0.00000000"))
        try:
            new = (Decimal(free) + Decimal(str(event.get("d")))).quantize(_EIGHT)
        except InvalidOperation:
            self.reset()  # unreadable: answer nothing rather than something wrong
            return
        self._balances[asset] = (f"{new:f}", locked)

    def answer(self, omit_zero: bool) -> bytes | None:
        """The account as Binance shows it now, or None when not ready."""
        if self._account is None:
            return None
        rows = [
            {"asset": a, "free": f, "locked": lk}
            for a, (f, lk) in self._balances.items()
            if not (omit_zero and _zero(f) and _zero(lk))
        ]
        out: dict[str, Any] = {}
        for key, value in self._account.items():
            out[key] = value
            if key == "accountType":
                out["balances"] = rows  # rest-api.md's order: balances after accountType
        out.setdefault("balances", rows)
        return orjson.dumps(out)


def _zero(amount: str) -> bool:
    try:
        return Decimal(amount) == 0
    except InvalidOperation:
        return False
