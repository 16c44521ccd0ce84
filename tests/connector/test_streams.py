"""Market data through `bn.stream(...)`: trade, bookTicker and depth, combined, changed live."""

from __future__ import annotations

import asyncio

import pytest

from binguard.connector.streams import StreamEvent, Subscription, stream_name
from binguard.errors import IpBannedError
from binguard.sim import Simulator

from .conftest import MakeConnector, Market, load_faults, until
from .ws_support import assert_streams_on_sim


async def next_of(sub: Subscription, stream: str, wait_s: float = 5.0) -> StreamEvent:
    async def find() -> StreamEvent:
        while True:
            event = await sub.get()
            if event.stream == stream:
                return event

    return await asyncio.wait_for(find(), wait_s)


async def test_trade_book_ticker_and_depth_in_one_subscription(
    wsim: Simulator, wconnect: MakeConnector, market: Market
) -> None:
    bn = await wconnect()
    names = ["btcusdt@trade", "BTCUSDT@bookTicker", "ethusdt@depth"]
    async with bn.stream(*names) as sub:
        await sub.wait_subscribed(5)
        trade = await next_of(sub, "btcusdt@trade")
        assert trade.data["e"] == "trade" and trade.data["s"] == "BTCUSDT"
        ticker = await next_of(sub, "btcusdt@bookTicker")
        assert float(ticker.data["b"]) < float(ticker.data["a"])
        depth = await next_of(sub, "ethusdt@depth")
        assert depth.data["e"] == "depthUpdate" and depth.data["U"] <= depth.data["u"]
        await assert_streams_on_sim(
            wsim, [sorted(["btcusdt@trade", "btcusdt@bookTicker", "ethusdt@depth"])]
        )
    # leaving the block unsubscribed everything (the socket stays, empty)
    await assert_streams_on_sim(wsim, [[]])


async def test_no_stream_socket_is_opened_during_a_known_ban(
    wsim: Simulator, wconnect: MakeConnector, market: Market
) -> None:
    """A handshake reaches the banned IP too: once the connector knows of a ban (a 418), its
    market-stream socket waits for the ban's end (transport/ws.py asks the budget first)."""
    bn = await wconnect()
    load_faults(wsim, {"action": "http_418", "path": "/api/v3/ping", "times": 1, "ban_s": 1.0})
    with pytest.raises(IpBannedError):
        await bn.call("GET", "/api/v3/ping")
    ban_end = wsim.state.limits.ips["127.0.0.1"].banned_until_ms
    async with bn.stream("btcusdt@trade") as sub:
        await sub.wait_subscribed(10)
    connects = [
        r for r in wsim.state.requests if r.get("ws") == "stream" and r["method"] == "CONNECT"
    ]
    assert connects and connects[0]["time"] >= ban_end  # none during the ban


async def test_dynamic_subscribe_and_unsubscribe(
    wsim: Simulator, wconnect: MakeConnector, market: Market
) -> None:
    bn = await wconnect()
    async with bn.stream("btcusdt@trade") as sub:
        await sub.wait_subscribed(5)
        await sub.add("ethusdt@trade")
        await assert_streams_on_sim(wsim, [["btcusdt@trade", "ethusdt@trade"]])
        event = await next_of(sub, "ethusdt@trade")
        assert event.data["s"] == "ETHUSDT"
        await sub.remove("btcusdt@trade")
        await assert_streams_on_sim(wsim, [["ethusdt@trade"]])
        assert sub.names == ["ethusdt@trade"]


async def test_two_readers_share_a_stream(
    wsim: Simulator, wconnect: MakeConnector, market: Market
) -> None:
    bn = await wconnect()
    first = bn.stream("btcusdt@trade")
    second = bn.stream("btcusdt@trade")
    await first.wait_subscribed(5)
    assert (await next_of(first, "btcusdt@trade")).data["e"] == "trade"
    assert (await next_of(second, "btcusdt@trade")).data["e"] == "trade"
    first.close()
    # A barrier instead of a pause: the shard syncs its socket in order, so once a later stream
    # is subscribed there, anything the close made the connector send has reached the simulator.
    async with bn.stream("ethusdt@trade") as probe:
        await probe.wait_subscribed(5)
        # the other reader still needs it
        await assert_streams_on_sim(wsim, [["btcusdt@trade", "ethusdt@trade"]])
    await assert_streams_on_sim(wsim, [["btcusdt@trade"]])
    second.close()
    await assert_streams_on_sim(wsim, [[]])


async def test_resubscribed_after_every_reconnect(
    wsim: Simulator, wconnect: MakeConnector, market: Market
) -> None:
    load_faults(wsim, {"action": "ws_reset", "path": "/stream*", "after_s": 0.2, "times": 3})
    bn = await wconnect()
    seen: list[str] = []
    bn.on(lambda event: seen.append(event.kind))
    async with bn.stream("btcusdt@trade", "ethusdt@bookTicker") as sub:
        await until(lambda: bn.streams.shards[0].stats.reconnects == 3, what="3 reconnects")
        await sub.add("ethbtc@trade")
        await assert_streams_on_sim(wsim, [["btcusdt@trade", "ethbtc@trade", "ethusdt@bookTicker"]])
        await next_of(sub, "btcusdt@trade")
    assert seen.count("ws_disconnect") == 3 and seen.count("ws_reconnect") == 3
    assert seen.count("ws_connect") == 4


async def test_streams_are_sharded_over_sockets(
    wsim: Simulator, wconnect: MakeConnector, market: Market
) -> None:
    bn = await wconnect()
    bn.streams.max_streams = 2
    async with bn.stream("btcusdt@trade", "ethusdt@trade", "ethbtc@trade") as sub:
        await sub.wait_subscribed(5)
        await assert_streams_on_sim(wsim, [["btcusdt@trade", "ethusdt@trade"], ["ethbtc@trade"]])


def test_stream_names_are_checked() -> None:
    assert stream_name("BTCUSDT@bookTicker") == "btcusdt@bookTicker"
    with pytest.raises(ValueError, match="not a Binance stream name"):
        stream_name("btcusdt trade")
