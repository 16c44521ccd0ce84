"""Reconciliation (orders.py `_drive` / `_find`) as a table, over REST and over the WebSocket API.

This tests ONE layer, the order manager, with a FAKE request loop and a fake order socket (no
simulator, no sockets): a scripted exchange answers each placement attempt and each query, and
a fake server clock advances with every query. The ledger, journal and tracker are the real ones.

The rules under test (orders.py, rest-api.md §Timing security, CHANGELOG 2025-05-22): an attempt
whose outcome is unknown is looked up by its client order id; found → done, never sent again;
not found → asked again until the server clock passes the attempt's timestamp + recvWindow +
margin, and only then re-sent with the same id; "-2010 Duplicate order sent." on a re-send means
the earlier attempt is open, and it is looked up; a reconciliation that cannot get an answer
gives up at its deadline with ExecutionUnknownError, the order left in the journal for recover().

Issue 12: -2026 ORDER_ARCHIVED (errors.md) is an order that existed and is final — journalled
ARCHIVED, never re-sent, reported found, and recover() goes on with the next entry; an auth or
signature error (-1022, -2015) ends reconciliation and recover() after ONE query, the entry left
pending for a later recover().
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from binguard.connector.calls import OutcomeUnknown
from binguard.connector.events import Stats
from binguard.connector.journal import OrderJournal, Stage
from binguard.connector.ledger import ARCHIVED, IllegalTransition, OrderLedger
from binguard.connector.options import ConnectorOptions
from binguard.connector.orders import OrderManager
from binguard.connector.tracker import OrderTracker
from binguard.errors import (
    AuthError,
    BinanceError,
    ConnectionDroppedError,
    ExecutionUnknownError,
    HttpReply,
    OrderArchivedError,
    RateHeaders,
    classify,
)
from binguard.transport.rest import RestResponse

T = TypeVar("T")
RECV_WINDOW_MS = 5000
MARGIN_MS = 2000
QUERY_STEP_MS = 1500  # the fake server clock moves this much per reconciliation query
ARCHIVED_MSG = (  # errors.md -2026 ORDER_ARCHIVED
    "Order was canceled or expired with no executed qty over 90 days ago and has been archived."
)


def _error(code: int, msg: str) -> BinanceError:
    err = classify(HttpReply(400, {}, {"code": code, "msg": msg}))
    assert err is not None
    return err


@dataclass
class FakeClock:
    now: int = 1_700_000_000_000

    def now_ms(self) -> int:
        return self.now


@dataclass
class Exchange:
    """The scripted exchange: `attempts` says what each placement attempt does — "lost" (may or
    may not have executed: the order exists when `exists`), "ok", or "duplicate" (-2010, and the
    order becomes visible); `query` is how lookups answer: "found", "absent" or "dropped"."""

    attempts: list[str]
    query: str
    exists: bool = False
    sent_at: list[int] = field(default_factory=list)
    queries: int = 0
    by_coid: dict[str, str] = field(default_factory=dict)  # a lookup answer per client order id
    cancels: int = 0

    def order(self, coid: str, status: str = "NEW") -> dict[str, Any]:
        return {
            "symbol": "BTCUSDT",
            "orderId": 42,
            "clientOrderId": coid,
            "side": "BUY",
            "type": "LIMIT",
            "status": status,
            "price": "30000",
            "origQty": "0.01",
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
        }

    def place(self, params: Mapping[str, object], clock: FakeClock) -> dict[str, Any]:
        self.sent_at.append(clock.now)
        what = self.attempts[len(self.sent_at) - 1]
        coid = str(params["newClientOrderId"])
        if what == "lost":
            raise OutcomeUnknown(ConnectionDroppedError("reset after sending"))
        if what == "duplicate":
            self.exists = True  # the earlier attempt was open after all
            raise _error(-2010, "Duplicate order sent.")
        self.exists = True
        return self.order(coid)

    def lookup(self, params: Mapping[str, object], clock: FakeClock) -> dict[str, Any]:
        self.queries += 1
        clock.now += QUERY_STEP_MS
        coid = str(params["origClientOrderId"])
        query = self.by_coid.get(coid, self.query)
        if query == "dropped":
            raise ConnectionDroppedError("no answer")
        if query == "archived":  # errors.md -2026 ORDER_ARCHIVED
            raise _error(-2026, ARCHIVED_MSG)
        if query == "bad signature":  # errors.md -1022 INVALID_SIGNATURE
            raise _error(-1022, "Signature for this request is not valid.")
        if self.exists or query == "found":
            return self.order(coid)
        raise _error(-2013, "Order does not exist.")

    def cancel(self, params: Mapping[str, object]) -> dict[str, Any]:
        """Every cancel's answer is lost (it may or may not have happened)."""
        self.cancels += 1
        raise OutcomeUnknown(ConnectionDroppedError("reset after sending"))


