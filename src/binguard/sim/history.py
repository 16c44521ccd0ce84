"""Deterministic market history per symbol: a seeded random walk with volume, kept in arrays.

Bots load candles at start-up (freqtrade asks for hundreds of 5m candles before its first
loop), so every symbol has a past. It is a function of the seed and the symbol's spec only, so
the same seed gives the same history, and it ends at the symbol's `initial_price`, where the
engine's book starts. Three tiers, all compact (one `array('q')` per field):

- 1-hour candles before the minutes, back to `MarketConfig.hourly_days` days (default 1000);
  only intervals of 1h and more reach into them;
- 1-minute candles for the last `MarketConfig.history_days` days (default 30);
- 1-second candles for the last `MarketConfig.second_hours` hours (default 2); each of those
  minutes is the exact aggregate of its 60 seconds, so 1s and 1m agree.

Coarser intervals are aggregated from these (market.py caches the rows). The hourly tier ends
where the minutes begin, on a whole minute: its candles are attributed to the bucket holding
their open time. History candles carry volume and a trade count; their trades are numbered
1, 2, ... in time order, and the engine's own trades continue from there (SimState sets the
engine's first trade id), so a ticker's count is lastId - firstId + 1 as on Binance. Only the ids
exist: individual history trades are not listed. Generating the default history of one symbol
takes about half a second; it is built when the simulator starts (or resets) and shared by every
simulator of the process with the same seed and symbol spec.
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass
from functools import lru_cache

from .candles import TQ, TV, C, H, L, N, O, Q, V
from .config import SymbolSpec
from .numbers import SCALE, to_atoms

_FIELDS = (O, H, L, C, V, Q, N, TV, TQ)
MINUTE_SIGMA = 0.0009  # about 3.4 % a day, a calm major pair


@dataclass(frozen=True, slots=True)
class Tier:
    """`count` consecutive candles of `step_ms`, the last one ending at the anchor."""

    step_ms: int
    fields: tuple[array[int], ...]  # indexed like a candle list from O to TQ (9 arrays)

    @property
    def count(self) -> int:
        return len(self.fields[0])

    def candle(self, i: int, open_ms: int) -> list[int]:
        f = self.fields
        return [open_ms, f[0][i], f[1][i], f[2][i], f[3][i], f[4][i], f[5][i], f[6][i], f[7][i],
                f[8][i], -1, -1]  # fmt: skip


@dataclass(frozen=True, slots=True)
class History:
    """The tiers, and the running trade count that gives history trades their ids (1, 2, ...
    in time order through the hours then the minutes; the engine's trades come after)."""

    hours: Tier  # before the minutes
    minutes: Tier
    seconds: Tier  # the last minutes again, second by second
    hour_ids: array[int]  # trades before hour candle i (one more item: the tier's total)
    minute_ids: array[int]  # trades before minute candle i, counting the hours too

    @property
    def trades(self) -> int:
        return self.minute_ids[-1]


class _Walk:
    """Backward random walk in atoms, rounded to the tick, volumes rounded to the step."""

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.rng = random.Random(f"{seed}:{spec.symbol}:history")
        self.tick = max(1, to_atoms(spec.tick_size))
        self.step = max(1, to_atoms(spec.step_size))
        self.min_price = max(self.tick, to_atoms(spec.min_price))
        price = to_atoms(spec.initial_price)
        # about 1000 minimum notionals traded a minute, in base units
        self.minute_volume = max(self.step, to_atoms(spec.min_notional) * 1000 * SCALE // price)

    def candles(self, close: int, count: int, sigma: float, volume: int) -> list[list[int]]:
        """`count` candles ending at `close`, oldest first."""
        rng, tick, step, floor = self.rng, self.tick, self.step, self.min_price
        gauss, rand = rng.gauss, rng.random
        out: list[list[int]] = []
        for _ in range(count):
            o = max(floor, round(close / math.exp(gauss(0.0, sigma)) / tick) * tick)
            top, bottom = max(o, close), min(o, close)
            h = top + round(abs(gauss(0.0, sigma)) * 0.5 * top / tick) * tick
            lo = max(floor, bottom - round(abs(gauss(0.0, sigma)) * 0.5 * bottom / tick) * tick)
            v = max(step, round(volume * math.exp(gauss(0.0, 0.5)) / step) * step)
            tv = round(v * (0.3 + 0.4 * rand()) / step) * step
            avg = (o + h + lo + close) // 4
            n = 1 + int(v * 20 // volume)
            out.append([0, o, h, lo, close, v, avg * v // SCALE, n, tv, avg * tv // SCALE])
            close = o
        out.reverse()
        return out


def _tier(step_ms: int, candles: list[list[int]]) -> Tier:
    return Tier(step_ms, tuple(array("q", (c[i] for c in candles)) for i in _FIELDS))


def _minute_of(seconds: list[list[int]]) -> list[int]:
    first, last = seconds[0], seconds[-1]
    return [
        0,
        first[O],
        max(s[H] for s in seconds),
        min(s[L] for s in seconds),
        last[C],
        sum(s[V] for s in seconds),
        sum(s[Q] for s in seconds),
        sum(s[N] for s in seconds),
        sum(s[TV] for s in seconds),
        sum(s[TQ] for s in seconds),
    ]


@lru_cache(maxsize=64)
def build(spec: SymbolSpec, seed: int, days: int, second_hours: int, hourly_days: int) -> History:
    """The history of one symbol (cached: specs are frozen, so equal specs share it)."""
    walk = _Walk(spec, seed)
    total_minutes = days * 1440
    second_minutes = min(total_minutes, second_hours * 60)
    per_second = max(walk.step, walk.minute_volume // 60)
    seconds = walk.candles(
        to_atoms(spec.initial_price), second_minutes * 60, MINUTE_SIGMA / math.sqrt(60), per_second
    )
    recent = [_minute_of(seconds[i : i + 60]) for i in range(0, len(seconds), 60)]
    start = recent[0][O] if recent else to_atoms(spec.initial_price)
    older = walk.candles(start, total_minutes - second_minutes, MINUTE_SIGMA, walk.minute_volume)
    first = older[0][O] if older else start
    hours = walk.candles(
        first,
        max(0, hourly_days - days) * 24,
        MINUTE_SIGMA * math.sqrt(60),
        walk.minute_volume * 60,
    )
    hour_tier, minute_tier = _tier(3_600_000, hours), _tier(60_000, older + recent)
    hour_ids = _running(hour_tier, 0)
    return History(
        hour_tier, minute_tier, _tier(1000, seconds), hour_ids, _running(minute_tier, hour_ids[-1])
    )


def _running(tier: Tier, start: int) -> array[int]:
    out = array("q", [start])
    total = start
    for n in tier.fields[N - 1]:
        total += n
        out.append(total)
    return out
