"""What the engine's parts (checks.py, matching.py, listing.py, edits.py, stp.py, sor.py) may use
of the Engine (core.py).

The parts are mixins of `Engine`; this base declares, for the type checker only, the state and
the core methods they call, so no part imports core.py (no import cycle; tests/test_layers.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..clock import ServerClock
    from ..filters import SymbolRules
    from .accounts import Account
    from .book import Book, BookSide
    from .events import EventKind, Listener
    from .lists import OrderList
    from .orders import Allocation, Amendment, Order, PreventedMatch, Trade
    from .retention import Retention

# the simulated crowd's account (unlimited funds, never reported); SOR trades through it too
INTERNAL_ACCOUNT = "__crowd__"


class EngineBase:
    """Declarations only (see the module docstring); Engine defines every one of them."""

    if TYPE_CHECKING:
        clock: ServerClock
        rules: dict[str, SymbolRules]
        books: dict[str, Book]
        accounts: dict[str, Account]
        last_price: dict[str, int]
        listeners: list[Listener]
        history: dict[tuple[str, str], dict[int, Order]]
        by_client_id: dict[tuple[str, str, str], Order]
        retention: Retention
        order_lists: dict[int, OrderList]
        list_by_client: dict[tuple[str, str], OrderList]
        open_lists: dict[tuple[str, str], set[int]]
        next_list_id: int
        prevented: dict[str, deque[PreventedMatch]]
        next_prevented_id: dict[str, int]
        amendments: dict[tuple[str, str, int], list[Amendment]]
        open: dict[tuple[str, str], dict[int, Order]]
        open_algo: dict[tuple[str, str], int]
        open_icebergs: dict[tuple[str, str], int]
        stops: dict[str, dict[int, Order]]
        trades: dict[str, deque[Trade]]
        next_trade_id: dict[str, int]
        trade_hooks: list[Callable[[Trade], None]]
        account_trades: dict[str, deque[tuple[Trade, bool]]]
        average_price: Callable[[str], int] | None
        _average_cache: dict[str, tuple[tuple[int, int], int]]
        sors: dict[str, tuple[str, ...]]
        allocations: dict[str, deque[Allocation]]
        next_alloc_id: dict[str, int]
        first_fill_hooks: list[Callable[[str], None]]
        next_execution_id: int
        _fired: list[Order]
        _to_activate: list[Order]
        _quiet_lists: bool
        _moved: dict[str, set[str]]

        def symbol_rules(self, symbol: str) -> SymbolRules: ...
        def find(
            self, account: str, symbol: str, order_id: int | None, client_id: str | None
        ) -> Order: ...
        def new_client_order_id(self) -> str: ...
        def _emit(
            self, kind: EventKind, symbol: str | None, account: str | None, data: dict[str, Any]
        ) -> None: ...
        def _report(self, order: Order, exec_type: str, now: int, **kw: Any) -> None: ...
        def _new_order(
            self,
            account: str,
            symbol: str,
            side: str,
            order_type: str,
            time_in_force: str,
            qty: int | None,
            quote_qty: int | None,
            price: int | None,
            client_order_id: str | None,
            self_trade_prevention: str,
            rules: SymbolRules,
            pending: bool = False,
        ) -> Order: ...
        def _number(self, order: Order, list_id: int = -1) -> None: ...
        def _park(
            self, order: Order, rules: SymbolRules, now: int, report: bool = True
        ) -> None: ...
        def _execute(self, order: Order, rules: SymbolRules, now: int) -> None: ...
        def _run_fired(self, now: int) -> None: ...
        def _flush(self, now: int) -> None: ...
        def _can_pay(self, order: Order, rules: SymbolRules) -> bool: ...
        def _expire(self, order: Order, reason: str, now: int) -> None: ...
        def _unpark(self, order: Order) -> None: ...
        def _resolve_peg(self, order: Order, now: int) -> bool: ...
        def _cancel(self, order: Order, now: int) -> None: ...
        def _close(self, order: Order, now: int) -> None: ...
        def _add_open(self, order: Order) -> None: ...
        def _count_open(self, order: Order, step: int) -> None: ...
        def _prevent(
            self, side: BookSide, price: int, taker: Order, maker: Order, now: int
        ) -> None: ...
        def _list_first_trade(self, order: Order, now: int) -> None: ...
        def _finish(self, order: Order, status: str, now: int, reason: str = "") -> None: ...
        def _match(
            self,
            book: Book,
            taker: Order,
            acct: Account,
            rules: SymbolRules,
            limit: int | None,
            now: int,
        ) -> None: ...
        def _rest(self, book: Book, order: Order, acct: Account, base: str, quote: str) -> None: ...
        def _touch(self, book: Book, is_bid: bool, price: int) -> None: ...
