"""Klines and uiKlines over loopback (rest-api.md §Kline/Candlestick data, §UIKlines): history at
start-up, every interval's boundaries, timeZone, startTime/endTime/limit, validation, weights."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from binguard.sim import SimConfig, Simulator

from .helpers import INTERVAL_MS, Api, msg, own_window


async def test_a_thousand_5m_candles_at_start_up(sim: Simulator, api: Api) -> None:
    reply = await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "5m", "limit": 1000})
    assert reply.status == 200
    rows = reply.body
    assert len(rows) == 1000
    opens = [r[0] for r in rows]
    assert all(b - a == 300_000 for a, b in itertools.pairwise(opens))
    assert all(r[6] == r[0] + 299_999 and len(r) == 12 and r[11] == "0" for r in rows)
    now = sim.state.clock.now_ms()
    assert opens[-1] <= now < opens[-1] + 300_000  # the current, open candle comes last
    for r in rows:
        o, h, low, c = (float(x) for x in r[1:5])
        assert low <= min(o, c) <= max(o, c) <= h
        if r[0] < sim.state.market.tapes["BTCUSDT"].anchor:  # (later ones: no trades yet)
            assert float(r[5]) > 0 and r[8] > 0  # history carries volume and trades
    assert rows[-1][4] == "30000.00000000"  # history ends at the symbol's initial price
    again = await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "5m", "limit": 1000})
    assert again.body == rows  # deterministic


@pytest.mark.parametrize("interval", [*INTERVAL_MS, "1M"])
async def test_every_interval_is_aligned_and_continuous(
    sim: Simulator, api: Api, interval: str
) -> None:
    rows = (await api.get("/api/v3/klines", {"symbol": "ETHBTC", "interval": interval})).body
    assert rows, interval
    opens = [r[0] for r in rows]
    if interval == "1M":
        for r in rows:
            start = datetime.fromtimestamp(r[0] / 1000, UTC)
            assert (start.day, start.hour, start.minute) == (1, 0, 0)
    else:
        size = INTERVAL_MS[interval]
        shift = 4 * 86_400_000 if interval == "1w" else 0  # weeks open on Monday 00:00 UTC
        assert all((o - shift) % size == 0 for o in opens)
        assert all(b - a == size for a, b in itertools.pairwise(opens))
    assert all(r[6] + 1 == nxt for r, nxt in zip(rows, opens[1:], strict=False))


async def test_ui_klines_answer_the_same_rows(api: Api) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1h", "limit": 50}
    assert (await api.get("/api/v3/uiKlines", params)).body == (
        await api.get("/api/v3/klines", params)
    ).body


async def test_time_zone_moves_the_day_boundary(api: Api) -> None:
    utc = (await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1d"})).body
    plus8 = (
        await api.get(
            "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1d", "timeZone": "+08:00"}
        )
    ).body
    minus = (
        await api.get(
            "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "timeZone": "-5:45"}
        )
    ).body
    assert all(r[0] % 86_400_000 == 0 for r in utc)
    assert all(r[0] % 86_400_000 == 16 * 3_600_000 for r in plus8)  # 00:00 at UTC+8
    assert all(r[0] % 3_600_000 == 45 * 60_000 for r in minus)  # hours at :45 UTC


async def test_start_end_and_limit(sim: Simulator, api: Api) -> None:
    recent = (await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"})).body
    assert len(recent) == 500  # default limit
    t = recent[100][0]
    base = {"symbol": "BTCUSDT", "interval": "1m"}
    # startTime inclusive on the open time; a start inside a candle begins at the next one
    frm = (await api.get("/api/v3/klines", {**base, "startTime": t, "limit": 3})).body
    assert [r[0] for r in frm] == [t, t + 60_000, t + 120_000]
    inside = (await api.get("/api/v3/klines", {**base, "startTime": t + 1, "limit": 1})).body
    assert inside[0][0] == t + 60_000
    until = (await api.get("/api/v3/klines", {**base, "endTime": t, "limit": 2})).body
    assert [r[0] for r in until] == [t - 60_000, t]
    both = (await api.get("/api/v3/klines", {**base, "startTime": t, "endTime": t + 120_000})).body
    assert [r[0] for r in both] == [t, t + 60_000, t + 120_000]
    equal = (await api.get("/api/v3/klines", {**base, "startTime": t, "endTime": t})).body
    assert [r[0] for r in equal] == [t]
    assert frm == recent[100:103] and until == recent[99:101]
    capped = (await api.get("/api/v3/klines", {**base, "limit": 5000})).body
    assert len(capped) == 1000  # Maximum: 1000
    reversed_range = await api.get("/api/v3/klines", {**base, "startTime": t, "endTime": t - 1})
    assert reversed_range.body == []


async def test_one_second_candles_cover_recent_hours(sim: Simulator, api: Api) -> None:
    rows = (
        await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1s", "limit": 1000})
    ).body
    assert len(rows) == 1000
    minute = rows[0][0] // 60_000 * 60_000 + 60_000
    seconds = [r for r in rows if minute <= r[0] < minute + 60_000]
    one = (
        await api.get(
            "/api/v3/klines",
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": minute, "limit": 1},
        )
    ).body[0]
    assert minute + 60_000 <= sim.state.market.tapes["BTCUSDT"].anchor  # wholly history
    assert len(seconds) == 60
    assert one[1] == seconds[0][1] and one[4] == seconds[-1][4]
    assert one[2] == max((s[2] for s in seconds), key=float)
    assert one[3] == min((s[3] for s in seconds), key=float)
    assert one[8] == sum(s[8] for s in seconds)


async def test_weight_is_two(sim: Simulator, api: Api) -> None:
    own_window(sim, api)
    first = await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"})
    second = await api.get("/api/v3/uiKlines", {"symbol": "BTCUSDT", "interval": "1m"})
    used = int(first.headers["X-MBX-USED-WEIGHT-1M"])
    assert int(second.headers["X-MBX-USED-WEIGHT-1M"]) == used + 2


@pytest.mark.parametrize("path", ["/api/v3/klines", "/api/v3/uiKlines"])
@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("interval=1m", -1102, msg(-1102, 1, "symbol")),
        ("symbol=BTCUSDT", -1102, msg(-1102, 1, "interval")),
        ("symbol=NOPE&interval=1m", -1121, msg(-1121)),
        ("symbol=BTCUSDT&interval=2m", -1120, msg(-1120)),
        ("symbol=BTCUSDT&interval=1D", -1120, msg(-1120)),  # case-sensitive
        ("symbol=BTCUSDT&interval=1m&timeZone=15", -1130, msg(-1130, 1, "timeZone")),
        ("symbol=BTCUSDT&interval=1m&timeZone=-12:30", -1130, msg(-1130, 1, "timeZone")),
        ("symbol=BTCUSDT&interval=1m&timeZone=8h", -1130, msg(-1130, 1, "timeZone")),
        ("symbol=BTCUSDT&interval=1m&limit=0", -1130, msg(-1130, 1, "limit")),
        (
            "symbol=BTCUSDT&interval=1m&startTime=x",
            -1100,
            msg(-1100, 1, "startTime", "^[0-9]{1,20}$"),
        ),
        ("symbol=BTCUSDT&interval=1m&foo=1", -1104, msg(-1104, 1, 2, 3)),
    ],
)
async def test_validation(api: Api, path: str, query: str, code: int, message: str) -> None:
    reply = await api.raw("GET", path, query=query)
    assert (reply.status, reply.code, reply.msg) == (400, code, message)


@pytest.mark.parametrize("zone", ["14:00", "-12:00", "0", "8", "05:45", "+08:00"])
async def test_accepted_time_zones(api: Api, zone: str) -> None:
    reply = await api.get(
        "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "timeZone": zone}
    )
    assert reply.status == 200 and reply.body


@pytest.mark.parametrize("interval", ["1M", "1w", "1s"])
@pytest.mark.parametrize(
    "times",
    [
        {"startTime": "99999999999999999999"},
        {"endTime": "-99999999999999999999"},
        {"startTime": "-99999999999999999999", "limit": 2},
        {"startTime": "0", "endTime": "99999999999999999999", "limit": 1},
    ],
)
async def test_absurd_times_answer_cleanly(
    sim: Simulator, api: Api, interval: str, times: dict[str, str]
) -> None:
    """Far past or future times: an empty list or the oldest candles, never a server error."""
    reply = await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": interval, **times})
    assert reply.status == 200 and isinstance(reply.body, list)
    if "startTime" in times and times["startTime"] != "99999999999999999999":
        oldest = await api.get(
            "/api/v3/klines",
            {"symbol": "BTCUSDT", "interval": interval, "startTime": 0, "limit": 1},
        )
        assert reply.body[:1] == oldest.body


async def test_history_length_is_configurable(session: Any) -> None:
    config = SimConfig.from_mapping(
        {
            "flow": {"interval_ms": 0},
            "market": {"history_days": 2, "second_hours": 1, "hourly_days": 5},
        }
    )
    assert (config.market.history_days, config.market.second_hours) == (2, 1)
    with pytest.raises(ValueError, match="history_weeks"):
        SimConfig.from_mapping({"market": {"history_weeks": 2}})
    async with Simulator(config) as sim:
        api = Api(session, sim.url)
        minutes = (
            await api.get(
                "/api/v3/klines",
                {"symbol": "BTCUSDT", "interval": "1m", "limit": 1, "startTime": 0},
            )
        ).body
        hours = (
            await api.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 1000})
        ).body
        seconds = (
            await api.get(
                "/api/v3/klines",
                {"symbol": "BTCUSDT", "interval": "1s", "limit": 1000, "startTime": 0},
            )
        ).body
        anchor = sim.state.market.tapes["BTCUSDT"].anchor
        assert minutes[0][0] == anchor - 2 * 86_400_000  # 1m: two days before the start
        start = anchor - 5 * 86_400_000  # 1h and more: five days
        assert hours[0][0] == start // 3_600_000 * 3_600_000  # the hour it falls in
        assert 5 * 24 <= len(hours) <= 5 * 24 + 2
        assert seconds[0][0] == anchor - 3_600_000  # 1s candles: the last hour before the start
