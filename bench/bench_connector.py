"""SpotConnector under load (issue 4): (a) budget utilisation under saturation, (b) CPU per request.

(a) One connector, TASKS concurrent tasks reading `GET /api/v3/ticker/bookTicker?symbol=BTCUSDT`
    (weight 2) as fast as the budget admits, for RUN_S seconds, against a simulator whose only
    weight limit is WEIGHT_LIMIT per 1 SECOND (1 s windows: about 25 full windows, 25 window edges
    where the connector's clock must agree with the exchange's). The simulator's request log is the
    ground truth: per full window, the weight it answered 2xx as a fraction of the limit (the first
    and last partial windows are left out), and every 429 / 418 of the whole run.
    Goal: >= 99 % of the limit in each full window, 0 x 429.

(a') The same load entered EDGE_LEADS_MS before a window's end (after an idle window), EDGE_TRIALS
    times each, with a fresh simulator state per trial. In (a) this happens only when the random
    start falls in the last few ms of a window; here it is done on purpose, since a bursty bot
    meets it at every burst. Reported: the weight the connector granted before the edge that the
    simulator charged after it, and the 429 / 418 answers. Goal: 0 x 429.

(b) Client CPU time (time.process_time of this process; the simulator runs in another process) per
    signed `GET /api/v3/account` (weight 20), N sequential requests after WARMUP, best of ROUNDS
    interleaved rounds: binguard `SpotConnector.call("GET", "/api/v3/account", signed=True)`
    (budget, clock, retry policy, rate headers; the raw JSON in `.data`), python-binance
    `AsyncClient.get_account()` and ccxt async `binance.private_get_account()` (both return the raw
    JSON: the cheapest call each peer has for this endpoint). Like for like, so the ratio is taken
    on that row; a row shows `account()` too (the same call plus the typed `Account`, a service the
    peers do not give), with its own ratio. binguard's
    default REST backend is its own HTTP/1.1 client, and a row shows the same call on its aiohttp
    backend (`ConnectorOptions(http="aiohttp")`, not a peer). Two reference
    floors (not peers) show what the transport alone costs: bare aiohttp (sign, GET, json.loads)
    and bare asyncio streams speaking HTTP/1.1 keep-alive.
    Goal: binguard <= 0.5x the faster peer. When missed, binguard's path is profiled (cProfile
    with a CPU-time timer: own CPU by package, then the top functions).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import hashlib
import hmac
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aiohttp

from binguard.backends import MemoryStore
from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions
from binguard.errors import BinanceError
from binguard.policy.refusals import BanInForceError
from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig
from binguard.sim.peers import point_ccxt, point_python_binance
from binguard.transport.http1 import Http1Client

from ._common import (
    SYMBOL,
    RecordingStore,
    SimProcess,
    Truth,
    pct,
    saturation_config,
    sim_weight,
    truth_from_log,
    utilisation,
)
from ._goals import goal

# (a) saturation
WEIGHT_LIMIT = 300  # per 1 SECOND window: 150 bookTicker reads per window
INTERVAL_MS = 1000
RUN_S = 25.0
TASKS = 8
IP = "127.0.0.2"  # the connector's source address: its traffic is told apart in the log by it
UTIL_GOAL = 0.99
EDGE_LEADS_MS = (5, 15, 30)
EDGE_TRIALS = 2
# (b) CPU per signed request
N = 1000
WARMUP = 100
ROUNDS = 5
CPU_GOAL = 0.5
OURS = 'binguard call("GET", "/api/v3/account")'  # raw JSON, like the peers' calls
TYPED = "(binguard variant) account(), typed Account"
FLOOR = "(reference) "
VARIANT = "(binguard variant) "  # other binguard rows (typed result, aiohttp backend): never a peer


def _cpu_config() -> SimConfig:
    return SimConfig(
        limits=LimitsConfig(
            rate_limits=(
                RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 10**9),
                RateLimitSpec("ORDERS", "SECOND", 10, 10**9),
                RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 10**9),
            )
        ),
        flow=FlowConfig(enabled=False),
        log_size=100_000,
    )


def _key(sim: SimProcess) -> tuple[str, str]:
    key = next(k for k in sim.config.demo.keys if k.kind == "HMAC")
    return key.api_key, key.secret


# -- (a) budget utilisation under saturation ---------------------------------------------------
async def _sample_counter(url: str, stop: float, out: list[tuple[int, int, int]]) -> None:
    """Read the simulator's own weight counter between two clock reads, now and then, to check
    that the weights derived from the request log match what the simulator charged."""
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < stop - 1:
            await asyncio.sleep(0.73)  # sampling period, not synchronisation
            async with session.get(url + "/_sim/clock") as r:
                c0 = int((await r.json())["serverTime"])
            async with session.get(url + "/_sim/limits") as r:
                ip = (await r.json())["ips"].get(IP)
            async with session.get(url + "/_sim/clock") as r:
                c1 = int((await r.json())["serverTime"])
            if ip is not None and c0 // INTERVAL_MS == c1 // INTERVAL_MS:
                out.append((c0, c1, int(ip["weight"]["1S"])))


@dataclass(slots=True)
class _Run:
    """What one saturation run leaves behind besides the simulator's log."""

    span: tuple[int, int]  # server ms: saturation start and end
    errors: Counter[str]  # what the reading tasks were told
    connector: SpotConnector
    store: RecordingStore  # the connector's view: weight granted per window


