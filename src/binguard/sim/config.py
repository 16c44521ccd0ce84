"""Simulator configuration: symbols and filters, accounts and keys, limits, clock, faults' seed.

Everything is an immutable dataclass with Binance-like defaults, so `SimConfig()` is a working
exchange (BTCUSDT, ETHUSDT, ETHBTC and one demo account). `SimConfig.from_mapping()` reads the same
shape from YAML/JSON; unknown keys are errors, so a typo in a test config cannot go unnoticed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KeyKind = Literal["HMAC", "ED25519", "RSA"]
T = TypeVar("T")


_SYMBOL_TEXT = frozenset({"symbol", "base", "quote", "status", "default_stp_mode"})
# enums.md §STP Modes
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER")


def _is_amount(value: object) -> bool:
    """A decimal string like Binance's "0.01000000": finite and not negative."""
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except ArithmeticError:
        return False
    return amount is not None and amount.is_finite() and amount >= 0


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One spot symbol with the filters the simulator enforces (decimal strings, like Binance)."""

    symbol: str
    base: str
    quote: str
    initial_price: str
    tick_size: str = "0.01000000"
    min_price: str = "0.01000000"
    max_price: str = "1000000.00000000"
    step_size: str = "0.00001000"
    min_qty: str = "0.00001000"
    max_qty: str = "9000.00000000"
    market_min_qty: str = "0.00000000"
    market_max_qty: str = "100.00000000"
    min_notional: str = "5.00000000"
    max_notional: str = "9000000.00000000"
    max_num_orders: int = 200
    status: str = "TRADING"
    base_precision: int = 8
    quote_precision: int = 8
    # PERCENT_PRICE_BY_SIDE (or, with percent_price_by_side false, PERCENT_PRICE with the bid
    # multipliers); Binance's BTCUSDT values. The average is the 5-minute weighted price.
    percent_price_by_side: bool = True
    bid_multiplier_up: str = "5"
    bid_multiplier_down: str = "0.2"
    ask_multiplier_up: str = "5"
    ask_multiplier_down: str = "0.2"
    avg_price_mins: int = 5
    iceberg_parts: int = 100  # CHANGELOG 2026-02-24
    max_num_algo_orders: int = 5
    max_num_iceberg_orders: int = 5
    max_num_order_lists: int = 20
    max_num_order_amends: int = 10
    max_position: str = "0"  # 0: no MAX_POSITION filter on the symbol
    min_trailing_above_delta: int = 10
    max_trailing_above_delta: int = 2000
    min_trailing_below_delta: int = 10
    max_trailing_below_delta: int = 2000
    allowed_stp_modes: tuple[str, ...] = STP_MODES
    default_stp_mode: str = "NONE"
    # Smart Order Routing (faqs/sor_faq.md): the symbols with `sor` true that share a base asset
    # form one SOR (exchangeInfo `sors`); their quote assets are taken as interchangeable 1:1
    sor: bool = False

    def __post_init__(self) -> None:
        modes = self.allowed_stp_modes
        if isinstance(modes, str) or not all(m in STP_MODES for m in modes):
            raise ValueError(
                f"symbol {self.symbol}: allowed_stp_modes must list modes of {STP_MODES}"
            )
        object.__setattr__(self, "allowed_stp_modes", tuple(modes))
        if self.default_stp_mode not in self.allowed_stp_modes:
            raise ValueError(f"symbol {self.symbol}: default_stp_mode must be an allowed mode")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if str(f.type) == "str" and f.name not in _SYMBOL_TEXT and not _is_amount(value):
                raise ValueError(
                    f"symbol {self.symbol}: {f.name} must be a decimal number >= 0, not {value!r}"
                )
        for name in ("tick_size", "step_size", "initial_price"):
            if Decimal(getattr(self, name)) == 0:
                raise ValueError(f"symbol {self.symbol}: {name} must be above 0")


@dataclass(frozen=True, slots=True)
class KeySpec:
    """An API key: HMAC keys carry the shared secret, RSA/Ed25519 keys the PEM public key."""

    api_key: str
    kind: KeyKind = "HMAC"
    secret: str = ""
    public_key_pem: str = ""

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"KeySpec(api_key={self.api_key!r}, kind={self.kind!r})"


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """A trading account: its keys, starting balances and commission rates in basis points."""

    name: str
    uid: int
    keys: tuple[KeySpec, ...]
    balances: Mapping[str, str]
    maker_bps: int = 10
    taker_bps: int = 10
    can_trade: bool = True


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """One row of exchangeInfo's rateLimits."""

    kind: Literal["REQUEST_WEIGHT", "ORDERS", "RAW_REQUESTS"]
    interval: Literal["SECOND", "MINUTE", "HOUR", "DAY"]
    interval_num: int
    limit: int


