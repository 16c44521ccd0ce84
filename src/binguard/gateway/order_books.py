"""What the order guard journals and looks up, per kind (`Book`): single orders (`OrderBook`:
the journal's `orders`) and order lists (`ListBook`: its `lists` and `legs`).

Both are connector/journal.py's OrderJournal, used through its public methods: the raw params
by client id (plus "~real", the real key's name, and "~path", the REST path that places it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from binguard.connector.journal import OrderJournal, Stage
from binguard.connector.models import is_final

from .order_ids import CLIENT_ID, LIST_CLIENT_ID, LIST_LEGS
from .order_shapes import allocations_of, fills_of, order_in, shape

log = logging.getLogger("binguard.gateway.orders")

REJECTED = "REJECTED"  # journal status: Binance refused it (a 4XX that cannot have executed)
_ACK_BATCH_S = 0.05  # placed orders' answers are journalled together, this often at most
Fetch = Callable[[str, dict[str, str]], Awaitable[tuple[int, bytes]]]  # a signed GET


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal entry as the guard reads it."""

    key: str
    symbol: str
    params: dict[str, str]
    stage: Stage
    status: str | None


class Book(Protocol):
    """One kind of journal entry: how it is written, looked up and answered."""

    key_param: str  # the request parameter holding the client id it is journalled by
    default_shape: str | None  # the answer shape when the bot asks none (None: by order type)

    def first_send(self, key: str, symbol: str, record: dict[str, str]) -> bool: ...
    def entry(self, key: str) -> Entry | None: ...
    def stage(self, key: str) -> Stage | None: ...
    def mark_sent(self, key: str) -> None: ...
    def mark_unknown(self, key: str, why: str) -> None: ...
    def mark_final(self, key: str, status: str, why: str | None = None) -> None: ...
    def mark_found(self, key: str, found: dict[str, Any], *, soon: bool = False) -> None: ...
    def pending(self) -> list[Entry]: ...
    def key_of(self, params: dict[str, str]) -> str: ...
    async def look(
        self, key: str, symbol: str, record: dict[str, str], fetch: Fetch
    ) -> tuple[int, bytes]: ...
    def found_in(self, body: bytes, key: str) -> dict[str, Any] | None: ...
    async def complete(
        self, found: dict[str, Any] | None, record: dict[str, str], fetch: Fetch
    ) -> dict[str, Any] | None: ...
    async def shaped(
        self, found: dict[str, Any], kind: str, fetch: Fetch
    ) -> tuple[int, dict[str, Any]]: ...
    def refused_status(self, why: str) -> str: ...
    def flush(self, key: str | None = None) -> None: ...


class Keyed:
    """What the books but the amend's share: journalled by `key_param`'s value, looked up with
    one GET (`lookup`)."""

    key_param: str

    def key_of(self, params: dict[str, str]) -> str:
        """The journal key of a request ("": none, the guard leaves it to Binance)."""
        return params.get(self.key_param, "")

    def lookup(self, key: str, symbol: str) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    async def look(
        self, key: str, symbol: str, record: dict[str, str], fetch: Fetch
    ) -> tuple[int, bytes]:
        """One lookup: the answer of the GET that finds the entry (`found_in` reads it)."""
        return await fetch(*self.lookup(key, symbol))


class _Simple(Keyed):
    """What orders and lists share: a lookup's find is the whole answer; a refusal is one."""

    async def complete(
        self, found: dict[str, Any] | None, record: dict[str, str], fetch: Fetch
    ) -> dict[str, Any] | None:
        """What the lookup found (None: absent), as the guard keeps it."""
        return found

    def refused_status(self, why: str) -> str:
        """The journal status of a request Binance refused (`why`: "<status> <code>")."""
        return REJECTED