class FakeLoop:
    """A FAKE request loop (the `Requests` protocol of calls.py): REST requests go to the
    scripted exchange; no retry policy (an attempt's OutcomeUnknown is the exchange's)."""

    def __init__(self, exchange: Exchange, options: ConnectorOptions) -> None:
        self.exchange = exchange
        self.options = options
        self.stats = Stats()
        self.clock = FakeClock()
        self.events: list[str] = []

    @property
    def time(self) -> FakeClock:
        return self.clock

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append(kind)

    def record(self, err: BinanceError) -> None:
        pass

    async def sync_time(self) -> None:
        pass

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        is_order: bool = False,
        deadline: float | None = None,
        sync: bool = True,
    ) -> RestResponse:
        assert params is not None and path == "/api/v3/order"
        if method == "POST":
            assert is_order and signed
            data = self.exchange.place(params, self.clock)
        elif method == "DELETE":
            data = self.exchange.cancel(params)
        else:
            assert method == "GET"
            data = self.exchange.lookup(params, self.clock)
        return RestResponse(200, data, RateHeaders({}, {}, None), method, path)

    async def retrying(
        self,
        once: Callable[[], Awaitable[T]],
        *,
        method: str,
        path: str,
        is_order: bool,
        deadline: float,
        sync: bool,
    ) -> T:
        return await once()


class FakeOrderSocket:
    """A FAKE WebSocket API order socket (`OrderSocket` of orders.py): `order.place` goes to
    the same scripted exchange; lookups still go over REST, as in the connector."""

    def __init__(self, loop: FakeLoop) -> None:
        self.loop = loop
        self.methods: list[str] = []

    async def call(
        self, method: str, params: Mapping[str, object], *, deadline: float | None = None
    ) -> Any:
        self.methods.append(method)
        if method == "order.cancel":
            return self.loop.exchange.cancel(params)
        assert method == "order.place"
        return self.loop.exchange.place(params, self.loop.clock)


def manager(exchange: Exchange, via: str, **opts: Any) -> tuple[OrderManager, FakeLoop]:
    options = ConnectorOptions(
        recv_window_ms=RECV_WINDOW_MS,
        reconcile_margin_ms=MARGIN_MS,
        reconcile_poll=0.0,
        **opts,
    )
    loop = FakeLoop(exchange, options)
    ledger = OrderLedger(OrderJournal(), OrderTracker())
    ws = FakeOrderSocket(loop) if via == "ws" else None
    return OrderManager(loop, ledger, options, ws=ws), loop


PARAMS = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "30000",
}
VIAS = pytest.mark.parametrize("via", ["rest", "ws"])


@VIAS
async def test_found_the_lost_attempt_is_never_sent_again(via: str) -> None:
    exchange = Exchange(attempts=["lost"], query="found")
    orders, loop = manager(exchange, via)
    order = await orders.place(PARAMS, "bg-found")
    assert order.client_order_id == "bg-found" and order.status == "NEW"
    assert len(exchange.sent_at) == 1 and exchange.queries == 1
    assert (loop.stats.reconciled_found, loop.stats.resends) == (1, 0)
    entry = orders._ledger.get("bg-found")
    assert entry is not None and entry.stage is Stage.ACKED and entry.attempts == 1