DEFAULT_RATE_LIMITS = (
    RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 6000),
    RateLimitSpec("ORDERS", "SECOND", 10, 50),
    RateLimitSpec("ORDERS", "DAY", 1, 160000),
    RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 300000),
)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Rate limits and the ban policy.

    After a 429, `requests_before_ban` more requests while still over the limit in the same
    window earn a 418. Ban n lasts `ban_ladder_s[n]` seconds (2 minutes ... 3 days, Binance's
    documented range) times `ban_scale`, so tests can use bans of a fraction of a second.
    """

    rate_limits: tuple[RateLimitSpec, ...] = DEFAULT_RATE_LIMITS
    ban_ladder_s: tuple[float, ...] = (120, 600, 3600, 21600, 86400, 259200)
    ban_scale: float = 1.0
    requests_before_ban: int = 3


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """The deterministic crowd of other traders: seeded book depth plus periodic random orders."""

    enabled: bool = True
    interval_ms: int = 250
    levels: int = 20
    level_qty: str = "0.50000000"
    spread_ticks: int = 5
    level_gap_ticks: int = 10


@dataclass(frozen=True, slots=True)
class WsConfig:
    """WebSocket streams and WebSocket API, with Binance's documented defaults.

    web-socket-streams.md / web-socket-api.md: a ping every 20 s, disconnect when no pong within a
    minute, a 24-hour connection lifetime, 5 incoming messages per second and 1024 streams per
    stream connection, 300 connection attempts per 5 minutes per IP. Diff depth streams push every
    1000 ms (`@depth`) or 100 ms (`@depth@100ms`); 0 pushes each engine step at once. User data:
    1000 active subscriptions per session and 65535 subscription ids per session lifetime. Tests
    shrink the times (e.g. ping 0.2 s, pong 1 s, lifetime 2 s).
    """

    ping_interval_s: float = 20.0
    pong_timeout_s: float = 60.0
    lifetime_s: float = 86400.0
    max_incoming_per_s: int = 5
    max_streams: int = 1024
    max_connections: int = 300
    connection_window_s: int = 300
    depth_ms: int = 1000
    depth_fast_ms: int = 100
    max_subscriptions: int = 1000
    max_subscription_ids: int = 65535
    close_timeout_s: float = 2.0
    max_pending: int = 100_000


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """Market history (history.py): 1-minute candles for `history_days` days, 1-second candles
    for the last `second_hours` hours, 1-hour candles back to `hourly_days` days; coarser
    intervals are aggregated from these. `history_days` 0: no history, candles and tickers come
    from the engine's own trades only. `stream_ms`: the
    documented 1000 ms update unit of the ticker, kline and partial depth streams (tests shrink
    it)."""

    history_days: int = 30
    second_hours: int = 2
    hourly_days: int = 1000
    stream_ms: int = 1000


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long terminal orders stay queryable (engine/retention.py): an order that ended is
    evicted once it ended over `horizon_s` ago AND its account has over `max_orders` newer
    terminal orders; an evicted order answers -2026 ORDER_ARCHIVED.

    Defaults: 300 s, five times binguard's connector's reconcile deadline (60 s) and ten times its
    request deadline (30 s), so an order whose answer was lost is always found while it is being
    reconciled, at any order rate; and the last 10,000 terminal orders of each account, so a bot
    that restarts after any pause still finds what it had in flight (`recover()` looks only for
    the orders whose outcome was unknown at the crash, the last few it sent).
    """

    horizon_s: float = 300.0
    max_orders: int = 10_000

    def __post_init__(self) -> None:
        if isinstance(self.horizon_s, bool) or not isinstance(self.horizon_s, int | float):
            raise ValueError(f"retention.horizon_s must be a number, not {self.horizon_s!r}")
        if not 0 <= self.horizon_s < float("inf"):
            raise ValueError(f"retention.horizon_s must be >= 0, not {self.horizon_s!r}")
        if isinstance(self.max_orders, bool) or not isinstance(self.max_orders, int):
            raise ValueError(f"retention.max_orders must be an integer, not {self.max_orders!r}")
        if self.max_orders < 0:
            raise ValueError(f"retention.max_orders must be >= 0, not {self.max_orders}")


def _hex(label: str, seed: int) -> str:
    return hashlib.sha256(f"binguard-sim:{label}:{seed}".encode()).hexdigest()


def demo_ed25519_private(seed: int) -> Ed25519PrivateKey:
    """The demo account's Ed25519 private key, derived from the seed (printed by the CLI)."""
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(_hex("ed25519", seed)))


