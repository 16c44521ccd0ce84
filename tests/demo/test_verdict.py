"""The demo's verdict: which 418s are the connector's fault, against a request log; and which
orders, lists and edits are lost or duplicated, journal against exchange (plain records, no run)."""

from __future__ import annotations

from typing import Any

import pytest

from binguard.connector.journal import JournalEntry, Stage
from binguard.connector.journal_records import EditEntry, LegEntry, ListEntry
from binguard.demo.verdict import count_bans, judge


def log(*rows: tuple[int, int, str | None]) -> list[dict[str, Any]]:
    return [{"time": t, "status": status, "fault": fault} for t, status, fault in rows]


FORCED = {"forced ban"}


@pytest.mark.parametrize(
    ("rows", "learnt", "expected"),
    [
        # the forced ban alone: nothing earned, nothing sent during it
        ([(100, 418, "forced ban"), (5200, 200, None)], [100], (0, 0)),
        # a request on its way when the ban was learnt (same ms, or 1 ms later): not counted
        ([(100, 418, "forced ban"), (100, 418, None), (101, 418, None)], [100], (0, 0)),
        # sent after the connector knew: counted
        ([(100, 418, "forced ban"), (102, 418, None), (900, 418, None)], [100], (0, 2)),
        # learnt late (the connector was busy): requests before that are not its doing
        ([(100, 418, "forced ban"), (103, 418, None), (110, 418, None)], [105], (0, 1)),
        # a ban the connector never learnt of: every further 418 counts
        ([(100, 418, "forced ban"), (101, 418, None), (300, 418, None)], [], (0, 2)),
        # knowledge of an earlier ban does not excuse a later one's requests
        (
            [(100, 418, "forced ban"), (200, 200, None), (300, 418, None), (301, 418, None)],
            [100],
            (1, 1),
        ),
        # a 418 the connector earned itself (not a forced one) counts as a ban
        ([(50, 429, None), (100, 418, None), (7000, 200, None)], [100], (1, 0)),
        # answers without a status (a connection drop) do not end a ban
        ([(100, 418, "forced ban"), (150, 0, None), (160, 418, None)], [100], (0, 1)),
    ],
)
def test_count_bans(
    rows: list[tuple[int, int, str | None]], learnt: list[int], expected: tuple[int, int]
) -> None:
    assert count_bans(log(*rows), FORCED, learnt) == expected


# -- orders, lists and edits against the exchange (judge) -----------------------------------------


def order(coid: str, order_id: int | None, stage: Stage = Stage.ACKED) -> JournalEntry:
    return JournalEntry(coid, "BTCUSDT", {}, stage, order_id, "NEW", 1, 0, 0, None)


def edit(edit_id: str, kind: str, order_id: int | None) -> EditEntry:
    return EditEntry(edit_id, kind, "BTCUSDT", {}, Stage.FINAL, order_id, None, None, 1, None)


def bracket(list_id: str, order_list_id: int | None, *legs: tuple[str, int | None]) -> ListEntry:
    stage = Stage.ACKED if order_list_id is not None else Stage.UNKNOWN
    return ListEntry(
        list_id,
        "BTCUSDT",
        "OCO",
        {},
        stage,
        order_list_id,
        None,
        1,
        tuple(LegEntry(c, "above", o, None) for c, o in legs),
        None,
    )


def on_exchange(*rows: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"clientOrderId": c, "orderId": o} for c, o in rows]


def verdict(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "journal": [],
        "exchange_orders": [],
        "requests": [],
        "forced_ban_labels": set(),
        "clock_errors_after_sync": 0,
        "unhandled": 0,
        "prefix": "d",
    }
    return judge(**{**base, **kw}).as_dict()


def test_legs_replacements_and_amended_names_are_known_orders() -> None:
    got = verdict(
        journal=[order("d-1", 1), order("d-2", 2)],
        lists=[bracket("d-L", 9, ("d-L1", 3), ("d-L2", 4))],
        edits=[edit("d-R", "cancel_replace", 5), edit("d-A", "amend", 2)],
        exchange_orders=on_exchange(("d-1", 1), ("d-A", 2), ("d-L1", 3), ("d-L2", 4), ("d-R", 5)),
        exchange_lists=[{"listClientOrderId": "d-L", "orderListId": 9}],
        amendments=[{"origClientOrderId": "d-2", "newClientOrderId": "d-A"}],
    )
    assert (got["lost"], got["duplicated"], got["lists_lost"], got["edits_lost"]) == (0, 0, 0, 0)
    assert (got["orders_intended"], got["lists_placed"], got["edits_made"]) == (5, 1, 2)
    assert got["ok"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # a list on the exchange the journal never learnt was placed
        ({"lists": [bracket("d-L", None)]}, "lists_lost"),
        # the same list placed twice
        (
            {"exchange_lists": [{"listClientOrderId": "d-L", "orderListId": 9}] * 2},
            "lists_duplicated",
        ),
        # an amendment applied twice
        (
            {"amendments": [{"origClientOrderId": "d-2", "newClientOrderId": "d-A"}] * 2},
            "edits_duplicated",
        ),
        # an amendment the journal believes done that the exchange does not have
        ({"amendments": []}, "edits_lost"),
        # a replacement order the journal believes placed, absent from the exchange
        (
            {"exchange_orders": on_exchange(("d-1", 1), ("d-A", 2), ("d-L1", 3), ("d-L2", 4))},
            "lost",
        ),
    ],
)
def test_each_break_is_counted(change: dict[str, Any], field: str) -> None:
    good: dict[str, Any] = {
        "journal": [order("d-1", 1), order("d-2", 2)],
        "lists": [bracket("d-L", 9, ("d-L1", 3), ("d-L2", 4))],
        "edits": [edit("d-R", "cancel_replace", 5), edit("d-A", "amend", 2)],
        "exchange_orders": on_exchange(
            ("d-1", 1), ("d-A", 2), ("d-L1", 3), ("d-L2", 4), ("d-R", 5)
        ),
        "exchange_lists": [{"listClientOrderId": "d-L", "orderListId": 9}],
        "amendments": [{"origClientOrderId": "d-2", "newClientOrderId": "d-A"}],
    }
    got = verdict(**{**good, **change})
    assert got[field] >= 1 and got["ok"] is False