async def _read_until(bn: SpotConnector, stop: float, errors: Counter[str]) -> None:
    """TASKS tasks reading as fast as the budget admits until `stop` (monotonic seconds)."""

    async def reader() -> None:
        while time.monotonic() < stop:
            try:
                await bn.book_ticker(SYMBOL)
            except BanInForceError as err:
                errors["BanInForceError"] += 1
                await asyncio.sleep(min(err.retry_after or 1.0, max(0.0, stop - time.monotonic())))
            except BinanceError as err:
                errors[f"{type(err).__name__} {err.code} HTTP {err.http_status}"] += 1

    await asyncio.gather(*(reader() for _ in range(TASKS)))


def _connector(sim: SimProcess, store: RecordingStore) -> SpotConnector:
    api_key, secret = _key(sim)
    return SpotConnector(
        api_key=api_key,
        secret=secret,
        base_url=sim.url,
        options=ConnectorOptions(local_addr=IP),
        store=store,
    )


async def _saturate(sim: SimProcess) -> _Run:
    errors: Counter[str] = Counter()
    store = RecordingStore(MemoryStore())
    async with _connector(sim, store) as bn:
        await bn.book_ticker(SYMBOL)
        start_ms = sim.now_ms()  # nothing else runs yet: a blocking read is harmless here
        await _read_until(bn, time.monotonic() + RUN_S, errors)
    # the tasks stop asking at RUN_S; what they still send while finishing is the partial tail
    return _Run((start_ms, start_ms + int(RUN_S * 1000)), errors, bn, store)


async def _edge_trial(sim: SimProcess, lead_ms: int) -> tuple[int, int, int, int]:
    """Idle for a window, then saturate from `lead_ms` before a window's end (connector's clock)
    for two windows. Returns (actual lead in ms, weight granted in the first window that the
    simulator charged to the next one, 429 answers, 418 answers)."""
    store = RecordingStore(MemoryStore())
    async with _connector(sim, store) as bn:
        now = bn.time.now_ms()  # open() and its unbudgeted requests stay in an earlier window
        await asyncio.sleep((2 * INTERVAL_MS - now % INTERVAL_MS - lead_ms) / 1000)
        start = bn.time.now_ms()
        await _read_until(bn, time.monotonic() + (lead_ms + 2 * INTERVAL_MS) / 1000, Counter())
    first = start - start % INTERVAL_MS
    truth = truth_from_log(
        sim.get("/_sim/requests"),
        ip=IP,
        interval_ms=INTERVAL_MS,
        weights=_read_weights(),
        span=(first, first),
    )
    counted = next((w.counted for w in truth.windows if w.start_ms == first), 0)
    late = store.granted.get(first, 0) - counted
    return first + INTERVAL_MS - start, late, truth.n429, truth.n418