@VIAS
async def test_not_found_is_resent_only_after_the_recv_window_proof(via: str) -> None:
    exchange = Exchange(attempts=["lost", "ok"], query="absent")
    orders, loop = manager(exchange, via)
    order = await orders.place(PARAMS, "bg-absent")
    assert order.client_order_id == "bg-absent"
    first, second = exchange.sent_at
    # Not found is not proof until the server clock passed timestamp + recvWindow + margin.
    assert second - first >= RECV_WINDOW_MS + MARGIN_MS
    assert exchange.queries == -(-(RECV_WINDOW_MS + MARGIN_MS) // QUERY_STEP_MS)
    assert (loop.stats.reconciled_absent, loop.stats.resends) == (1, 1)
    assert loop.events.count("resend") == 1
    entry = orders._ledger.get("bg-absent")
    assert entry is not None and entry.stage is Stage.ACKED and entry.attempts == 2


@VIAS
async def test_a_duplicate_answer_on_the_resend_is_looked_up(via: str) -> None:
    exchange = Exchange(attempts=["lost", "duplicate"], query="absent")
    orders, loop = manager(exchange, via)
    order = await orders.place(PARAMS, "bg-dup")
    assert order.client_order_id == "bg-dup" and order.order_id == 42
    assert len(exchange.sent_at) == 2  # never a third send
    assert (loop.stats.reconciled_absent, loop.stats.reconciled_found) == (1, 1)
    entry = orders._ledger.get("bg-dup")
    assert entry is not None and entry.stage is Stage.ACKED


@VIAS
async def test_no_answer_until_the_deadline_leaves_it_for_recover(via: str) -> None:
    exchange = Exchange(attempts=["lost"], query="dropped")
    orders, _ = manager(exchange, via, reconcile_deadline=0.0)
    with pytest.raises(ExecutionUnknownError) as caught:
        await orders.place(PARAMS, "bg-deadline")
    assert caught.value.may_have_executed
    assert len(exchange.sent_at) == 1  # never re-sent blindly
    assert [e.client_order_id for e in orders._ledger.pending()] == ["bg-deadline"]
    entry = orders._ledger.get("bg-deadline")
    assert entry is not None and entry.stage is Stage.UNKNOWN


@VIAS
async def test_giving_up_after_max_resends(via: str) -> None:
    exchange = Exchange(attempts=["lost", "lost"], query="absent")
    orders, _ = manager(exchange, via, max_resends=1)
    with pytest.raises(ExecutionUnknownError) as caught:
        await orders.place(PARAMS, "bg-gone")
    assert not caught.value.may_have_executed  # provably absent, every time
    entry = orders._ledger.get("bg-gone")
    assert entry is not None and entry.stage is Stage.FINAL and entry.status == "NOT_PLACED"


# -- issue 12: -2026 ORDER_ARCHIVED is final, never "not placed" --------------------------------


@VIAS
async def test_an_archived_order_is_final_and_never_sent_again(via: str) -> None:
    exchange = Exchange(attempts=["lost", "ok"], query="archived")
    orders, loop = manager(exchange, via)
    with pytest.raises(OrderArchivedError):
        await orders.place(PARAMS, "bg-archived")
    assert len(exchange.sent_at) == 1 and exchange.queries == 1  # found at once; no re-send
    assert (loop.stats.reconciled_found, loop.stats.reconciled_absent, loop.stats.resends) == (
        1,
        0,
        0,
    )
    entry = orders._ledger.get("bg-archived")
    assert entry is not None and entry.stage is Stage.FINAL and entry.status == ARCHIVED
    assert orders._ledger.pending() == []
    with pytest.raises(IllegalTransition):  # the ledger itself refuses to send it again
        orders._ledger.sent("bg-archived")


@VIAS
async def test_recover_settles_an_archived_entry_and_goes_on(via: str) -> None:
    exchange = Exchange(attempts=[], query="found", by_coid={"bg-old": "archived"})
    orders, loop = manager(exchange, via)
    for coid in ("bg-old", "bg-new"):
        orders._ledger.intent(coid, "BTCUSDT", {"side": "BUY"})
        orders._ledger.sent(coid)
        orders._ledger.unknown(coid, "lost")
    results = await orders.recover()
    assert results[0] is None
    assert results[1] is not None and results[1].client_order_id == "bg-new"
    old, new = orders._ledger.get("bg-old"), orders._ledger.get("bg-new")
    assert old is not None and (old.stage, old.status) == (Stage.FINAL, ARCHIVED)
    assert new is not None and new.stage is Stage.ACKED
    assert exchange.sent_at == [] and loop.stats.reconciled_found == 2


@VIAS
async def test_a_cancel_whose_order_is_archived_is_settled_not_repeated(via: str) -> None:
    exchange = Exchange(attempts=["ok"], query="archived")
    orders, _ = manager(exchange, via)
    await orders.place(PARAMS, "bg-cancel")
    with pytest.raises(OrderArchivedError):
        await orders.cancel("BTCUSDT", client_order_id="bg-cancel")
    assert exchange.cancels == 1 and exchange.queries == 1  # no second cancel, no polling
    entry = orders._ledger.get("bg-cancel")
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, ARCHIVED)
    assert orders._ledger.tracker.get(client_order_id="bg-cancel") is None


# -- issue 12: an auth error ends reconciliation at once --------------------------------------------


@VIAS
async def test_a_bad_signature_ends_reconciliation_after_one_query(via: str) -> None:
    exchange = Exchange(attempts=["lost"], query="bad signature")
    orders, loop = manager(exchange, via, reconcile_deadline=60.0)
    with pytest.raises(AuthError) as caught:
        await orders.place(PARAMS, "bg-auth")
    assert caught.value.code == -1022
    assert (len(exchange.sent_at), exchange.queries) == (1, 1)
    entry = orders._ledger.get("bg-auth")
    assert entry is not None and entry.stage is Stage.UNKNOWN  # pending, for a later recover()
    assert [e.client_order_id for e in orders._ledger.pending()] == ["bg-auth"]
    assert loop.stats.resends == 0


@VIAS
async def test_recover_with_a_bad_signature_stops_after_one_query(via: str) -> None:
    exchange = Exchange(attempts=[], query="bad signature")
    orders, _ = manager(exchange, via, reconcile_deadline=60.0)
    for coid in ("bg-a", "bg-b"):
        orders._ledger.intent(coid, "BTCUSDT", {"side": "BUY"})
        orders._ledger.sent(coid)
    with pytest.raises(AuthError):
        await orders.recover()
    assert exchange.queries == 1
    assert [e.client_order_id for e in orders._ledger.pending()] == ["bg-a", "bg-b"]
