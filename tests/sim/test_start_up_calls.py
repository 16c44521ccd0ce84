"""The start-up calls outside /api/v3 that ccxt and freqtrade make (sim/sapi.py), and the one line
on stderr for each path the simulator does not serve."""

from __future__ import annotations

import pytest

from binguard.sim import Simulator

from .helpers import Api, msg


async def test_wallet_calls_describe_the_simulated_assets(sim: Simulator, api: Api) -> None:
    coins = await api.get("/sapi/v1/capital/config/getall", signed=True)
    assert coins.status == 200
    by_coin = {c["coin"]: c for c in coins.body}
    assert set(by_coin) == {"BTC", "USDT", "ETH"}
    assert by_coin["USDT"]["free"] == "100000.00000000"
    assert by_coin["BTC"]["networkList"][0]["network"] == "BTC"
    fees = await api.get("/sapi/v1/asset/tradeFee", {"symbol": "ETHBTC"}, signed=True)
    assert fees.body == [
        {"symbol": "ETHBTC", "makerCommission": "0.0010", "takerCommission": "0.0010"}
    ]
    all_fees = await api.get("/sapi/v1/asset/tradeFee", signed=True)
    assert [f["symbol"] for f in all_fees.body] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]


async def test_margin_futures_and_status(api: Api) -> None:
    assert (await api.get("/sapi/v1/margin/allPairs")).body == []
    assert (await api.get("/sapi/v1/margin/isolated/allPairs", signed=True)).body == []
    assert (await api.get("/sapi/v1/spot/delist-schedule", signed=True)).body == []
    assert (await api.get("/sapi/v1/system/status")).body == {"status": 0, "msg": "normal"}
    for path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):
        info = (await api.get(path)).body
        assert info["symbols"] == [] and info["timezone"] == "UTC"


async def test_signed_wallet_calls_check_the_signature(api: Api) -> None:
    unsigned = await api.get("/sapi/v1/capital/config/getall")
    assert (unsigned.status, unsigned.code) == (400, -1102)
    stranger = await api.get("/sapi/v1/asset/tradeFee", signed=True, api_key="unknownkey")
    assert (stranger.status, stranger.code) == (401, -2015)  # as on /api/v3 (auth.py)


async def test_unknown_paths_are_404_and_printed_once(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        reply = await api.get("/sapi/v1/lending/daily/product/list")
        assert (reply.status, reply.code, reply.msg) == (404, -1020, msg(-1020))
    other = await api.raw("POST", "/fapi/v1/order")
    assert other.status == 404
    lines = capsys.readouterr().err.splitlines()
    assert lines.count("not served by binguard sim: GET /sapi/v1/lending/daily/product/list") == 1
    assert "not served by binguard sim: POST /fapi/v1/order" in lines
