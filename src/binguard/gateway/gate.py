"""The one budget for everything behind the gateway, on Binance's clock, kept up to date.

- Limits come from `GET /api/v3/exchangeInfo` (its `rateLimits`), fetched at start and hourly;
  until the first answer, Binance's published Spot limits are assumed (FALLBACK_LIMITS).
- Windows follow Binance's clock: `GET /api/v3/time` samples feed a `ServerTimeSync`
  (policy/servertime.py), resynced every `resync_s`.
- These upkeep requests pass the same budget as the bots' (they cost weight too) and are never
  sent during a ban or a pause.
- The budget is corrected from every answer's X-MBX-USED-WEIGHT-* / X-MBX-ORDER-COUNT-* headers
  (`RateBudget.settle`), and a 429/418 pauses or bans it (`RateBudget.on_error`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from binguard._aio import reap
from binguard.backends import BudgetStore, Limit, LimitKind, Snapshot
from binguard.backends.redis_url import store_from_url
from binguard.errors import HttpReply, classify, parse_rate_headers

from ._costs import BanInForceError, BudgetExhaustedError, RateBudget, ServerTimeSync, SystemClock
from ._costs import rest_cost as _rest_cost
from .config import GatewayConfig

log = logging.getLogger("binguard.gateway")

# rest-api.md §LIMITS / exchangeInfo of the live Spot API (RAW_REQUESTS 300,000 per 5 minutes
# since 2026-04-02, CHANGELOG.md 2026-03-27): used until exchangeInfo is read.
FALLBACK_LIMITS: tuple[Mapping[str, Any], ...] = (
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 300000},
)
LIMITS_REFRESH_S = 3600.0
# No grant in the last 50 ms of a window (RateBudget's edge, 20 ms for a direct client): a
# request through the gateway takes one more hop, and one that reaches Binance in the next
# window counts there, on top of that window's full budget.
EDGE_MS = 50
RETRY_START_S = 2.0  # exchangeInfo or the time failed at start: asked again this often
TIME_SAMPLES = 4  # /api/v3/time round trips per resync, at most
GOOD_RTT_MS = 2.0  # a sample this quick ends the resync early


class Gate:
    """RateBudget + ServerTimeSync + store, and the task that keeps limits and clock fresh."""

    def __init__(self, config: GatewayConfig, store: BudgetStore | None = None) -> None:
        self.config = config
        clock = SystemClock()
        self.sync = ServerTimeSync(clock, resync_every=config.resync_s)
        self.store = (
            store
            if store is not None
            else store_from_url(config.store, ip=config.ip_name, account=config.account)
        )
        self.budget = RateBudget.from_exchange_info(
            {"rateLimits": FALLBACK_LIMITS},
            store=self.store,
            clock=clock,
            server_time=self.sync.now_ms,
            margin=config.margin,
            edge_ms=EDGE_MS,
        )
        # Binance's own figures (the budget keeps them scaled by the margin): local 429s name these
        self.published = {x.key: x.limit for x in map(Limit.from_exchange_info, FALLBACK_LIMITS)}
        self.limits_from_upstream = False
        self._task: asyncio.Task[None] | None = None
        # told of each upkeep request (path, status or exception name, seconds): the gateway's
        # metrics count them with the bots' requests
        self.observe: Callable[[str, str, float], None] | None = None

    def now_ms(self) -> int:
        return self.sync.now_ms()

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Read limits and clock once (best effort: a failure leaves the fallbacks), then keep
        them fresh in the background."""
        await self._upkeep_once(session)
        self._task = asyncio.create_task(self._upkeep(session), name="binguard-gateway-upkeep")

    async def close(self) -> None:
        await reap(self._task)
        aclose = getattr(self.store, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _upkeep(self, session: aiohttp.ClientSession) -> None:
        last_limits = time.monotonic()
        while True:
            if self.limits_from_upstream:
                await asyncio.sleep(max(1.0, self.sync.resync_due() - time.monotonic()))
            else:  # still on the fallbacks (upstream down or busy at start): try again soon
                await asyncio.sleep(RETRY_START_S)
            refresh = (
                not self.limits_from_upstream or time.monotonic() - last_limits >= LIMITS_REFRESH_S
            )
            await self._upkeep_once(session, limits=refresh)
            if refresh:
                last_limits = time.monotonic()

    async def _upkeep_once(self, session: aiohttp.ClientSession, *, limits: bool = True) -> None:
        if self.sync.needs_resync():
            # The estimate is off by up to half the best sample's round trip, and windows are
            # placed by it: a few samples (1 weight each) make a loaded moment matter less.
            for _ in range(TIME_SAMPLES):
                await self._fetch(session, "/api/v3/time", self._on_time)
                rtt = self.sync.rtt_ms
                if rtt is not None and rtt <= GOOD_RTT_MS:
                    break
        if limits:
            await self._fetch(session, "/api/v3/exchangeInfo", self._on_info)

    async def _fetch(self, session: aiohttp.ClientSession, path: str, use: Any) -> None:
        """One upkeep GET through the budget; failures are logged, never raised."""
        try:
            ticket = await self.budget.acquire(_rest_cost("GET", path), deadline=None)
        except (BanInForceError, BudgetExhaustedError) as e:
            log.info("gateway upkeep: %s skipped (%s)", path, type(e).__name__)
            return
        sent = time.monotonic()
        ok = False
        headers: Any = None
        outcome = "unknown"
        try:
            async with session.get(self.config.rest_url + path) as resp:
                body = await resp.read()
                headers = resp.headers
                received = time.monotonic()
                outcome = str(resp.status)
                ok = resp.status == 200
                if not ok:
                    await self.on_answer(resp.status, resp.headers, body)
                else:
                    use(orjson.loads(body), sent, received)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError) as e:
            outcome = outcome if headers is not None else type(e).__name__
            log.warning("gateway upkeep: %s failed: %s", path, type(e).__name__)
        finally:
            await self.budget.settle(ticket, ok=ok, headers=parse_rate_headers(headers))
            if self.observe is not None:
                self.observe(path, outcome, time.monotonic() - sent)

    def _on_time(self, data: Any, sent: float, received: float) -> None:
        self.sync.add(sent, int(data["serverTime"]), received)

    def _on_info(self, data: Any, _sent: float, _received: float) -> None:
        limits = [Limit.from_exchange_info(x) for x in data.get("rateLimits", ())]
        if limits:
            self.budget.set_limits(limits)
            self.published = {x.key: x.limit for x in limits}
            self.limits_from_upstream = True

    async def on_answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """A 429 / 418 (or a body saying 'IP banned until') pauses or bans every request."""
        if status in (418, 429) or b"banned until" in body[:512]:
            err = classify(HttpReply(status, headers, body))
            if err is not None:
                await self.budget.on_error(err, sent_ms=self.now_ms())

    def published_limit(self, scaled: int, interval: str) -> tuple[int, str] | None:
        """Binance's figure for the budget's (scaled) limit `scaled` per `interval`."""
        for x in self.budget.limits:
            if x.limit == scaled and str(x.interval) == interval:
                return self.published.get(x.key, scaled), interval
        return None

    async def snapshot(self) -> Snapshot:
        return await self.budget.snapshot()

    async def used_headers(self) -> dict[str, str]:
        """X-MBX-USED-WEIGHT-<n><L> (and ORDER-COUNT) as this budget counts them, IP-wide."""
        out: dict[str, str] = {}
        for u in (await self.snapshot()).usage:
            if u.limit.kind is LimitKind.REQUEST_WEIGHT:
                out[f"X-MBX-USED-WEIGHT-{u.limit.interval.letter}"] = str(u.used)
        return out