def _bench_edges() -> None:
    print(
        f"(a') saturation entered just before a window's end: {TASKS} tasks start "
        f"{'/'.join(map(str, EDGE_LEADS_MS))} ms before the edge, {EDGE_TRIALS} trials each",
        flush=True,
    )
    rows = []
    with SimProcess(saturation_config(WEIGHT_LIMIT)) as sim:
        for lead in EDGE_LEADS_MS:
            for _ in range(EDGE_TRIALS):
                sim.post("/_sim/reset")  # fresh limits and bans for each trial
                rows.append(asyncio.run(_edge_trial(sim, lead)))
    for actual, late, n429, n418 in rows:
        print(
            f"   started {actual:3d} ms before the edge: weight granted before the edge but "
            f"charged after it {late:3d}; 429s {n429}, 418s {n418}"
        )
    total = sum(r[2] for r in rows)
    goal(
        "budget, saturation entered just before a window's end",
        f"{total} x 429 in {len(rows)} trials",
        f"simulator's request log, {sum(r[3] for r in rows)} x 418",
        "0 x 429",
        total == 0,
    )


def _print_disagreements(truth: Truth, store: RecordingStore) -> None:
    """Windows where the simulator charged more than the connector granted: the requests
    granted at the end of the window before arrived in this one (Binance counts a request in
    the window of its arrival; the budget counted it in the window of its grant)."""
    counted = {w.start_ms: w.counted for w in truth.windows}
    first = truth.windows[0].start_ms if truth.windows else 0
    rows = []
    for w in truth.windows:
        granted = store.granted.get(w.start_ms, 0)
        before = w.start_ms - INTERVAL_MS
        if w.counted > WEIGHT_LIMIT or (w.n429 and w.counted != granted):
            rows.append(
                f"window +{(w.start_ms - first) // INTERVAL_MS}: granted {granted}, "
                f"charged {w.counted} ({w.n429} x 429); window before: granted "
                f"{store.granted.get(before, 0)}, charged {counted.get(before, 0)}"
            )
    if rows:
        print("   windows charged over the limit (connector's grants vs simulator's count):")
        for row in rows:
            print(f"     {row}")


def _check_counter(samples: list[tuple[int, int, int]], entries: list[dict[str, Any]]) -> str:
    weights = _read_weights()
    ok = 0
    for c0, c1, counter in samples:
        window = c0 // INTERVAL_MS
        lo = hi = 0
        for e in entries:
            if e["ip"] != IP or int(e["time"]) // INTERVAL_MS != window or e["status"] == 418:
                continue
            w = weights[(e["method"], e["path"])]
            t = int(e["time"])
            lo += w if t < c0 else 0
            hi += w if t <= c1 else 0
        ok += lo <= counter <= hi
    return f"{ok}/{len(samples)} samples of the simulator's counter match the log-derived weight"


def _read_weights() -> dict[tuple[str, str], int]:
    return {
        ("GET", "/api/v3/ticker/bookTicker"): sim_weight(
            "GET", "/api/v3/ticker/bookTicker", {"symbol": SYMBOL}
        ),
        ("GET", "/api/v3/time"): sim_weight("GET", "/api/v3/time"),
        ("GET", "/api/v3/exchangeInfo"): sim_weight("GET", "/api/v3/exchangeInfo"),
    }


def _bench_saturation() -> None:
    print(
        f"(a) budget utilisation: REQUEST_WEIGHT {WEIGHT_LIMIT} / 1 SECOND, {TASKS} tasks reading "
        f"bookTicker (weight {sim_weight('GET', '/api/v3/ticker/bookTicker', {'symbol': SYMBOL})}) "
        f"for {RUN_S:.0f} s",
        flush=True,
    )
    with SimProcess(saturation_config(WEIGHT_LIMIT)) as sim:
        samples: list[tuple[int, int, int]] = []

        async def main() -> _Run:
            sampler = asyncio.create_task(
                _sample_counter(sim.url, time.monotonic() + RUN_S, samples)
            )
            try:
                return await _saturate(sim)
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler

        result = asyncio.run(main())
        entries: list[dict[str, Any]] = sim.get("/_sim/requests")
    truth = truth_from_log(
        entries, ip=IP, interval_ms=INTERVAL_MS, weights=_read_weights(), span=result.span
    )
    _print_saturation(truth, result)
    print(f"   ground-truth check: {_check_counter(samples, entries)}")


