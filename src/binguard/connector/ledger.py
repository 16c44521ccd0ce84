"""The order ledger: what the connector knows of its orders (tracker) and what it promised (journal).

The ledger is the only writer of the journal (journal.py), and it guards the journal's stages:

    INTENT → SENT → ACKED | UNKNOWN → FINAL
    UNKNOWN → SENT, FINAL (NOT_PLACED) → SENT: a re-send with the same id, once the order is
    provably not on the exchange (orders.py)

Knowledge only grows: once the exchange is known to have an order (ACKED) or its outcome is
known (FINAL), a lost answer arriving later (`unknown`) changes nothing, and a FINAL entry is not
taken back to ACKED by a late placement answer; both are races between sources (a REST answer
lost after the user data stream already told), not errors. A transition that no race explains —
sending an order the ledger holds as ACKED or FINAL without a new intent — is a bug, and raises
`IllegalTransition` (like httpx's `ClientState` or nautilus_trader's `mode.rs` guards).
"""

from __future__ import annotations

from collections.abc import Mapping

from .journal import JournalEntry, JournalError, OrderJournal, Stage
from .models import Order, Trade, is_final
from .tracker import OrderTracker

NOT_PLACED = "NOT_PLACED"  # the journal's status for an order that provably never existed
# The journal's status for an order Binance answers -2026 ORDER_ARCHIVED for (errors.md): it
# existed, ended (canceled or expired) with nothing executed, and was archived. Final, and unlike
# NOT_PLACED it never allows a re-send.
ARCHIVED = "ARCHIVED"

# The transitions each stage allows (the stage an order is in → the stages it may move to).
TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    Stage.INTENT: frozenset({Stage.SENT, Stage.ACKED, Stage.FINAL}),
    Stage.SENT: frozenset({Stage.SENT, Stage.ACKED, Stage.UNKNOWN, Stage.FINAL}),
    Stage.UNKNOWN: frozenset({Stage.SENT, Stage.ACKED, Stage.UNKNOWN, Stage.FINAL}),
    Stage.ACKED: frozenset({Stage.ACKED, Stage.FINAL}),
    Stage.FINAL: frozenset({Stage.FINAL}),
}
# Moves that only a race between sources makes: ignored, the entry keeps the better knowledge.
_STALE: frozenset[tuple[Stage, Stage]] = frozenset(
    {(Stage.ACKED, Stage.UNKNOWN), (Stage.FINAL, Stage.UNKNOWN), (Stage.FINAL, Stage.ACKED)}
)


class IllegalTransition(JournalError):  # noqa: N818 - named after the thing it refuses
    """A journal stage change no path of the connector makes: a bug, never a market event."""