class OrderBook(_Simple):
    """Single orders (POST /api/v3/order, order.place). A placed order's answer is journalled
    within `_ACK_BATCH_S`, with every other of that time in one commit (order_guard.py)."""

    key_param: str = CLIENT_ID
    default_shape: str | None = None  # rest-api.md §New order: FULL for MARKET, LIMIT; else ACK

    def __init__(self, journal: OrderJournal) -> None:
        self.journal = journal
        self._acks: dict[str, tuple[int, str | None]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def first_send(self, key: str, symbol: str, record: dict[str, str]) -> bool:
        return self.journal.record_first_send(key, symbol, record)

    def entry(self, key: str) -> Entry | None:
        self.flush(key)
        e = self.journal.get(key)
        if e is None:
            return None
        return Entry(key, e.symbol, dict(e.params), e.stage, e.status)

    def stage(self, key: str) -> Stage | None:
        self.flush(key)
        found = self.journal.stage(key)
        return None if found is None else found[0]

    def mark_sent(self, key: str) -> None:
        self.journal.mark_sent(key)

    def mark_unknown(self, key: str, why: str) -> None:
        self.journal.mark_unknown(key, why)

    def mark_final(self, key: str, status: str, why: str | None = None) -> None:
        self.journal.mark_final(key, status, error=why)

    def mark_found(self, key: str, found: dict[str, Any], *, soon: bool = False) -> None:
        status = found.get("status")
        status = status if isinstance(status, str) else None
        if soon:
            self._acks[key] = (found["orderId"], status)
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(_ACK_BATCH_S, self.flush)
        elif is_final(status):
            self.journal.mark_final(key, status or "", found["orderId"])
        else:
            self.journal.mark_acked(key, found["orderId"], status)

    def flush(self, key: str | None = None) -> None:
        """Journal the batched answers now (with `key`: only if it is among them)."""
        if key is not None and key not in self._acks:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        acks, self._acks = self._acks, {}
        try:
            for coid, (order_id, status) in acks.items():
                if is_final(status):
                    self.journal.mark_final(coid, status or "", order_id)
                else:
                    self.journal.mark_acked(coid, order_id, status, soon=True)
            self.journal.flush()
        except sqlite3.Error as e:  # the entries stay SENT: settled by query at the next start
            log.error("order journal: answers not written (%s)", type(e).__name__)

    def pending(self) -> list[Entry]:
        self.flush()
        return [
            Entry(e.client_order_id, e.symbol, dict(e.params), e.stage, e.status)
            for e in self.journal.pending()
        ]

    def lookup(self, key: str, symbol: str) -> tuple[str, dict[str, str]]:
        return "/api/v3/order", {"symbol": symbol, "origClientOrderId": key}

    def found_in(self, body: bytes, key: str) -> dict[str, Any] | None:
        order = order_in(body)
        return order if order is not None and order.get("clientOrderId") == key else None

    async def shaped(
        self, found: dict[str, Any], kind: str, fetch: Fetch
    ) -> tuple[int, dict[str, Any]]:
        return 200, shape(found, kind, await read_fills(found, kind, fetch))


class ListBook(_Simple):
    """Order lists (POST /api/v3/orderList/oco, oto, otoco, opo, opoco): journalled with every
    leg's client id (connector/journal_records.py ListRecords); looked up by
    GET /api/v3/orderList?origClientOrderId; answered as the placement was, its orderReports
    read order by order (rest-api.md §Order lists)."""

    key_param: str = LIST_CLIENT_ID
    default_shape: str | None = "RESULT"  # what the simulator gives (sim/rest_lists.py)

    def __init__(self, journal: OrderJournal) -> None:
        self.lists = journal.lists

    def first_send(self, key: str, symbol: str, record: dict[str, str]) -> bool:
        path = record["~path"]
        kind = path.rsplit("/", 1)[1].upper()
        legs = [(record[role + "ClientOrderId"], role) for role in LIST_LEGS[path]]
        return self.lists.record_intent(key, symbol, kind, record, legs, sent=True)

    def entry(self, key: str) -> Entry | None:
        e = self.lists.get(key)
        if e is None:
            return None
        return Entry(key, e.symbol, dict(e.params), e.stage, e.status)

    def stage(self, key: str) -> Stage | None:
        found = self.lists.stage_of(key)
        return None if found is None else found[0]

    def mark_sent(self, key: str) -> None:
        self.lists.mark_sent(key)

    def mark_unknown(self, key: str, why: str) -> None:
        self.lists.mark_unknown(key, why)

    def mark_final(self, key: str, status: str, why: str | None = None) -> None:
        self.lists.mark_outcome(key, Stage.FINAL, status, error=why)

    def mark_found(self, key: str, found: dict[str, Any], *, soon: bool = False) -> None:
        orders = found.get("orders")
        legs = [
            (o["clientOrderId"], o["orderId"], None)
            for o in (orders if isinstance(orders, list) else [])
            if isinstance(o, dict) and "clientOrderId" in o and "orderId" in o
        ]
        status = found.get("listOrderStatus")
        status = status if isinstance(status, str) else None
        stage = Stage.FINAL if status in ("ALL_DONE", "REJECT") else Stage.ACKED
        self.lists.settle(key, legs, (stage, status, found["orderListId"]))

    def flush(self, key: str | None = None) -> None:
        return None  # lists are written at once

    def pending(self) -> list[Entry]:
        return [
            Entry(e.list_client_id, e.symbol, dict(e.params), e.stage, e.status)
            for e in self.lists.pending()
        ]

    def lookup(self, key: str, symbol: str) -> tuple[str, dict[str, str]]:
        return "/api/v3/orderList", {"origClientOrderId": key}

    def found_in(self, body: bytes, key: str) -> dict[str, Any] | None:
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(body)
            list_id = data.get("orderListId") if isinstance(data, dict) else None
            if isinstance(list_id, int) and data.get("listClientOrderId") == key:
                return dict(data)
        return None

    async def shaped(
        self, found: dict[str, Any], kind: str, fetch: Fetch
    ) -> tuple[int, dict[str, Any]]:
        """The list as GET orderList gives it, with `orderReports`: each leg read by its
        orderId and shaped as its placement answer in `kind`."""
        reports = []
        for leg in found.get("orders", []):
            query = {"symbol": str(leg.get("symbol")), "orderId": str(leg.get("orderId"))}
            status, body = await fetch("/api/v3/order", query)
            order = order_in(body) if status == 200 else None
            if order is not None:
                reports.append(shape(order, kind, await read_fills(order, kind, fetch)))
        return 200, {**found, "orderReports": reports}


async def read_fills(order: dict[str, Any], kind: str, fetch: Fetch) -> list[dict[str, Any]]:
    """FULL's fills: the order's trades (myTrades by orderId) or, for an order placed with SOR
    (`usedSor`), its allocations (myAllocations: faqs/sor_faq.md); none if that read fails."""
    if kind != "FULL":
        return []
    sor = order.get("usedSor") is True
    query = {"symbol": str(order.get("symbol")), "orderId": str(order["orderId"])}
    status, body = await fetch("/api/v3/myAllocations" if sor else "/api/v3/myTrades", query)
    if status != 200:
        log.warning("order %s: its fills could not be read (%d)", order.get("orderId"), status)
        return []
    return (allocations_of if sor else fills_of)(orjson.loads(body))
