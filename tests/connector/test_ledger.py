"""The order ledger (connector/ledger.py): the journal's stages move only along guarded
transitions; races between sources keep the better knowledge; anything else raises."""

from __future__ import annotations

import pytest

from binguard.connector.journal import JournalError, OrderJournal, Stage
from binguard.connector.ledger import TRANSITIONS, IllegalTransition, OrderLedger
from binguard.connector.models import Order, OrderStatus
from binguard.connector.tracker import OrderTracker


def ledger() -> OrderLedger:
    return OrderLedger(OrderJournal(), OrderTracker())


def order(coid: str, status: str, order_id: int = 7) -> Order:
    return Order.from_api(
        {
            "symbol": "BTCUSDT",
            "orderId": order_id,
            "clientOrderId": coid,
            "side": "BUY",
            "type": "LIMIT",
            "status": status,
            "price": "1",
            "origQty": "1",
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
        }
    )


def stage(book: OrderLedger, coid: str) -> Stage:
    entry = book.get(coid)
    assert entry is not None
    return entry.stage


def test_the_happy_path() -> None:
    book = ledger()
    book.intent("a", "BTCUSDT", {"side": "BUY"})
    book.sent("a")
    book.acked("a", 7, "NEW")
    book.final("a", "FILLED", 7)
    assert stage(book, "a") is Stage.FINAL


def test_a_resend_after_an_unknown_outcome_and_after_proof_of_absence() -> None:
    book = ledger()
    book.intent("a", "BTCUSDT", {})
    book.sent("a")
    book.unknown("a", "reset")
    book.sent("a")  # UNKNOWN → SENT
    book.unknown("a", "reset")
    book.final("a", "NOT_PLACED")
    book.sent("a")  # proven never placed: sent again with the same id
    assert stage(book, "a") is Stage.SENT


@pytest.mark.parametrize("settled", [Stage.ACKED, Stage.FINAL])
def test_sending_a_settled_order_without_a_new_intent_is_a_bug(settled: Stage) -> None:
    book = ledger()
    book.intent("a", "BTCUSDT", {})
    book.sent("a")
    book.acked("a", 7, "NEW")
    if settled is Stage.FINAL:
        book.final("a", "FILLED", 7)
    with pytest.raises(IllegalTransition):
        book.sent("a")
    assert stage(book, "a") is settled


def test_placing_the_same_id_again_rearms_it_once() -> None:
    book = ledger()
    book.intent("a", "BTCUSDT", {"q": "1"})
    book.sent("a")
    book.final("a", "FILLED", 7)
    book.intent("a", "BTCUSDT", {"q": "1"})  # the application places it again
    book.sent("a")
    book.acked("a", 8, "NEW")
    book.final("a", "FILLED", 8)
    with pytest.raises(IllegalTransition):
        book.sent("a")


def test_races_keep_the_better_knowledge() -> None:
    """A REST answer lost after the stream told the order FILLED: the entry stays FINAL."""
    book = ledger()
    book.intent("a", "BTCUSDT", {})
    book.sent("a")
    book.seen(order("a", "FILLED"))
    book.unknown("a", "reset after sending")
    book.acked("a", 7, "NEW")  # the late placement answer
    entry = book.get("a")
    assert entry is not None and entry.stage is Stage.FINAL and entry.status == "FILLED"


def test_seen_acks_open_orders_and_settles_final_ones() -> None:
    book = ledger()
    book.intent("a", "BTCUSDT", {})
    book.seen(order("a", "NEW"))
    assert stage(book, "a") is Stage.ACKED
    book.seen(order("a", "CANCELED"))
    entry = book.get("a")
    assert entry is not None and entry.stage is Stage.FINAL and entry.status == "CANCELED"
    assert book.tracker.get(client_order_id="a") is not None


def test_an_unknown_id_is_a_journal_error() -> None:
    with pytest.raises(JournalError):
        ledger().sent("nope")


def test_final_stays_final() -> None:
    assert TRANSITIONS[Stage.FINAL] == {Stage.FINAL}


@pytest.mark.parametrize(
    ("status", "final", "open_"),
    [
        ("NEW", False, True),
        ("PENDING_NEW", False, True),
        ("PARTIALLY_FILLED", False, True),
        ("FILLED", True, False),
        ("CANCELED", True, False),
        ("PENDING_CANCEL", False, False),  # enums.md: "Currently unused"
        ("REJECTED", True, False),
        ("EXPIRED", True, False),
        ("EXPIRED_IN_MATCH", True, False),
    ],
)
def test_order_status(status: str, final: bool, open_: bool) -> None:
    """enums.md §Order status: one enum says which statuses are final and which are open."""
    member = OrderStatus(status)
    assert (member.is_final, member.is_open) == (final, open_)
    assert order("a", status).is_open is open_
    assert OrderStatus.of("SOMETHING_NEW") is None