def _print_saturation(truth: Truth, run: _Run) -> None:
    bn, errors = run.connector, run.errors
    lo, med, hi = utilisation(truth.full, WEIGHT_LIMIT)
    per_window = " ".join(f"{w.ok_weight * 100 // WEIGHT_LIMIT}" for w in truth.full)
    print(f"   full windows            : {len(truth.full)} (first and last partial excluded)")
    print(f"   used per window, % limit: {per_window}")
    print(f"   utilisation min / median: {pct(lo)} / {pct(med)}   (max {pct(hi)})")
    over = [w for w in truth.full if w.counted > WEIGHT_LIMIT]
    print(
        f"   requests {truth.requests}, 429s {truth.n429}, 418s {truth.n418} (whole run); "
        f"windows charged over the limit: {len(over)}"
    )
    stats = bn.stats
    print(
        f"   connector: retries {stats.retries}, errors {dict(stats.errors_by_code) or '{}'}, "
        f"bans {stats.bans}; caller saw {dict(errors) or '{}'}"
    )
    rtt = bn.time.rtt_ms
    print(
        f"   connector clock vs simulator: offset estimate {bn.time.offset_ms:+.1f} ms "
        f"(simulator's true offset 0), sample RTT {rtt if rtt is None else round(rtt, 2)} ms"
    )
    _print_disagreements(truth, run.store)
    goal(
        "budget utilisation under saturation",
        f"min {pct(lo)} of the limit per full window, {truth.n429} x 429",
        f"simulator's request log, {len(truth.full)} full windows of {WEIGHT_LIMIT} weight",
        f">= {UTIL_GOAL * 100:.0f} % in every full window and 0 x 429",
        lo >= UTIL_GOAL and truth.n429 == 0 and bool(truth.full),
    )


# -- (b) CPU per signed request --------------------------------------------------------------
Call = Callable[[], Awaitable[Any]]


async def _cpu_round(
    call: Call, n: int, finish: Callable[[], object] | None = None
) -> tuple[float, float]:
    """(CPU µs, wall µs) per request over `n` sequential calls; `finish()`, timed with them,
    does what they left for later (the journal's deferred commit), so a round pays for its own
    work and none of it lands in another client's round."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await call()
    if finish is not None:
        finish()
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def _python_binance(url: str, api_key: str, secret: str) -> tuple[Call, Call]:
    """(account call, close) of a python-binance AsyncClient pointed at the simulator."""
    from binance import AsyncClient  # type: ignore[import-untyped]

    client = point_python_binance(AsyncClient(api_key, secret), url)
    return client.get_account, client.close_connection


def _ccxt(url: str, api_key: str, secret: str) -> tuple[Call, Call]:
    """(account call, close) of a ccxt async binance exchange pointed at the simulator."""
    import ccxt.async_support as ccxt  # type: ignore[import-untyped]

    ex = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False},
        }
    )
    point_ccxt(ex, url)
    return ex.private_get_account, ex.close


PEERS = (
    ("python-binance", "python-binance AsyncClient.get_account()", _python_binance),
    ("ccxt", "ccxt binance.private_get_account()", _ccxt),
)


def _checked(fetch: Call) -> Call:
    """A peer's account call that fails loudly if the answer is not an account."""

    async def call() -> Any:
        data = await fetch()
        assert "balances" in data
        return data

    return call


async def _peers(url: str, api_key: str, secret: str, stack: AsyncExitStack) -> dict[str, Call]:
    """The peer clients that are installed (test extras), closed by `stack`."""
    peers: dict[str, Call] = {}
    for package, name, make in PEERS:
        try:
            account, close = make(url, api_key, secret)
        except ImportError:
            print(f"   {package} is not installed: no figure for it")
            continue
        stack.push_async_callback(close)
        peers[name] = _checked(account)
    return peers


