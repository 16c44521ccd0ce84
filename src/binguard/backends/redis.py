"""The fleet budget: one Binance rate budget in Redis, shared by every process on an IP / account.

Binance counts weight per IP and orders per account, so bots that share an IP (or an account) must
share one set of counters. Each `BudgetStore` method is one atomic Lua script (`redis_lua`), run
with EVALSHA; the keys are

    {prefix}:ip:<ip>:REQUEST_WEIGHT:1M:<window start>      one hash per limit and window
    {prefix}:account:<account>:ORDERS:10S:<window start>
    {prefix}:ip:<ip>:ban / :pause                          block end (Binance ms), shared by all

with the prefix as Redis Cluster hash tag, and every key expiring by itself.

Clock. Windows are aligned to the `now_ms` the caller passes: Binance's server time as corrected by
the caller's clock sync (`policy.servertime`). Redis `TIME` is not used to align them: it is a
third clock whose offset to Binance nobody measures, while every caller already measures its own
offset to Binance. Redis `TIME` serves as a cross-check instead: each reservation returns it, and a
caller whose `now_ms` is more than `max_skew_ms` away is logged once (a wrong offset, or a Redis
host without NTP). Skew at window boundaries is what the budget's safety margin is for.

Fairness. A store instance that is refused by a limit leaves a claim (the charge it wanted) in
that window. In the next window, while another instance's claim is not yet granted, nobody takes
more than an equal share (limit / claimants) and an over-eager instance is told to come back a
little later (`fair_retry_ms`). A late waker is therefore never starved by a busy neighbour, and
when nobody waits there is no cap at all. The budget's FIFO orders requests inside each process.

Redis down or slow. Every call has a short deadline (`timeout`, no client retries); on a failure
the store logs once and keeps trading on a local share of every limit (`redis_fallback.LocalShare`)
in the *current* window: of the window's count U that Redis last told it it keeps share * (L - U),
with U raised for staleness (by the most the rest of the fleet was granted between two of its
replies, and to at least the count of the window before: a fleet that fills windows in a burst at
their start may have filled this one after the process's first reply in it); response headers fed
in through `observe` correct U with Binance's own count.
A count from an earlier window is carried into the window Redis was lost in (the fleet's use of
one window is the best guess for the next). A background probe tries Redis every
`probe_interval`, also while every caller waits. On return it first merges what it admitted
alone into Redis (on top of the highest fleet count it knows, so a Redis that restarted empty is
brought back up) and stays capped by its local share for one more probe interval, by which time
every other live process has also merged: no burst over the limit on return.

What it cannot know: a process that never charged a limit before the outage starts that limit at
its full share, corrected only by the headers of its answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import redis_lua
from .base import BlockKind, Granted, Held, Limit, Refused, Scope, Snapshot, StoreConfigError, Usage
from .redis_config import RedisStoreOptions as RedisStoreOptions  # its home; re-exported here
from .redis_config import check_client, check_identity, open_client
from .redis_fallback import LocalShare

log = logging.getLogger("binguard.backends.redis")

# What "Redis is unreachable" looks like; anything else (a script error) is a bug and propagates.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,  # a replica promoted away from us during failover
    OSError,  # includes TimeoutError from asyncio.timeout
)
_STATUS = {1: BlockKind.BAN, 2: BlockKind.PAUSE}


def default_member() -> str:
    """A name for one store instance in fairness claims: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RedisBudgetStore:
    """A `BudgetStore` in Redis for every process using IP `ip` (and account `account`)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        ip: str,
        account: str | None = None,
        options: RedisStoreOptions | None = None,
        member: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        owns_client: bool = False,
    ) -> None:
        """Raises `StoreConfigError` at once for a bad client, identity or options."""
        check_client(client, aioredis.Redis)
        self._ip = check_identity("ip", ip)
        self._account = check_identity("account", account)
        self.member = default_member() if member is None else check_identity("member", member)
        if options is not None and not isinstance(options, RedisStoreOptions):
            raise StoreConfigError(
                f"options must be a RedisStoreOptions, got {type(options).__name__}"
            )
        self._redis = client
        self._opts = options or RedisStoreOptions()
        self._mono = monotonic
        self._owns = owns_client
        self._scripts = {
            name: client.register_script(getattr(redis_lua, name))
            for name in ("RESERVE", "SETTLE", "OBSERVE", "BLOCK", "MERGE")
        }
        self._seen: dict[str, tuple[Limit, int, int]] = {}  # limit key -> (limit, window, used)
        # limit key -> (window, pad in it, pad in the window before, floor): see _note
        self._pad: dict[str, tuple[int, int, int, int]] = {}
        self._last_now_ms: int | None = None  # the latest server time a caller gave us
        self._seen_blocks: dict[BlockKind, int] = {}  # ban/pause ends last read from Redis
        self._local: LocalShare | None = None  # set while Redis is unreachable
        self._cap: LocalShare | None = None  # the local share still capping after a return
        self._cap_until = 0.0
        self._next_probe = 0.0
        self._probe_lock = asyncio.Lock()
        self._prober: asyncio.Task[None] | None = None  # returns to Redis while callers wait
        self._last_mono = 0.0  # monotonic time of _last_now_ms
        self._skew_logged = False
        self.last_skew_ms: int | None = None  # now_ms - Redis TIME at the last reservation
        self.outages = 0  # times this store fell back to its local share

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ip: str,
        account: str | None = None,
        options: RedisStoreOptions | None = None,
        member: str | None = None,
    ) -> RedisBudgetStore:
        """A store with its own client for `url` (redis://host:port/db); close it with `aclose`.

        A malformed URL raises `StoreConfigError` (password masked); nothing connects yet.
        """
        opts = options or RedisStoreOptions()
        check_identity("ip", ip)  # before a client exists: nothing to close on a bad identity
        check_identity("account", account)
        client = open_client(
            url,
            socket_timeout=opts.timeout,
            socket_connect_timeout=opts.timeout,
            retry=Retry(NoBackoff(), 0),  # fail fast to the local share, never retry for long
        )
        return cls(client, ip=ip, account=account, options=opts, member=member, owns_client=True)

    async def aclose(self) -> None:
        prober, self._prober = self._prober, None
        if prober is not None:
            prober.cancel()
            await asyncio.gather(prober, return_exceptions=True)
        if self._owns:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisBudgetStore:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and the local share admits requests."""
        return self._local is not None

    # -- keys ---------------------------------------------------------------------------------
    def window_key(self, limit: Limit, window: int) -> str:
        """The hash holding `limit`'s counters for the window starting at `window`."""
        owner = f"ip:{self._ip}" if limit.scope is Scope.IP else f"account:{self._account}"
        return f"{{{self._opts.prefix}}}:{owner}:{limit.key}:{window}"

    def block_key(self, kind: BlockKind) -> str:
        return f"{{{self._opts.prefix}}}:ip:{self._ip}:{kind.value}"

    def limits_key(self) -> str:
        """The fleet's rate limits as exchangeInfo gave them (`save_limits`); no expiry."""
        return f"{{{self._opts.prefix}}}:ip:{self._ip}:limits"

    # -- SharesLimits -------------------------------------------------------------------------
    async def save_limits(self, limits: Sequence[Limit]) -> None:
        """Publish exchangeInfo's limits for members that start later; best effort."""
        payload = orjson.dumps([x.to_exchange_info() for x in limits])
        try:
            async with asyncio.timeout(self._opts.timeout):
                await self._redis.set(self.limits_key(), payload)
        except UNAVAILABLE as exc:
            log.info("Rate budget: limits not saved, Redis unreachable (%s)", type(exc).__name__)

    async def load_limits(self) -> tuple[Limit, ...]:
        """The limits an earlier member saved; () when none, or Redis is away, or they are bad."""
        try:
            async with asyncio.timeout(self._opts.timeout):
                raw = await self._redis.get(self.limits_key())
        except UNAVAILABLE as exc:
            log.info("Rate budget: no saved limits, Redis unreachable (%s)", type(exc).__name__)
            return ()
        if raw is None:
            return ()
        try:
            entries = orjson.loads(raw)
            if not isinstance(entries, list) or not all(isinstance(x, dict) for x in entries):
                raise TypeError("not a list of rateLimits items")
            return tuple(Limit.from_exchange_info(x) for x in entries)
        except (orjson.JSONDecodeError, TypeError, AttributeError, StoreConfigError):
            log.warning(
                "Rate budget: the limits saved in %s are unreadable; ignored.", self.limits_key()
            )
            return ()

    # -- BudgetStore --------------------------------------------------------------------------
    async def try_reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> Granted | Refused:
        self._last_now_ms, self._last_mono = now_ms, self._mono()
        local = await self._local_share(now_ms)
        if local is not None:
            return await local.try_reserve(now_ms, charges)
        cap = self._return_cap()
        capped: Granted | None = None
        if cap is not None:
            first = await cap.try_reserve(now_ms, charges)
            if isinstance(first, Refused):
                return first
            capped = first
        try:
            outcome = await self._redis_reserve(now_ms, charges)
        except UNAVAILABLE as exc:
            if cap is not None and capped is not None:
                await cap.settle(capped.held, [h.amount for h in capped.held])
            local = await self._fall_back(exc)
            return await local.try_reserve(now_ms, charges)
        if isinstance(outcome, Refused) and cap is not None and capped is not None:
            await cap.settle(capped.held, [h.amount for h in capped.held])  # undo, nothing sent
        elif isinstance(outcome, Granted) and self._local is not None:
            await self._local.absorb(now_ms, charges)  # another task fell back meanwhile
        return outcome

    async def settle(self, held: Sequence[Held], refunds: Sequence[int]) -> None:
        if not held:
            return
        local = await self._local_share(None)
        if local is None:
            keys = [self.window_key(h.limit, h.window) for h in held]
            args = [x for h, r in zip(held, refunds, strict=True) for x in (h.amount, r)]
            try:
                await self._run("SETTLE", keys, args)
                return
            except UNAVAILABLE as exc:
                local = await self._fall_back(exc)
        await local.settle(held, refunds)

    async def observe(self, sent_ms: int, now_ms: int, counts: Sequence[tuple[Limit, int]]) -> None:
        counts = [(x, n) for x, n in counts if x.window(sent_ms) == x.window(now_ms)]
        if not counts:
            return
        local = await self._local_share(now_ms)
        if local is None:
            keys = [self.window_key(x, x.window(now_ms)) for x, _ in counts]
            args: list[int] = [self._opts.ttl_factor]
            for x, n in counts:
                args += [n, int(x.can_decrease), x.interval_ms]
            try:
                used = await self._run("OBSERVE", keys, args)
            except UNAVAILABLE as exc:
                local = await self._fall_back(exc)
            else:
                for (x, _), u in zip(counts, used, strict=True):
                    self._note(x, x.window(now_ms), int(u), 0)
                return
        await local.observe(sent_ms, now_ms, counts)

    async def block(self, kind: BlockKind, until_ms: int) -> None:
        local = await self._local_share(None)
        if local is None:
            try:
                await self._run("BLOCK", [self.block_key(kind)], [until_ms, self._grace])
                self._saw_block(kind, until_ms)
                return
            except UNAVAILABLE as exc:
                local = await self._fall_back(exc)
        await local.store.block(kind, until_ms)

    async def blocked(self, now_ms: int) -> Refused | None:
        self._last_now_ms, self._last_mono = now_ms, self._mono()
        local = await self._local_share(now_ms)
        if local is None:
            keys = [self.block_key(BlockKind.BAN), self.block_key(BlockKind.PAUSE)]
            try:
                async with asyncio.timeout(self._opts.timeout):
                    values = await self._redis.mget(keys)
            except UNAVAILABLE as exc:
                local = await self._fall_back(exc)
            else:
                for kind, raw in zip((BlockKind.BAN, BlockKind.PAUSE), values, strict=True):
                    if raw is not None and int(raw) > now_ms:
                        self._saw_block(kind, int(raw))
                        return Refused(kind, int(raw))
                return None
        return await local.store.blocked(now_ms)

    async def snapshot(self, now_ms: int, limits: Sequence[Limit]) -> Snapshot:
        local = await self._local_share(now_ms)
        if local is None:
            try:
                return await self._redis_snapshot(now_ms, limits)
            except UNAVAILABLE as exc:
                local = await self._fall_back(exc)
        snap = await local.store.snapshot(now_ms, [local.scaled(x) for x in limits])
        usage = tuple(
            Usage(x, u.window, u.used, u.in_flight) for x, u in zip(limits, snap.usage, strict=True)
        )
        return Snapshot(usage, snap.banned_until_ms, snap.paused_until_ms)

    # -- Redis --------------------------------------------------------------------------------
    @property
    def _grace(self) -> int:
        return self._opts.block_grace_ms

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[int | str]) -> Any:
        async with asyncio.timeout(self._opts.timeout):
            return await self._scripts[name](keys=keys, args=args)

    async def _redis_reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> Granted | Refused:
        keys = [self.block_key(BlockKind.BAN), self.block_key(BlockKind.PAUSE)]
        args: list[int | str] = [
            now_ms,
            self.member,
            int(self._opts.fairness),
            self._opts.fair_retry_ms,
            self._opts.ttl_factor,
        ]
        for limit, amount in charges:
            start = limit.window(now_ms)
            keys += [
                self.window_key(limit, start),
                self.window_key(limit, start - limit.interval_ms),
            ]
            args += [limit.limit, amount, start, limit.interval_ms]
        status, until, which, redis_ms, *used = (
            int(x) for x in await self._run("RESERVE", keys, args)
        )
        self._check_skew(now_ms, redis_ms)
        if status in _STATUS:
            self._saw_block(_STATUS[status], until)
            return Refused(_STATUS[status], until)
        for (limit, amount), u in zip(charges, used, strict=True):
            self._note(limit, limit.window(now_ms), u, amount if status == 0 else 0)
        if status == 0:
            return Granted(tuple(Held(x, x.window(now_ms), n) for x, n in charges))
        return Refused(BlockKind.LIMIT, until, charges[which - 1][0])

    async def _redis_snapshot(self, now_ms: int, limits: Sequence[Limit]) -> Snapshot:
        async with asyncio.timeout(self._opts.timeout):
            async with self._redis.pipeline(transaction=True) as pipe:
                for x in limits:
                    pipe.hmget(self.window_key(x, x.window(now_ms)), ["used", "flight"])
                pipe.mget([self.block_key(BlockKind.BAN), self.block_key(BlockKind.PAUSE)])
                *rows, blocks = await pipe.execute()
        usage = tuple(
            Usage(x, x.window(now_ms), int(used or 0), int(flight or 0))
            for x, (used, flight) in zip(limits, rows, strict=True)
        )
        ban, pause = (int(v) if v is not None and int(v) > now_ms else None for v in blocks)
        return Snapshot(usage, ban, pause)

    def _note(self, limit: Limit, window: int, used: int, mine: int) -> None:
        """Remember the fleet count Redis told us, and how stale such a count can be.

        `pad`: the most units the rest of the fleet was granted between two of our replies (in
        this window or the one before), what it may have been granted after our last one.
        `floor`: the last count we saw in the window before. A fleet that fills its windows in a
        burst at their start may have filled this one right after our first reply in it.
        """
        seen = self._seen.get(limit.key)
        win, pad, before, floor = self._pad.get(limit.key, (window, 0, 0, 0))
        if win != window:
            follows = win == window - limit.interval_ms
            last = seen[2] if follows and seen is not None and seen[1] == win else 0
            win, pad, before, floor = window, 0, pad if follows else 0, last
        if seen is not None and seen[1] == window:
            pad = max(pad, used - seen[2] - mine)
        self._pad[limit.key] = (win, pad, before, floor)
        self._seen[limit.key] = (limit, window, used)

    def _last_counts(self) -> list[tuple[Limit, int, int]]:
        """(limit, window, count) for the seed of a local share: the last count Redis told us,
        raised by its staleness pad and by the floor of the window before (see `_note`)."""
        out = []
        for key, (limit, window, used) in self._seen.items():
            win, pad, before, floor = self._pad.get(key, (window, 0, 0, 0))
            if win == window:
                used = max(used + max(pad, before), floor)
            out.append((limit, window, used))
        return out

    def _saw_block(self, kind: BlockKind, until_ms: int) -> None:
        """Remember a ban/pause: a process that loses Redis during a ban must not probe it."""
        self._seen_blocks[kind] = max(until_ms, self._seen_blocks.get(kind, 0))

    def _check_skew(self, now_ms: int, redis_ms: int) -> None:
        self.last_skew_ms = skew = now_ms - redis_ms
        limit = self._opts.max_skew_ms
        if limit is not None and abs(skew) > limit and not self._skew_logged:
            self._skew_logged = True
            log.warning(
                "Rate budget: this process's Binance time is %d ms away from the Redis server's "
                "clock; windows stay aligned to the process's clock, but check its clock sync "
                "and the Redis host's NTP.",
                skew,
            )

    # -- fallback -----------------------------------------------------------------------------
    async def _fall_back(self, exc: BaseException) -> LocalShare:
        """Redis failed: admit on the local share from now on (logged once per outage)."""
        if self._local is not None:
            return self._local
        local = self._cap or LocalShare(self._opts.fallback_share)
        await local.seed(self._last_counts(), self._last_now_ms)
        local.lone = True
        for kind, until in self._seen_blocks.items():
            await local.store.block(kind, until)
        if self._local is not None:  # another task fell back meanwhile
            return self._local
        self._local, self._cap = local, None
        self._next_probe = self._mono() + self._opts.probe_interval
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probe_until_back())
        self.outages += 1
        log.warning(
            "Rate budget: Redis unreachable (%s: %s); admitting on a local share of %g of every "
            "limit until it is back.",
            type(exc).__name__,
            exc,
            self._opts.fallback_share,
        )
        return local

    async def _probe_until_back(self) -> None:
        """Try to return every probe interval while Redis is away, even when no caller asks.

        A process whose tasks all wait for a window to end (its share is used up) must still
        merge what it admitted alone soon after Redis is back: the return cap of the others
        counts on every live process having merged within one probe interval.
        """
        try:
            while self._local is not None:
                await asyncio.sleep(max(0.0, self._next_probe - self._mono()) + 0.001)
                if self._last_now_ms is not None:
                    elapsed_ms = int((self._mono() - self._last_mono) * 1000)
                    await self._local_share(self._last_now_ms + max(0, elapsed_ms))
        except Exception:  # a bug, not an outage (those are caught inside): say so, once
            log.exception("Rate budget: the Redis return probe failed; callers still probe.")

    async def _local_share(self, now_ms: int | None) -> LocalShare | None:
        """The local share while Redis is away, after trying to return when a probe is due."""
        if self._local is None or now_ms is None:  # settle/block never probe: no window to merge
            return self._local
        if self._mono() < self._next_probe and not self._probe_lock.locked():
            return self._local
        async with self._probe_lock:  # callers arriving mid-probe wait: nothing admitted unmerged
            local = self._local
            if local is None or self._mono() < self._next_probe:
                return local
            try:
                # connections made before the outage may be dead: probe and merge on fresh ones
                await self._redis.connection_pool.disconnect()
                await self._merge(local, now_ms)
            except UNAVAILABLE:
                self._next_probe = self._mono() + self._opts.probe_interval
                return local
            local.merged()
            self._local, self._cap = None, local
            self._cap_until = self._mono() + self._opts.probe_interval + self._opts.timeout
            log.info("Rate budget: Redis is back; local usage merged, sharing the budget again.")
            return None

    def _return_cap(self) -> LocalShare | None:
        if self._cap is not None and self._mono() >= self._cap_until:
            self._cap = None
        return self._cap

    async def _merge(self, local: LocalShare, now_ms: int) -> None:
        """Add what was admitted alone to Redis (on top of the fleet usage last seen), and blocks."""
        keys: list[str] = []
        args: list[int | str] = [self._opts.ttl_factor]
        last = {limit.key: (window, used) for limit, window, used in self._last_counts()}
        for limit, usage, own, heard in await local.own_usage(now_ms):
            window, used = last.get(limit.key, (usage.window, 0))
            known = used if window == usage.window else 0  # with its staleness pad: never short
            # A header count may already hold some of `own`: counted twice is safe, once too few not
            keys.append(self.window_key(limit, usage.window))
            args += [max(known, heard), own, usage.in_flight, limit.interval_ms]
        await self._run("MERGE", keys, args)
        snap = await local.store.snapshot(now_ms, [])
        for kind, until in (
            (BlockKind.BAN, snap.banned_until_ms),
            (BlockKind.PAUSE, snap.paused_until_ms),
        ):
            if until is not None:
                await self._run("BLOCK", [self.block_key(kind)], [until, self._grace])