class OrderLedger:
    """Tracker + journal; see the module docstring."""

    def __init__(self, journal: OrderJournal, tracker: OrderTracker) -> None:
        self.journal = journal
        self.tracker = tracker
        self._rearmed: set[str] = set()  # settled ids placed again with the same params

    def close(self) -> None:
        self.journal.close()

    # -- the journal's stages -------------------------------------------------------------------
    def _move(self, coid: str, to: Stage) -> bool:
        """Whether `coid` may move to `to` now: True to write it, False for a stale move
        (ignored). Raises IllegalTransition otherwise (and JournalError for an unknown id)."""
        known = self.journal.stage(coid)
        if known is None:
            raise JournalError(f"no journal entry for client order id {coid!r}")
        stage, status = known
        if (stage, to) in _STALE:
            return False
        if to is Stage.SENT and (coid in self._rearmed or status == NOT_PLACED):
            self._rearmed.discard(coid)
            return True  # placed again, or proven never placed (orders.py re-sends it)
        if to not in TRANSITIONS[stage]:
            raise IllegalTransition(f"order {coid}: {stage.value} → {to.value}")
        return True

    def intent(self, coid: str, symbol: str, params: Mapping[str, str]) -> None:
        """Journal the intent before anything is sent (the same id with the same params again:
        a re-placement, which may be sent once more)."""
        existing = self.journal.stage(coid)
        self.journal.record_intent(coid, symbol, params)
        if existing is not None and existing[0] in (Stage.ACKED, Stage.FINAL):
            self._rearmed.add(coid)

    def intent_sent(
        self, coid: str, symbol: str, params: Mapping[str, str], *, fresh: bool = False
    ) -> None:
        """`intent` then `sent` for a first send that follows its intent at once (no await
        between them, so no crash point is lost by joining them): one durable write for a new
        id, made before the bytes can leave. `fresh`: an id the caller drew just now
        (journal.py `record_first_send`)."""
        if not self.journal.record_first_send(coid, symbol, params, fresh=fresh):
            self.intent(coid, symbol, params)  # an id journalled before: the guarded path
            self.sent(coid)

    def sent(self, coid: str) -> None:
        """Right before the bytes leave: from now on the exchange may have the order."""
        if self._move(coid, Stage.SENT):
            self.journal.mark_sent(coid)

    def unknown(self, coid: str, error: str) -> None:
        if self._move(coid, Stage.UNKNOWN):
            self.journal.mark_unknown(coid, error)

    def acked(self, coid: str, order_id: int, status: str | None) -> None:
        """The exchange has the order (`status` None: answered ACK, not yet known). Committed
        with the next journal write or on the event loop's next turn (journal.py: a crash that
        loses it leaves the entry SENT, and `recover()` finds the order by its id)."""
        if self.journal.ack_first_send(coid, order_id, status):
            return  # the usual answer: SENT → ACKED, in the first send's waiting row
        if self._move(coid, Stage.ACKED):
            self.journal.mark_acked(coid, order_id, status, soon=True)

    def final(
        self, coid: str, status: str, order_id: int | None = None, error: str | None = None
    ) -> None:
        """A known end: the order exists (any Binance status) or was never placed."""
        if self._move(coid, Stage.FINAL):
            self.journal.mark_final(coid, status, order_id, error)

    def archived(self, coid: str, error: str | None = None) -> None:
        """Binance answered -2026 ORDER_ARCHIVED for `coid`: FINAL with status ARCHIVED (never
        sent again), and no longer tracked as open. A journal entry that already knows a final
        status keeps it (it says more than "archived")."""
        entry = self.journal.get(coid)
        if entry is not None and entry.stage is not Stage.FINAL:
            self.final(coid, ARCHIVED, entry.order_id, error=error)
        self.tracker.forget(client_order_id=coid)

    def archived_order(self, symbol: str, order_id: int, error: str | None = None) -> None:
        """`archived` for an order known by its order id (the user data fallback's polls)."""
        known = self.tracker.get(order_id=order_id, symbol=symbol)
        if known is not None and known.client_order_id:
            self.archived(known.client_order_id, error)
        self.tracker.forget(order_id=order_id, symbol=symbol)

    # -- what the exchange says ---------------------------------------------------------------
    def seen(self, order: Order) -> None:
        """An order's state from any source: track it, and settle its journal entry."""
        self.tracker.update_order(order)
        entry = self.journal.get(order.client_order_id) if order.client_order_id else None
        if entry is None:
            return
        if order.status is not None and is_final(order.status):
            if entry.stage is not Stage.FINAL or entry.status != order.status:
                self.final(order.client_order_id, order.status, order.order_id)
        elif entry.stage in (Stage.INTENT, Stage.SENT, Stage.UNKNOWN):
            self.acked(order.client_order_id, order.order_id, order.status)

    def settled(self, order: Order) -> Order:
        """A cancel's (or query's) answer: a journalled order in a final status is FINAL."""
        entry = self.journal.get(order.client_order_id)
        if entry is not None and order.status is not None and is_final(order.status):
            self.final(order.client_order_id, order.status, order.order_id)
        return order

    def track(self, order: Order) -> None:
        """Track an order's state (no journal write)."""
        self.tracker.update_order(order)

    def placed(self, order: Order) -> None:
        """A placement's answer: the order and the fills it carries."""
        self.tracker.update_order(order)
        self.tracker.add_order_fills(order)

    def add_trade(self, trade: Trade) -> int:
        return self.tracker.add_trade(trade)

    # -- reads ------------------------------------------------------------------------------------
    def get(self, coid: str) -> JournalEntry | None:
        return self.journal.get(coid)

    def pending(self) -> list[JournalEntry]:
        return self.journal.pending()

    def symbols(self) -> set[str]:
        """Every symbol an intent was journalled for."""
        return self.journal.symbols()
