"""SpotConnector settings: one immutable value, keyword-only, with defaults that suit Binance."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from binguard.policy.retry import RetryPolicy
from binguard.transport.http_backends import HTTP_BACKENDS, HttpName
from binguard.transport.ws import WsOptions

BINANCE_REST = "https://api.binance.com"
BINANCE_STREAMS = "wss://stream.binance.com:9443"
BINANCE_WS_API = "wss://ws-api.binance.com:443/ws-api/v3"
ORDERS_VIA = frozenset({"rest", "ws"})  # where orders are placed and cancelled


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorOptions:
    """How the connector behaves. Change one field with `options.with_(timeout=3)`.

    - `recv_window_ms`: Binance's acceptance window for signed requests (5000 recommended). It also
      bounds reconciliation: a request older than its recvWindow can no longer reach the matching
      engine, so an order still missing past that instant was never placed.
    - `reconcile_margin_ms`: extra wait past that instant, for delays inside the matching engine.
    - `request_deadline`: how long one call may take, retries included.
    - `journal_path`: SQLite file of order intents, with its append-only intent log beside it
      (`<path>-intents`; journal.py): survives a killed process, not a power cut. ":memory:"
      keeps it in RAM (no crash recovery).
    - `stream_url` / `ws_api_url`: market data streams and WebSocket API (user data) endpoints;
      `ws`: how their sockets are supervised (silence, rotation, backoff; transport/ws.py).
    - `book_limit`: snapshot depth of local order books (weight 50 at 1000; 250 at 5000).
    - `user_data_logon`: with an Ed25519 key, authenticate the socket once (`session.logon`) and
      subscribe without signing; otherwise `userDataStream.subscribe.signature`.
    - `orders_via`: "rest" (default) or "ws": place and cancel orders over the WebSocket API
      (`order.place` / `order.cancel`, ws_orders.py), reconciled exactly as over REST; lookups
      of a lost answer stay on REST, independent of the socket that lost it.
    - `http`: the REST transport's HTTP client: "http1" (default), binguard's own lean keep-alive
      HTTP/1.1 client (transport/http1.py; about half aiohttp's CPU per request), or "aiohttp".
    - `fallback_poll`: while user data is down, how often tracked open orders are polled over
      REST (`fallback_max_orders` at most per round, within the budget).
    - `keep_settled`: how many settled orders (and order lists) `tracker` keeps besides the open
      ones, the oldest settled forgotten first (tracker.py): a long-running bot's memory stays
      bounded (~0.8 KB per order). The journal keeps every order.
    """

    timeout: float = 10.0
    connect_timeout: float = 5.0
    recv_window_ms: int = 5000
    reconcile_margin_ms: int = 2000
    reconcile_poll: float = 0.25
    reconcile_deadline: float = 60.0
    request_deadline: float = 30.0
    max_resends: int = 3
    time_samples: int = 3
    resync_every: float = 300.0
    journal_path: str | Path = ":memory:"
    client_order_id_prefix: str = "bg"
    local_addr: str | None = None
    budget_share: float = 1.0  # fraction of each limit this process may use (1.0 = all of it)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stream_url: str = BINANCE_STREAMS
    ws_api_url: str = BINANCE_WS_API
    ws: WsOptions = field(default_factory=WsOptions)
    book_limit: int = 1000
    user_data_logon: bool = True
    fallback_poll: float = 2.0
    fallback_max_orders: int = 10
    keep_settled: int = 10_000
    orders_via: Literal["rest", "ws"] = "rest"
    http: HttpName = "http1"

    def __post_init__(self) -> None:
        if self.orders_via not in ORDERS_VIA:
            raise ValueError(f"orders_via must be 'rest' or 'ws', not {self.orders_via!r}")
        if self.http not in HTTP_BACKENDS:
            raise ValueError(f"http must be 'http1' or 'aiohttp', not {self.http!r}")
        if type(self.keep_settled) is not int or self.keep_settled < 0:
            raise ValueError(f"keep_settled must be an int >= 0, not {self.keep_settled!r}")

    def with_(self, **changes: object) -> ConnectorOptions:
        return replace(self, **changes)  # type: ignore[arg-type]
