"""The demo's verdict: the connector's view against the simulator's ground truth.

- orders_intended: orders the connector journalled: single orders, list legs and the new
  orders of cancel-replaces (an edit refused before its new order, or a leg a list never placed,
  is intended and absent);
- orders_on_exchange: orders with the connector's client order ids in the simulator;
- lost: orders on the exchange the connector does not know it placed, plus orders it believes
  placed that the exchange does not have (an order's client id may be a list leg's, a
  cancel-replace's new order's, or an amendment's: the journal knows all three);
- duplicated: extra exchange orders for one intent (one client order id placed twice);
- lists_placed / lists_lost / lists_duplicated: the same for order lists (OCO, OTOCO), by
  listClientOrderId against /_sim/order_lists;
- edits_made / edits_lost / edits_duplicated: cancel-replaces and amendments the connector
  journalled, against the exchange (a cancel-replace's new order in /_sim/orders, an amendment in
  /_sim/amendments by its new client order id);
- bans: 418s the connector earned itself (after its own 429s); the fault plan's forced ban does
  not count, but every request sent during a ban the connector knew of does
  (requests_during_ban; see count_bans);
- clock_errors_after_sync: -1021 answers after the first clock sync;
- unhandled_exceptions: non-Binance exceptions that reached the application;
- book_mismatches: levels where the local order book (WebSocket diffs) differs from the
  simulator's book at the same update id, at the end (or 1 if it never caught up);
- missed_fills: fills of the account in the simulator's ground truth (/_sim/fills) that the
  connector does not know (user data stream + REST catch-up).

Every count but the first two must be 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from binguard.connector.journal import JournalEntry, Stage
from binguard.connector.journal_records import EditEntry, ListEntry


@dataclass(frozen=True, slots=True)
class Verdict:
    orders_intended: int
    orders_on_exchange: int
    lost: int
    duplicated: int
    bans: int
    requests_during_ban: int
    clock_errors_after_sync: int
    unhandled_exceptions: int
    book_mismatches: int = 0
    missed_fills: int = 0
    lists_placed: int = 0
    lists_lost: int = 0
    lists_duplicated: int = 0
    edits_made: int = 0
    edits_lost: int = 0
    edits_duplicated: int = 0

    # Every count but the ones placed / made is an invariant of the demo (the verdict).
    MUST_BE_ZERO: ClassVar[tuple[str, ...]] = (
        "lost",
        "duplicated",
        "lists_lost",
        "lists_duplicated",
        "edits_lost",
        "edits_duplicated",
        "bans",
        "requests_during_ban",
        "clock_errors_after_sync",
        "unhandled_exceptions",
        "book_mismatches",
        "missed_fills",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.MUST_BE_ZERO)

    def as_dict(self) -> dict[str, int | bool]:
        return {**asdict(self), "ok": self.ok}


def count_bans(
    requests: Iterable[Mapping[str, Any]], forced_labels: set[str], known_at: Iterable[int] = ()
) -> tuple[int, int]:
    """(bans earned, requests during a known ban) from the simulator's request log, in order.

    A 418 starts a ban unless one is running; a ban started by a forced-ban fault is not earned.
    A further 418 while a ban runs is a request sent during it; it counts as sent during a *known*
    ban when it arrived after the connector learnt of the ban (`known_at`: instants on the
    simulator's clock, ms). Requests already on their way when the ban was learnt are not the
    connector's doing; 1 ms of grace absorbs the clock's granularity and the event loop the demo's
    simulator shares with the connector. A ban the connector never learnt of counts every further
    418. Any other answer means the ban is over."""
    learnt = sorted(known_at)
    earned = during = 0
    started: int | None = None  # arrival of the 418 that began the running ban
    for r in requests:
        if r.get("status") != 418:
            if r.get("status"):
                started = None
            continue
        arrived = int(r.get("time", 0))
        if started is not None:
            # When the connector learnt of this ban; a ban it never learnt of counts in full.
            learnt_at = next((k for k in learnt if k >= started), started - 1)
            if arrived > learnt_at + 1:
                during += 1
            continue
        if r.get("fault") not in forced_labels:
            earned += 1
        started = arrived
    return earned, during


def judge(
    *,
    journal: Iterable[JournalEntry],
    exchange_orders: Iterable[Mapping[str, Any]],
    requests: Iterable[Mapping[str, Any]],
    forced_ban_labels: set[str],
    bans_learnt_at: Iterable[int] = (),
    clock_errors_after_sync: int,
    unhandled: int,
    prefix: str,
    book_mismatches: int = 0,
    missed_fills: int = 0,
    lists: Iterable[ListEntry] = (),
    edits: Iterable[EditEntry] = (),
    exchange_lists: Iterable[Mapping[str, Any]] = (),
    amendments: Iterable[Mapping[str, Any]] = (),
) -> Verdict:
    mine = prefix + "-"
    entries = {e.client_order_id: e for e in journal}
    list_entries = {e.list_client_id: e for e in lists}
    edit_entries = {e.edit_id: e for e in edits}
    ours = [o for o in exchange_orders if str(o.get("clientOrderId", "")).startswith(mine)]
    amended = [a for a in amendments if str(a.get("newClientOrderId", "")).startswith(mine)]
    known = _known_orders(entries, list_entries, edit_entries)
    renamed_from = {str(a["newClientOrderId"]): str(a["origClientOrderId"]) for a in amended}
    lost, duplicated = _orders_check(ours, known, renamed_from)
    lists_lost, lists_duplicated = _lists_check(
        [t for t in exchange_lists if str(t.get("listClientOrderId", "")).startswith(mine)],
        list_entries,
    )
    edits_lost, edits_duplicated = _edits_check(
        ours, amended, set(renamed_from.values()), edit_entries
    )
    bans, during = count_bans(requests, forced_ban_labels, bans_learnt_at)
    return Verdict(
        orders_intended=len(known),
        orders_on_exchange=len(ours),
        lost=lost,
        duplicated=duplicated,
        bans=bans,
        requests_during_ban=during,
        clock_errors_after_sync=clock_errors_after_sync,
        unhandled_exceptions=unhandled,
        book_mismatches=book_mismatches,
        missed_fills=missed_fills,
        lists_placed=len(list_entries),
        lists_lost=lists_lost,
        lists_duplicated=lists_duplicated,
        edits_made=len(edit_entries),
        edits_lost=edits_lost,
        edits_duplicated=edits_duplicated,
    )


_DONE = (Stage.ACKED, Stage.FINAL)


def _known_orders(
    entries: Mapping[str, JournalEntry],
    lists: Mapping[str, ListEntry],
    edits: Mapping[str, EditEntry],
) -> dict[str, int | None]:
    """Every order client id the journal holds, with its orderId once known to be placed."""
    known: dict[str, int | None] = {}
    for coid, entry in entries.items():
        known[coid] = entry.order_id if entry.stage in _DONE else None
    for lst in lists.values():
        for leg in lst.legs:
            known[leg.client_order_id] = leg.order_id if lst.stage in _DONE else None
    for edit in edits.values():
        if edit.kind == "cancel_replace":
            known[edit.edit_id] = edit.order_id if edit.stage in _DONE else None
    return known


def _orders_check(
    ours: list[Mapping[str, Any]], known: Mapping[str, int | None], renamed_from: Mapping[str, str]
) -> tuple[int, int]:
    """(lost, duplicated) single orders, list legs and cancel-replaces' new orders.

    An amendment renames its order (origClientOrderId -> newClientOrderId): the exchange shows
    the new name, the journal knows the order under its first name too."""
    renamed = set(renamed_from.values())
    per_id = Counter(str(o["clientOrderId"]) for o in ours)
    duplicated = sum(n - 1 for n in per_id.values() if n > 1)
    lost = 0
    for order in ours:
        coid = str(order["clientOrderId"])
        names = [coid]
        while names[-1] in renamed_from and len(names) < 64:
            names.append(renamed_from[names[-1]])
        if not any(known.get(n) == order["orderId"] for n in names):
            lost += 1  # on the exchange, unknown to the connector (or under another id)
    for coid, order_id in known.items():
        if order_id is not None and coid not in per_id and coid not in renamed:
            lost += 1  # the connector believes it placed an order the exchange does not have
    return lost, duplicated


def _lists_check(
    theirs: list[Mapping[str, Any]], lists: Mapping[str, ListEntry]
) -> tuple[int, int]:
    """(lost, duplicated) order lists, by listClientOrderId."""
    per_id = Counter(str(t["listClientOrderId"]) for t in theirs)
    lost = 0
    for t in theirs:
        entry = lists.get(str(t["listClientOrderId"]))
        if entry is None or entry.stage not in _DONE or entry.order_list_id != t["orderListId"]:
            lost += 1
    for list_id, entry in lists.items():
        if entry.order_list_id is not None and list_id not in per_id:
            lost += 1
    return lost, sum(n - 1 for n in per_id.values() if n > 1)


def _edits_check(
    ours: list[Mapping[str, Any]],
    amended: list[Mapping[str, Any]],
    renamed: set[str],
    edits: Mapping[str, EditEntry],
) -> tuple[int, int]:
    """(lost, duplicated) edits: an amendment on the exchange the journal does not hold as done
    (or the other way round), one applied twice; a cancel-replace the journal believes placed
    whose new order is absent (its presence is the orders check's)."""
    per_amend = Counter(str(a["newClientOrderId"]) for a in amended)
    on_exchange = {str(o["clientOrderId"]) for o in ours}
    lost = 0
    for new_id in per_amend:
        entry = edits.get(new_id)
        if entry is None or entry.kind != "amend" or entry.order_id is None:
            lost += 1
    for edit_id, entry in edits.items():
        if entry.stage not in _DONE or entry.order_id is None:
            continue
        if (entry.kind == "amend" and edit_id not in per_amend) or (
            entry.kind == "cancel_replace"
            and edit_id not in on_exchange
            and edit_id not in renamed  # amended since: the exchange shows its new name
        ):
            lost += 1
    return lost, sum(n - 1 for n in per_amend.values() if n > 1)


def count_missed_fills(exchange_fills: Iterable[Mapping[str, Any]], known: set[int]) -> int:
    """Fills on the exchange (trade ids) the connector does not know."""
    return len({int(f["id"]) for f in exchange_fills} - known)


def count_book_mismatches(
    local: tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]],
    exchange: tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]],
) -> int:
    """Levels that differ between the local book and the exchange's, within the local depth."""
    bad = 0
    for mine, theirs in zip(local, exchange, strict=True):
        theirs = theirs[: len(mine)]
        bad += sum(1 for a, b in zip(mine, theirs, strict=False) if a != b)
        bad += abs(len(mine) - len(theirs))
    return bad
