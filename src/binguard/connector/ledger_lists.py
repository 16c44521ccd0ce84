"""The ledger's half for order lists and edits (cancel-replace, amend): with ledger.py, the only
writer of the journal, guarding the same stages with the same transition table.

    INTENT → SENT → ACKED | UNKNOWN → FINAL

A list is ACKED while Binance says EXECUTING and FINAL once ALL_DONE or REJECT; NOT_PLACED when
it provably never reached the matching engine (then, and only then, it may be sent again with the
same ids). An edit is FINAL once both of its halves are known (the outcome says which happened).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .journal import OrderJournal, Stage
from .journal_records import EditEntry, ListEntry, _Records
from .ledger import _STALE, NOT_PLACED, TRANSITIONS, IllegalTransition
from .list_models import OrderList
from .tracker import OrderTracker


class ListLedger:
    """Lists and edits in the journal (`journal.lists`, `journal.edits`) and the tracker."""

    def __init__(self, journal: OrderJournal, tracker: OrderTracker) -> None:
        self.journal = journal
        self.tracker = tracker

    def _move(
        self,
        records: _Records,
        key: str,
        to: Stage,
        now: tuple[Stage, str | None] | None = None,
    ) -> bool:
        """True to write the move, False for a stale one (a race between sources); raises
        IllegalTransition for a move no path makes. `now`: the entry's (stage, status) when
        the caller has just read it."""
        now = now or records.stage_of(key)
        if now is None:
            raise IllegalTransition(f"no journal entry for {records.key} {key!r}")
        stage, status = now
        if (stage, to) in _STALE:
            return False
        if to is Stage.SENT and status == NOT_PLACED:
            return True  # proven never placed: sent again with the same ids
        if to not in TRANSITIONS[stage]:
            raise IllegalTransition(f"{records.key} {key}: {stage.value} → {to.value}")
        return True

    # -- lists ----------------------------------------------------------------------------------
    def list_intent(
        self,
        list_id: str,
        symbol: str,
        kind: str,
        params: Mapping[str, str],
        legs: Sequence[tuple[str, str]],
        *,
        sent: bool = False,
        fresh: bool = False,
    ) -> bool:
        """Journal the list (with `sent`, and its first send, in one write); False when it was
        journalled already (then `list_sent` moves it, as for every later send). `fresh`: the
        list's and legs' ids were all drawn just now (not looked up)."""
        return self.journal.lists.record_intent(
            list_id, symbol, kind, params, legs, sent=sent, fresh=fresh
        )

    def list_sent(self, list_id: str) -> None:
        if self._move(self.journal.lists, list_id, Stage.SENT):
            self.journal.lists.mark_sent(list_id)

    def list_unknown(self, list_id: str, error: str) -> None:
        if self._move(self.journal.lists, list_id, Stage.UNKNOWN):
            self.journal.lists.mark_unknown(list_id, error)

    def list_final(self, list_id: str, status: str, error: str | None = None) -> None:
        """A list that never existed (NOT_PLACED) or was refused (REJECTED)."""
        if self._move(self.journal.lists, list_id, Stage.FINAL):
            self.journal.lists.mark_outcome(list_id, Stage.FINAL, status, error=error)

    def list_seen(self, lst: OrderList, *, soon: bool = False) -> None:
        """A list's state from any source: tracked, its journal entry and legs settled. `soon`:
        the journal write may wait for its next commit (a placement's answer; journal.py)."""
        self.tracker.update_list(lst)
        for report in lst.reports:
            self.tracker.update_order(report)
        lists = self.journal.lists
        now = lists.stage_of(lst.list_client_order_id)
        if now is None:
            return  # not one of ours (another program on the account)
        legs = [(coid, oid, _status_of(lst, oid)) for oid, coid in lst.orders]
        to = Stage.FINAL if lst.is_final else Stage.ACKED
        moved = self._move(lists, lst.list_client_order_id, to, now)
        outcome = (to, lst.list_order_status, lst.order_list_id) if moved else None
        lists.settle(lst.list_client_order_id, legs, outcome, soon=soon)

    def list_entry(self, list_id: str) -> ListEntry | None:
        return self.journal.lists.get(list_id)

    def pending_lists(self) -> list[ListEntry]:
        return self.journal.lists.pending()

    # -- edits ----------------------------------------------------------------------------------
    def edit_intent(self, edit_id: str, kind: str, symbol: str, params: Mapping[str, str]) -> None:
        self.journal.edits.record_intent(edit_id, kind, symbol, params)

    def edit_sent(self, edit_id: str) -> None:
        if self._move(self.journal.edits, edit_id, Stage.SENT):
            self.journal.edits.mark_sent(edit_id)

    def edit_unknown(self, edit_id: str, error: str) -> None:
        if self._move(self.journal.edits, edit_id, Stage.UNKNOWN):
            self.journal.edits.mark_unknown(edit_id, error)

    def edit_done(
        self,
        edit_id: str,
        status: str,
        *,
        order_id: int | None = None,
        outcome: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Both halves known: FINAL with what happened (`outcome`)."""
        if self._move(self.journal.edits, edit_id, Stage.FINAL):
            self.journal.edits.mark_outcome(
                edit_id, Stage.FINAL, status, order_id=order_id, outcome=outcome, error=error
            )

    def edit_entry(self, edit_id: str) -> EditEntry | None:
        return self.journal.edits.get(edit_id)

    def pending_edits(self) -> list[EditEntry]:
        return self.journal.edits.pending()


def _status_of(lst: OrderList, order_id: int) -> str | None:
    for report in lst.reports:
        if report.order_id == order_id:
            return report.status
    return None