async def _cpu_main(sim: SimProcess) -> None:
    api_key, secret = _key(sim)
    async with AsyncExitStack() as stack:
        bn = SpotConnector(api_key=api_key, secret=secret, base_url=sim.url)
        stack.push_async_callback(bn.close)
        await bn.open()
        clients: dict[str, Call] = {
            OURS: lambda: bn.call("GET", "/api/v3/account", signed=True),
            TYPED: bn.account,
        }
        on_aiohttp = SpotConnector(
            api_key=api_key,
            secret=secret,
            base_url=sim.url,
            options=ConnectorOptions(http="aiohttp"),
        )
        stack.push_async_callback(on_aiohttp.close)
        await on_aiohttp.open()
        clients[VARIANT + "call(), aiohttp backend"] = lambda: on_aiohttp.call(
            "GET", "/api/v3/account", signed=True
        )
        clients.update(await _peers(sim.url, api_key, secret, stack))
        floors = await _floors(sim.url, api_key, secret)
        stack.push_async_callback(floors["close"])
        clients[FLOOR + "bare aiohttp: sign, GET, json.loads"] = floors["aiohttp"]
        clients[FLOOR + "bare asyncio streams, HTTP/1.1"] = floors["asyncio streams"]
        clients[FLOOR + "binguard's HTTP/1.1 client alone, sign, json"] = floors[
            "binguard's HTTP/1.1 client"
        ]
        for call in clients.values():
            for _ in range(WARMUP):
                await call()
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for _ in range(ROUNDS):  # interleaved, so a disturbance hits every client alike
            for name, call in clients.items():
                results[name].append(await _cpu_round(call, N))
        ratio = _print_cpu(results)
        if ratio is None or ratio > CPU_GOAL:
            await _profile(clients[OURS])


def _print_cpu(results: dict[str, list[tuple[float, float]]]) -> float | None:
    """Print the figures; return binguard / the faster peer (best rounds), None without peers."""
    best = {name: min(c for c, _ in rounds) for name, rounds in results.items()}
    for name, rounds in results.items():
        cpu = [c for c, _ in rounds]
        wall = statistics.median(w for _, w in rounds)
        print(
            f"   {name:58s} {best[name]:6.1f} µs CPU/req (median {statistics.median(cpu):6.1f}), "
            f"wall {wall:6.1f} µs/req"
        )
    ours = best[OURS]
    peers = {
        k: v
        for k, v in best.items()
        if k != OURS and not k.startswith(FLOOR) and not k.startswith(VARIANT)
    }
    if not peers:  # a goal without its peer is not met: say so on the goal line
        goal(
            "call() CPU per signed GET /api/v3/account vs the faster peer",
            f"{ours:.1f} µs CPU/req",
            "no peer installed (pip install python-binance ccxt)",
            f"<= {CPU_GOAL}x",
            False,
        )
        return None
    peer_name = min(peers, key=lambda k: peers[k])
    ratio = ours / peers[peer_name]
    goal(
        "call() CPU per signed GET /api/v3/account vs the faster peer",
        f"{ours:.1f} µs CPU/req = {ratio:.2f}x",
        f"{peer_name} {peers[peer_name]:.1f} µs CPU/req",
        f"<= {CPU_GOAL}x",
        ratio <= CPU_GOAL,
    )
    if TYPED in best:
        print(
            f"   ratio with the typed result, account() / {peer_name.split()[0]}: "
            f"{best[TYPED] / peers[peer_name]:5.2f}x   (shown; the peers return raw JSON)"
        )
    return ratio