def demo_account(
    seed: int = 0, api_key: str | None = None, api_secret: str | None = None
) -> AccountSpec:
    """The default account: an HMAC key and an Ed25519 key, both derived from the seed."""
    public = (
        demo_ed25519_private(seed)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return AccountSpec(
        name="demo",
        uid=100000001,
        keys=(
            KeySpec(api_key or _hex("hmac-key", seed), "HMAC", api_secret or _hex("hmac", seed)),
            KeySpec(_hex("ed25519-key", seed), "ED25519", public_key_pem=public),
        ),
        balances={"USDT": "100000.00000000", "BTC": "2.00000000", "ETH": "20.00000000"},
    )


DEFAULT_SYMBOLS = (
    SymbolSpec("BTCUSDT", "BTC", "USDT", initial_price="30000.00"),
    SymbolSpec(
        "ETHUSDT",
        "ETH",
        "USDT",
        initial_price="2000.00",
        step_size="0.00010000",
        min_qty="0.00010000",
    ),
    SymbolSpec(
        "ETHBTC",
        "ETH",
        "BTC",
        initial_price="0.06500000",
        tick_size="0.00001000",
        min_price="0.00001000",
        step_size="0.00010000",
        min_qty="0.00010000",
        min_notional="0.00010000",
        max_notional="9000.00000000",
    ),
)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The whole simulator configuration. `seed` drives every random choice."""

    seed: int = 0
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    accounts: tuple[AccountSpec, ...] = field(default_factory=lambda: (demo_account(0),))
    limits: LimitsConfig = LimitsConfig()
    flow: FlowConfig = FlowConfig()
    ws: WsConfig = WsConfig()
    market: MarketConfig = MarketConfig()
    clock_offset_ms: float = 0.0
    clock_drift_ms_per_s: float = 0.0
    latency_ms: float = 0.0
    stall_s: float = 30.0
    log_size: int = 10000
    retention: RetentionConfig = RetentionConfig()

    @property
    def demo(self) -> AccountSpec:
        return self.accounts[0]

    def with_(self, **changes: Any) -> SimConfig:
        """A copy with some fields replaced (dataclasses.replace, named for readability)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimConfig:
        """Build from plain data (parsed YAML/JSON). Missing parts take the defaults."""
        data = dict(data)
        _check_scalars(cls, data)
        seed = data.get("seed", 0)
        kw: dict[str, Any] = {"seed": seed}
        if "symbols" in data:
            kw["symbols"] = tuple(_build(SymbolSpec, s) for s in data.pop("symbols"))
        if "accounts" in data:
            kw["accounts"] = tuple(_account(a, i) for i, a in enumerate(data.pop("accounts")))
        else:
            kw["accounts"] = (demo_account(seed),)
        if "limits" in data:
            limits = dict(data.pop("limits"))
            if "rate_limits" in limits:
                limits["rate_limits"] = tuple(
                    _build(RateLimitSpec, r) for r in limits["rate_limits"]
                )
            if "ban_ladder_s" in limits:
                limits["ban_ladder_s"] = tuple(float(x) for x in limits["ban_ladder_s"])
            kw["limits"] = _build(LimitsConfig, limits)
        if "flow" in data:
            kw["flow"] = _build(FlowConfig, data.pop("flow"))
        if "ws" in data:
            kw["ws"] = _build(WsConfig, data.pop("ws"))
        if "market" in data:
            kw["market"] = _build(MarketConfig, data.pop("market"))
        if "retention" in data:
            kw["retention"] = _build(RetentionConfig, data.pop("retention"))
        data.pop("seed", None)
        for key, value in data.items():
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ValueError(f"unknown simulator config key: {key!r}")
            kw[key] = value
        return cls(**kw)

    @classmethod
    def load(cls, path: str | Path) -> SimConfig:
        """Read a YAML or JSON file (JSON is YAML, so one parser reads both).

        Every mistake is a ValueError with a one-line message: unreadable YAML/JSON, unknown
        keys, values of the wrong type or sign (OSError if the file cannot be read)."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as e:
            raise ValueError(f"{path}: invalid YAML/JSON: {' '.join(str(e).split())}") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping at the top level")
        try:
            return cls.from_mapping(data)
        except (TypeError, ValueError, ArithmeticError) as e:  # e.g. a list for a mapping
            raise ValueError(f"{path}: {e}") from None


def _build(kind: type[T], data: Mapping[str, Any]) -> T:
    if not isinstance(data, Mapping):
        raise ValueError(f"a {kind.__name__} must be a mapping, not {data!r}")
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {kind.__name__} keys: {sorted(map(str, unknown))}")
    _check_scalars(kind, data)
    return kind(**data)


_SIGNED = frozenset({"seed", "clock_offset_ms", "clock_drift_ms_per_s"})
_KINDS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float)}


def _check_scalars(kind: type, data: Mapping[str, Any]) -> None:
    """Values of plain str / int / float / bool fields have that type; numbers are finite and,
    but for offsets and the seed, not negative. (Structured fields are checked as they are built.)"""
    for f in dataclasses.fields(kind):
        if f.name not in data:
            continue
        value: Any = data[f.name]
        annotation = str(f.type)
        if annotation == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{kind.__name__}.{f.name} must be true or false, not {value!r}")
            continue
        accepted = _KINDS.get(annotation)
        if accepted is None:
            continue
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise ValueError(f"{kind.__name__}.{f.name} must be {annotation}, not {value!r}")
        number = 0.0 if annotation == "str" else float(cast(float, value))
        if not (math.isfinite(number) and (number >= 0 or f.name in _SIGNED)):
            raise ValueError(
                f"{kind.__name__}.{f.name} must be a finite number >= 0, not {value!r}"
            )


def _account(data: Mapping[str, Any], index: int) -> AccountSpec:
    data = dict(data)
    data["keys"] = tuple(_build(KeySpec, k) for k in data.get("keys", ()))
    data.setdefault("uid", 100000001 + index)
    data["balances"] = {k: str(v) for k, v in data.get("balances", {}).items()}
    return _build(AccountSpec, data)
