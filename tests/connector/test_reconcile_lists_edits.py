"""Reconciliation of order lists and edits as a table (lists.py, edits.py, reconcile.py).

This tests ONE layer — the list and edit managers — against a FAKE request loop and a FAKE order
sender (no simulator, no sockets): a scripted exchange answers each attempt and each lookup, and
a fake server clock moves 1.5 s with every lookup. The ledger, the journal and the tracker are the
real ones. The simulator-backed acceptance cases are in test_order_lists.py and test_edits.py.

Rows: the lost attempt executed → found, never sent again; it did not → re-sent only once the
server clock passed the attempt + recvWindow + margin (rest-api.md §Timing security); "-2010
Duplicate order sent." on the re-send → looked up; no answer until the deadline → ExecutionUnknown,
left pending for recover(); an auth error mid-reconcile (-1022) → raised at once, after ONE lookup,
left pending; a cancel-replace whose cancel half alone ran → a result saying so, never re-sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from binguard.connector.calls import OutcomeUnknown
from binguard.connector.checks import RulesBook
from binguard.connector.edit_models import NOT_PLACED
from binguard.connector.edits import EditManager
from binguard.connector.events import Stats
from binguard.connector.journal import OrderJournal, Stage
from binguard.connector.ledger_lists import ListLedger
from binguard.connector.list_models import Leg
from binguard.connector.lists import ListManager
from binguard.connector.options import ConnectorOptions
from binguard.connector.tracker import OrderTracker
from binguard.errors import (
    AuthError,
    BinanceError,
    ConnectionDroppedError,
    ExecutionUnknownError,
    HttpReply,
    RateHeaders,
    classify,
)
from binguard.policy.endpoints import Endpoint
from binguard.transport.rest import RestResponse

T = TypeVar("T")
RECV_WINDOW_MS, MARGIN_MS, STEP_MS = 5000, 2000, 1500


def _error(code: int, msg: str) -> BinanceError:
    err = classify(HttpReply(400, {}, {"code": code, "msg": msg}))
    assert err is not None
    return err


def _order(coid: str, order_id: int, status: str = "NEW", qty: str = "0.01") -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT", "orderId": order_id, "clientOrderId": coid, "side": "BUY",
        "type": "LIMIT", "status": status, "price": "29000", "origQty": qty,
        "executedQty": "0", "cummulativeQuoteQty": "0",
    }  # fmt: skip


@dataclass
class Exchange:
    """The scripted exchange. `attempts`: what each send does — "ok", "lost" (nothing ran),
    "lost-executed" (it ran, the answer was lost), "cancel-half" (a cancel-replace's cancel ran,
    its new order did not), "duplicate" (it ran earlier: -2010). `lookup`: "answer" (the truth),
    "dropped" (no answer) or "bad signature" (-1022)."""

    attempts: list[str]
    lookup: str = "answer"
    now: int = 1_700_000_000_000
    sent_at: list[int] = field(default_factory=list)
    lookups: int = 0
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    old_status: str = "NEW"
    new_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    amendments: list[dict[str, Any]] = field(default_factory=list)

    def now_ms(self) -> int:
        return self.now

    def run(self, endpoint: str, params: Mapping[str, object]) -> dict[str, Any]:
        """What the matching engine does with the request; its answer."""
        if endpoint == "cancel_replace":
            self.old_status = "CANCELED"
            new = self.new_orders[str(params["newClientOrderId"])] = _order(
                str(params["newClientOrderId"]), 2
            )
            old = _order("old", 1, "CANCELED")
            return {
                "cancelResult": "SUCCESS",
                "newOrderResult": "SUCCESS",
                "cancelResponse": old,
                "newOrderResponse": new,
            }
        if endpoint == "amend":
            row = {"symbol": "BTCUSDT", "orderId": 1, "executionId": len(self.amendments) + 1,
                   "origClientOrderId": "old", "newClientOrderId": str(params["newClientOrderId"]),
                   "origQty": "0.01", "newQty": str(params["newQty"]), "time": self.now}  # fmt: skip
            self.amendments.append(row)
            amended = {
                **_order(row["newClientOrderId"], 1, qty=row["newQty"]),
                "qty": row["newQty"],
            }
            return {
                "transactTime": self.now,
                "executionId": row["executionId"],
                "amendedOrder": amended,
            }
        lid = str(params["listClientOrderId"])
        self.lists[lid] = {
            "orderListId": 7, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
            "listOrderStatus": "EXECUTING", "listClientOrderId": lid, "symbol": "BTCUSDT",
            "orders": [{"symbol": "BTCUSDT", "orderId": 10 + i, "clientOrderId": str(params[k])}
                       for i, k in enumerate(("aboveClientOrderId", "belowClientOrderId"))],
        }  # fmt: skip
        return self.lists[lid]

    def send(self, endpoint: str, params: Mapping[str, object]) -> dict[str, Any]:
        self.sent_at.append(self.now)
        what = self.attempts[len(self.sent_at) - 1]
        if what == "ok":
            return self.run(endpoint, params)
        if what in ("lost-executed", "duplicate"):
            self.run(endpoint, params)
            if what == "duplicate":
                raise _error(-2010, "Duplicate order sent.")
        if what == "cancel-half":
            self.old_status = "CANCELED"
        raise OutcomeUnknown(ConnectionDroppedError("reset after sending"))

    def get(self, path: str, params: Mapping[str, object]) -> Any:
        self.lookups += 1
        self.now += STEP_MS
        if self.lookup == "dropped":
            raise ConnectionDroppedError("no answer")
        if self.lookup == "bad signature":  # errors.md -1022 INVALID_SIGNATURE
            raise _error(-1022, "Signature for this request is not valid.")
        if path == "/api/v3/order/amendments":
            return self.amendments
        if path == "/api/v3/orderList":
            found = self.lists.get(str(params.get("origClientOrderId")))
        elif params.get("orderId") == 1:
            found = _order("old", 1, self.old_status)
        else:
            found = self.new_orders.get(str(params.get("origClientOrderId")))
        if found is None:
            raise _error(-2013, "Order does not exist.")
        return found


class FakeLoop:
    """A FAKE request loop (calls.py `Requests`): lookups go to the scripted exchange."""

    def __init__(self, exchange: Exchange, options: ConnectorOptions) -> None:
        self.exchange, self.options, self.stats = exchange, options, Stats()
        self.events: list[str] = []

    @property
    def time(self) -> Exchange:
        return self.exchange

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append(kind)

    def record(self, err: BinanceError) -> None:
        pass

    async def sync_time(self) -> None:
        pass

    async def call(
        self, method: str, path: str, params: Mapping[str, object] | None = None, **_: Any
    ) -> RestResponse:
        assert method == "GET", "only lookups go through the loop here"
        data = self.exchange.get(path, params or {})
        return RestResponse(200, data, RateHeaders({}, {}, None), method, path)

    async def retrying(self, once: Callable[[], Awaitable[T]], **_: Any) -> T:
        return await once()


class FakeSender:
    """A FAKE order sender (lists.py `OrderSender`): sends go to the scripted exchange."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.rules = RulesBook()
        self._ids = itertools.count(1)

    async def send(self, endpoint: Endpoint, params: Mapping[str, object]) -> Any:
        return self.exchange.send(endpoint.name, params)

    def new_client_order_id(self) -> str:
        return f"id-{next(self._ids)}"