async def _profile(call: Call, n: int = 1000) -> None:
    """Where binguard's CPU goes on this path: own CPU time by package, then the top functions.

    The timer is process_time, so time spent waiting for the simulator is not counted. (cProfile
    counts every resumption of a coroutine as a call, so call counts are not shown.)
    """
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(n):
        await call()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(r[2] for r in rows.values()) or 1e-9
    by_package: Counter[str] = Counter()
    for (path, _line, _func), row in rows.items():
        by_package[_package(path)] += row[2]
    shares = ", ".join(f"{k} {v / total * 100:.0f} %" for k, v in by_package.most_common(8))
    print(f"   profile of {n} binguard calls, CPU {total / n * 1e6:.0f} µs/req under cProfile:")
    print(f"     own CPU by package: {shares}")
    top = sorted(rows.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    for (path, line, func), row in top:
        print(
            f"     {row[2] / total * 100:5.1f} % own  {row[3] / n * 1e6:7.1f} µs cum/req  "
            f"{func} ({_short(path)}:{line})"
        )


def _package(path: str) -> str:
    if path.startswith("~") or path.startswith("<"):
        return "builtins (C)"
    if "/binguard/" in path:
        return "binguard." + path.split("/binguard/")[-1].split("/")[0].removesuffix(".py")
    if "site-packages/" in path:
        return path.split("site-packages/")[-1].split("/")[0]
    return "stdlib " + path.rsplit("/", 1)[-1].removesuffix(".py")


def _short(path: str) -> str:
    return path.split("site-packages/")[-1].split("src/")[-1].split("lib/python3.11/")[-1]


# -- reference floors (not peers): what the same request costs with less machinery -----------
def _signed_query(secret: str) -> str:
    query = f"recvWindow=5000&timestamp={int(time.time() * 1000)}"
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


async def _floors(url: str, api_key: str, secret: str) -> dict[str, Call]:
    """Bare aiohttp (sign, GET, json.loads), bare asyncio streams (HTTP/1.1 keep-alive), and
    binguard's own HTTP/1.1 client alone (what binguard's layers add is the difference)."""
    session = aiohttp.ClientSession(headers={"X-MBX-APIKEY": api_key})

    async def bare_aiohttp() -> Any:
        async with session.get(f"{url}/api/v3/account?{_signed_query(secret)}") as r:
            return json.loads(await r.read())

    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"Host: {host}:{port}\r\nX-MBX-APIKEY: {api_key}\r\n\r\n"

    async def bare_streams() -> Any:
        writer.write(f"GET /api/v3/account?{_signed_query(secret)} HTTP/1.1\r\n{head}".encode())
        headers = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return json.loads(await reader.readexactly(length))

    http1 = Http1Client(url, headers={"X-MBX-APIKEY": api_key})

    async def bare_http1() -> Any:
        r = await http1.request("GET", f"/api/v3/account?{_signed_query(secret)}")
        return json.loads(r.body)

    async def close() -> None:
        await session.close()
        await http1.close()
        writer.close()
        await writer.wait_closed()

    return {
        "aiohttp": bare_aiohttp,
        "asyncio streams": bare_streams,
        "binguard's HTTP/1.1 client": bare_http1,
        "close": close,
    }


def _bench_cpu() -> None:
    print(
        f"(b) client CPU per signed GET /api/v3/account: {N} sequential requests x {ROUNDS} rounds "
        f"(best round), after {WARMUP} warm-up requests; simulator in its own process",
        flush=True,
    )
    with SimProcess(_cpu_config()) as sim:
        asyncio.run(_cpu_main(sim))
        log = sim.get("/_sim/requests")
    statuses = Counter(e["status"] for e in log if e["path"] == "/api/v3/account")
    print(f"   simulator answers to /api/v3/account: {dict(statuses)}")


# -- (c) the typed order path: place_order() vs call() vs a hand-written floor ------------------
# call() sends the same order as place_order(), newClientOrderId included (issue 18 goal 5); the
# floor sends the order without one, as before: the ratio with it is not made easier.
# Many short rounds: on a shared 2-core machine the floor's best round of 5 varied 72-80 µs from
# run to run, and the ratio with it; the best of 15 rounds of 400 settles both figures.
ORDER_N = 400
ORDER_ROUNDS = 15
ORDER_GOAL = 1.3
# A LIMIT IOC buy far below the market: the simulator checks, signs off and expires it at once,
# so the same order can be sent again and again without moving balances or filling the book.
ORDER = {
    "symbol": SYMBOL,
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "IOC",
    "quantity": "0.001",
    "price": "10000.00",
}


async def _order_clients(
    sim: SimProcess, journal: str
) -> tuple[dict[str, Call], Call, Callable[[], None]]:
    """place_order() (file journal), call() with the same order, and the asyncio-streams floor."""
    api_key, secret = _key(sim)
    bn = SpotConnector(
        api_key=api_key,
        secret=secret,
        base_url=sim.url,
        options=ConnectorOptions(journal_path=journal),
    )
    await bn.open()
    host, port = sim.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"Host: {host}:{port}\r\nX-MBX-APIKEY: {api_key}\r\n"
    fields = "&".join(f"{k}={v}" for k, v in ORDER.items()) + "&newOrderRespType=FULL"
    # built once, as the floor's `fields` is: the caller's dict is not call()'s work
    order = {**ORDER, "newOrderRespType": "FULL"}

    def call_with_id() -> Awaitable[Any]:
        # The same order place_order() sends: a fresh client order id each time, as a careful
        # caller of call() would send it (96 random bits, like the connector's own ids).
        order["newClientOrderId"] = f"bg-{os.urandom(12).hex()}"
        return bn.call("POST", "/api/v3/order", order, signed=True)

    async def floor() -> Any:
        query = f"{fields}&recvWindow=5000&timestamp={int(time.time() * 1000)}"
        sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        writer.write(
            f"POST /api/v3/order?{query}&signature={sig} HTTP/1.1\r\n{head}"
            "Content-Length: 0\r\n\r\n".encode()
        )
        headers = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        data = json.loads(await reader.readexactly(length))
        assert "orderId" in data, data
        return data

    async def close() -> None:
        await bn.close()
        writer.close()
        await writer.wait_closed()

    return (
        {
            "binguard place_order(), file journal": lambda: bn.place_order(
                SYMBOL, "BUY", "LIMIT", time_in_force="IOC", quantity="0.001", price="10000.00"
            ),
            'binguard call("POST", "/api/v3/order")': call_with_id,
            FLOOR + "bare asyncio streams: sign, POST, json.loads": floor,
        },
        close,
        bn.journal.flush,
    )


async def _order_main(sim: SimProcess, journal: str) -> dict[str, float]:
    clients, close, commit = await _order_clients(sim, journal)
    place = next(iter(clients))  # its round ends with the journal's deferred commit
    try:
        for call in clients.values():
            for _ in range(WARMUP):
                await call()
        commit()  # (the warm-up's deferred rows, before any timed round)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for _ in range(ORDER_ROUNDS):
            for name, call in clients.items():
                finish = commit if name == place else None
                results[name].append(await _cpu_round(call, ORDER_N, finish))
        if os.environ.get("BENCH_PROFILE"):
            await _profile(next(iter(clients.values())), ORDER_N)
            await _profile(list(clients.values())[1], ORDER_N)
    finally:
        await close()
    best = {name: min(c for c, _ in rounds) for name, rounds in results.items()}
    for name, rounds in results.items():
        cpu = statistics.median(c for c, _ in rounds)
        wall = statistics.median(w for _, w in rounds)
        print(
            f"   {name:58s} {best[name]:6.1f} µs CPU/order (median {cpu:6.1f}), "
            f"wall {wall:6.1f} µs/order"
        )
    return best


def _bench_orders() -> None:
    print(
        f"(c) typed order path, client CPU per order (LIMIT IOC BUY below the market, "
        f"newOrderRespType FULL): {ORDER_N} sequential orders x {ORDER_ROUNDS} rounds (best round), "
        f"after {WARMUP} warm-up orders; simulator in its own process",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, SimProcess(_cpu_config()) as sim:
        best = asyncio.run(_order_main(sim, os.path.join(tmp, "orders.db")))
    place, call, floor = best.values()
    goal(
        "place_order() with a file journal vs call(), same order",
        f"{place:.1f} µs CPU/order ({place / call:.2f}x)",
        f"call() {call:.1f} µs CPU/order",
        f"<= {ORDER_GOAL}x",
        place / call <= ORDER_GOAL,
    )
    goal(
        "call() on POST /api/v3/order vs a hand-written asyncio client",
        f"{call:.1f} µs CPU/order ({call / floor:.2f}x)",
        f"floor {floor:.1f} µs CPU/order",
        f"<= {ORDER_GOAL}x",
        call / floor <= ORDER_GOAL,
    )


def run() -> None:
    _bench_saturation()
    _bench_edges()
    _bench_cpu()
    _bench_orders()


if __name__ == "__main__":
    run()
