"""The connector's candle stream: text frame → typed `Candle` event, next to `orjson.loads` alone.

Frame shape: a combined-stream kline frame as Binance (and the simulator) sends it,
`{"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E", "s", "k": {17 fields}}}` with
8-decimal price and volume strings, about 360 bytes (web-socket-streams.md §Kline/Candlestick
Streams): 20,000 successive updates of 1m candles (30 per candle, as pushed every 2 s; see
`frames`), the same list for both sides.

Connector side, "decode + typed event": the transport's frame decoder (`decode_text`: json's
answer exactly, through orjson when that gives the same), `MarketStreams` dispatch (what the
supervisor calls for a data frame), `Subscription.on_event` (a Candle: 8 Decimals, 4 ints,
`closed`; a `StreamEvent`; the bounded queue) and the reader taking the event off the queue.
Shown beside it, without a goal: the same through the supervisor's whole `on_text` (its checks
for request answers, serverShutdown and rotation repeats added). The socket read is left out:
frames are handed over on a link without a socket. Peer: `orjson.loads` of each frame alone. The two alternate chunk by chunk; the fastest chunk of each counts. Goal: the connector at >= 0.25x the peer.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import orjson

from binguard.connector.market_models import Candle
from binguard.connector.streams import MarketStreams, Subscription
from binguard.transport.ws import decode_text
from binguard.transport.ws_link import WsLink

from ._goals import goal

FRAMES = 20_000
ROUNDS = 10
CHUNK = 200
GOAL = 0.25
STREAM = "btcusdt@kline_1m"


def frames(n: int = FRAMES) -> list[str]:
    """`n` kline frames of one symbol as Binance pushes a 1m candle (every 2 s: 30 updates a
    candle): the open fixed, high and low running, the close a random walk on a 0.01 tick,
    trade count and volumes growing; the last update of each candle closes it (`x`)."""
    rng = random.Random(7)
    close = 30_000.0
    out = []
    for i in range(n):
        t = 1_700_000_000_000 + (i // 30) * 60_000
        if i % 30 == 0:  # a new candle opens at the last close
            o = hi = lo = close
            v = vb = q = qb = 0.0
            trades = 0
        close = round(close + rng.choice((-2, -1, 0, 1, 2)) * 0.01, 2)
        hi, lo = max(hi, close), min(lo, close)
        qty = rng.uniform(0.01, 2.0)
        v, q, trades = v + qty, q + qty * close, trades + rng.randint(1, 9)
        if rng.random() < 0.5:
            vb, qb = vb + qty, qb + qty * close
        k = {
            "t": t, "T": t + 59_999, "s": "BTCUSDT", "i": "1m", "f": 1_000_000 + i * 5,
            "L": 1_000_000 + i * 5 + trades, "o": f"{o:.8f}", "c": f"{close:.8f}",
            "h": f"{hi:.8f}", "l": f"{lo:.8f}", "v": f"{v:.8f}", "n": trades,
            "x": i % 30 == 29, "q": f"{q:.8f}", "V": f"{vb:.8f}", "Q": f"{qb:.8f}", "B": "0",
        }  # fmt: skip
        data = {"e": "kline", "E": t + (i % 30) * 2000 + 7, "s": "BTCUSDT", "k": k}
        out.append(json.dumps({"stream": STREAM, "data": data}, separators=(",", ":")))
    return out


def _peer_round(raw: list[str]) -> float:
    loads = orjson.loads
    start = time.perf_counter()
    for text in raw:
        loads(text)
    return time.perf_counter() - start


async def _rates(raw: list[str]) -> tuple[float, float, float, int]:
    """Frames/s of (the peer, decode + typed event, the whole on_text path) and the candles
    closed: the frames go in chunks of `CHUNK`, each timed for every side in turn, so a busy
    moment of the (shared) machine hits all alike; each side's rate is its fastest chunk's."""
    # A real MarketStreams and Subscription; its socket's supervisor aims at a closed port and
    # never connects (no socket: the frames are handed over directly).
    streams = MarketStreams("ws://127.0.0.1:9")
    sub = Subscription(streams, [STREAM], maxsize=FRAMES + 1)
    sup = streams.shards[0]
    link = WsLink(sup, None, 1, "ws://127.0.0.1:9/stream")  # type: ignore[arg-type]
    on_text, dispatch, take = sup.on_text, streams._dispatch, sub.get_nowait
    chunks = [raw[i : i + CHUNK] for i in range(0, len(raw), CHUNK)]
    best = [float("inf")] * 3
    closed = 0
    try:
        for _ in range(ROUNDS):
            closed = 0
            for chunk in chunks:
                best[0] = min(best[0], _peer_round(chunk))
                start = time.perf_counter()
                for text in chunk:
                    dispatch(decode_text(text))
                    closed += take().value.closed
                best[1] = min(best[1], time.perf_counter() - start)
                start = time.perf_counter()
                for text in chunk:
                    on_text(link, text)
                    take()
                best[2] = min(best[2], time.perf_counter() - start)
        assert sub.malformed == 0
        assert sub.dropped == 0
        assert isinstance(take_last(raw), Candle)
    finally:
        sub.close()
        await streams.close()
    return CHUNK / best[0], CHUNK / best[1], CHUNK / best[2], closed


def take_last(raw: list[str]) -> Candle:
    """The last frame decoded on its own (a check that the path produced what it should)."""
    return Candle.from_stream(orjson.loads(raw[-1])["data"])


def run() -> None:
    raw = frames()
    size = sum(map(len, raw)) / len(raw)
    peer, rate, whole, closed = asyncio.run(_rates(raw))
    assert closed == FRAMES // 30  # every 30th update closes its candle
    print(f"candle stream, {FRAMES:,} combined-stream kline frames of {size:.0f} bytes:")
    print(f"   orjson.loads only                           {peer:12,.0f} frames/s")
    print(f"   decode + typed Candle event to the reader   {rate:12,.0f} frames/s")
    print(
        f"   the same through the supervisor's on_text   {whole:12,.0f} frames/s"
        f"  (ratio {whole / peer:.2f}; request, shutdown and rotation checks added)"
    )
    goal(
        "candle stream: decode + typed Candle event",
        f"{rate:,.0f} frames/s",
        f"orjson.loads alone {peer:,.0f} frames/s (ratio {rate / peer:.2f})",
        f">= {GOAL}x orjson.loads",
        rate >= GOAL * peer,
    )