def parts(
    exchange: Exchange, deadline: float = 60.0
) -> tuple[ListManager, EditManager, FakeLoop, ListLedger]:
    options = ConnectorOptions(
        recv_window_ms=RECV_WINDOW_MS, reconcile_margin_ms=MARGIN_MS, reconcile_poll=0.0,
        reconcile_deadline=deadline,
    )  # fmt: skip
    loop = FakeLoop(exchange, options)
    ledger = ListLedger(OrderJournal(), OrderTracker())
    sender = FakeSender(exchange)
    return ListManager(loop, ledger, sender), EditManager(loop, ledger, sender), loop, ledger


OCO = {
    "above": Leg("SELL", "LIMIT_MAKER", quantity="0.01", price="31000"),
    "below": Leg("SELL", "STOP_LOSS", quantity="0.01", stop_price="29000"),
}


async def place_list(lists: ListManager) -> Any:
    return await lists.place("OCO", "BTCUSDT", OCO, {"list_client_order_id": "L"}, {})


def proof_respected(ex: Exchange) -> None:
    """Every re-send left only after the previous attempt could no longer execute."""
    for first, again in itertools.pairwise(ex.sent_at):
        assert again >= first + RECV_WINDOW_MS + MARGIN_MS


# -- order lists -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attempts", "sends", "found", "absent"),
    [
        (["lost-executed"], 1, 1, 0),
        (["lost", "ok"], 2, 0, 1),
        (["lost", "duplicate"], 2, 1, 1),
        (["lost", "lost", "lost-executed"], 3, 1, 2),
    ],
    ids=["executed: found", "not executed: re-sent after proof", "duplicate: looked up", "twice"],
)
async def test_list_table(attempts: list[str], sends: int, found: int, absent: int) -> None:
    ex = Exchange(attempts)
    lists, _, loop, ledger = parts(ex)
    lst = await place_list(lists)
    assert (lst.order_list_id, len(ex.sent_at), len(ex.lists)) == (7, sends, 1)
    assert (loop.stats.reconciled_found, loop.stats.reconciled_absent) == (found, absent)
    proof_respected(ex)
    entry = ledger.list_entry("L")
    assert entry is not None and entry.stage is Stage.ACKED and entry.attempts == sends
    assert [leg.order_id for leg in entry.legs] == [10, 11]


