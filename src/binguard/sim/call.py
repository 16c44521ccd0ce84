"""What a REST handler receives and returns (kept apart so handlers never touch aiohttp)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .auth import Timing
from .params import Params
from .state import SimState


@dataclass(slots=True)
class Call:
    """One validated request: parameters, the account (signed endpoints), the client's IP."""

    state: SimState
    params: Params
    ip: str
    account: str = ""
    timing: Timing | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    # "cancel": an executed fault stops a cancel-replace after its cancel half (faults.py)
    stage: str = ""


@dataclass(frozen=True, slots=True)
class RawJson:
    """A reply body already serialised (kline rows are formatted once and cached)."""

    data: bytes


@dataclass(slots=True)
class Reply:
    body: Any
    status: int = 200


Handler = Callable[[Call], Awaitable[Reply]]
Weight = Callable[[Params], int]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A Binance REST endpoint: route, security, weight, and how orders are counted.

    `zero_on_success`: since 2026-04-02 successful order placement and cancel cost 0 weight,
    failures pay `weight` (CHANGELOG 2026-03-27).
    """

    method: str
    path: str
    handler: Handler
    weight: Weight
    signed: bool = False
    zero_on_success: bool = False


def fixed(n: int) -> Weight:
    return lambda _params: n