async def test_list_no_answer_until_deadline_stays_pending() -> None:
    ex = Exchange(["lost"], lookup="dropped")
    lists, _, _, ledger = parts(ex, deadline=0.0)
    with pytest.raises(ExecutionUnknownError):
        await place_list(lists)
    assert [e.list_client_id for e in ledger.pending_lists()] == ["L"]
    assert len(ex.sent_at) == 1


async def test_list_auth_error_mid_reconcile_is_raised_at_once() -> None:
    ex = Exchange(["lost-executed"], lookup="bad signature")
    lists, _, loop, ledger = parts(ex)
    with pytest.raises(AuthError):
        await place_list(lists)
    assert (ex.lookups, len(ex.sent_at), loop.stats.resends) == (1, 1, 0)
    entry = ledger.list_entry("L")
    assert entry is not None and entry.stage is Stage.UNKNOWN  # pending, for a later recover()
    with pytest.raises(AuthError):
        await lists.recover()
    assert ex.lookups == 2 and len(ledger.pending_lists()) == 1


async def test_list_recover_never_resends() -> None:
    ex = Exchange([])
    lists, _, _, ledger = parts(ex)
    for lid in ("A", "B"):
        ledger.list_intent(
            lid, "BTCUSDT", "OCO", {"listClientOrderId": lid}, [(lid + "1", "above")]
        )
    ledger.list_sent("B")
    assert await lists.recover() == [None, None]
    assert ex.lookups > 0 and ex.sent_at == []
    assert [ledger.list_entry(x).status for x in "AB"] == [NOT_PLACED, NOT_PLACED]  # type: ignore[union-attr]


# -- cancel-replace ----------------------------------------------------------------------------
async def replace(edits: EditManager) -> Any:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.02", "price": "29100", "cancelReplaceMode": "STOP_ON_FAILURE",
              "cancelOrderId": "1", "newClientOrderId": "N"}  # fmt: skip
    return await edits.cancel_replace(params)


@pytest.mark.parametrize(
    ("attempts", "sends", "halves", "reconciled"),
    [
        (["lost-executed"], 1, ("SUCCESS", "SUCCESS"), True),
        (["lost", "ok"], 2, ("SUCCESS", "SUCCESS"), False),
        (["cancel-half"], 1, ("SUCCESS", NOT_PLACED), True),
    ],
    ids=["both halves ran: found", "nothing ran: re-sent after proof", "only the cancel ran"],
)
async def test_cancel_replace_table(
    attempts: list[str], sends: int, halves: tuple[str, str], reconciled: bool
) -> None:
    ex = Exchange(attempts)
    _, edits, _, ledger = parts(ex)
    result = await replace(edits)
    assert ((result.cancel_result, result.new_order_result), result.reconciled) == (
        halves,
        reconciled,
    )
    assert len(ex.sent_at) == sends and len(ex.new_orders) == (halves[1] == "SUCCESS")
    proof_respected(ex)
    entry = ledger.edit_entry("N")
    assert entry is not None and entry.stage is Stage.FINAL
    assert entry.outcome is not None and entry.outcome["newOrderResult"] == halves[1]


async def test_cancel_replace_auth_error_mid_reconcile_is_raised_at_once() -> None:
    ex = Exchange(["lost-executed"], lookup="bad signature")
    _, edits, _, ledger = parts(ex)
    with pytest.raises(AuthError):
        await replace(edits)
    assert (ex.lookups, len(ex.sent_at)) == (1, 1)
    assert [e.edit_id for e in ledger.pending_edits()] == ["N"]


# -- amend -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attempts", "sends", "answered"),
    [(["lost-executed"], 1, False), (["lost", "ok"], 2, True)],
    ids=["ran: found in the history", "did not: re-sent after proof"],
)
async def test_amend_table(attempts: list[str], sends: int, answered: bool) -> None:
    ex = Exchange(attempts)
    _, edits, _, ledger = parts(ex)
    amendment, order = await edits.amend("BTCUSDT", 1, "0.004", "A")
    assert (len(ex.sent_at), len(ex.amendments)) == (sends, 1)
    assert amendment.new_client_order_id == "A" and (order is not None) is answered
    proof_respected(ex)
    entry = ledger.edit_entry("A")
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "AMENDED")


async def test_amend_auth_error_mid_reconcile_is_raised_at_once() -> None:
    ex = Exchange(["lost"], lookup="bad signature")
    _, edits, _, ledger = parts(ex)
    with pytest.raises(AuthError):
        await edits.amend("BTCUSDT", 1, "0.004", "A")
    assert (ex.lookups, len(ex.sent_at)) == (1, 1)
    assert [e.edit_id for e in ledger.pending_edits()] == ["A"]


async def test_edits_recover_never_resends() -> None:
    """After a crash: an edit never sent is NOT_PLACED without a lookup; a cancel-replace of
    which nothing ran is NOT_PLACED once provably so; an amendment that ran is found."""
    ex = Exchange([])
    _, edits, _, ledger = parts(ex)
    ledger.edit_intent("E0", "cancel_replace", "BTCUSDT", {"symbol": "BTCUSDT"})
    ledger.edit_intent(
        "E1", "cancel_replace", "BTCUSDT",
        {"symbol": "BTCUSDT", "cancelOrderId": "1", "newClientOrderId": "E1"},
    )  # fmt: skip
    ledger.edit_sent("E1")
    ledger.edit_intent(
        "E2",
        "amend",
        "BTCUSDT",
        {"symbol": "BTCUSDT", "orderId": "1", "newQty": "0.004", "newClientOrderId": "E2"},
    )
    ledger.edit_sent("E2")
    ex.run("amend", {"newClientOrderId": "E2", "newQty": "0.004"})  # it ran before the crash
    results = await edits.recover()
    assert results[:2] == [None, None]
    assert results[2] is not None and results[2].new_client_order_id == "E2"
    assert ex.sent_at == [] and ledger.pending_edits() == []
    statuses = [ledger.edit_entry(e).status for e in ("E0", "E1", "E2")]  # type: ignore[union-attr]
    assert statuses == [NOT_PLACED, NOT_PLACED, "AMENDED"]
