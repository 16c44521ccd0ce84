"""REST through the gateway: the same answers as from the simulator, byte for byte but the rate
headers; one budget for the IP; signatures intact (rest-api.md §SIGNED endpoint security)."""

from __future__ import annotations

import pytest
from tests.sim.helpers import Api, limit_buy, msg

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import Simulator

from .conftest import upstream_paths


async def test_unsigned_read_is_forwarded_unchanged(gw_api: Api, sim_api: Api) -> None:
    via = await gw_api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
    direct = await sim_api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
    assert via.status == 200 and GATEWAY_HEADER not in via.headers
    via.body.pop("serverTime"), direct.body.pop("serverTime")
    assert via.body == direct.body
    assert "X-MBX-USED-WEIGHT-1M" in via.headers


async def test_signed_order_keeps_its_signature(gw_api: Api, sim_api: Api) -> None:
    """Query-string and body-signed requests both arrive with a valid signature."""
    placed = await gw_api.order(**limit_buy("0.001", "20000"))
    assert placed.status == 200, placed.body
    in_body = await gw_api.call(
        "DELETE",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]},
        signed=True,
        in_body=True,
    )
    assert in_body.status == 200 and in_body.body["status"] == "CANCELED", in_body.body
    truth = await sim_api.admin("orders?account=demo")
    assert [o["status"] for o in truth] == ["CANCELED"]


async def test_binance_errors_pass_through_untouched(gw_api: Api) -> None:
    bad = await gw_api.order(**limit_buy("10", "20000"))  # more than the balance
    assert bad.status == 400 and bad.code == -2010
    assert GATEWAY_HEADER not in bad.headers
    wrong_sig = await gw_api.call(
        "GET", "/api/v3/account", {"signature": "00"}, signed=False, api_key=gw_api.api_key
    )
    assert wrong_sig.status == 400 and wrong_sig.code is not None


async def test_every_path_is_forwarded(gateway: Gateway, gw_api: Api) -> None:
    """/sapi and unknown paths go upstream as they are: a /sapi call the simulator serves (so
    ccxt starts) comes back as it answered, and an unknown one gets its 404 -1020 (its request
    log keeps only its own routes, so the gateway's upstream counter is the witness)."""
    served = await gw_api.get("/sapi/v1/system/status")
    assert served.status == 200 and served.body == {"status": 0, "msg": "normal"}
    reply = await gw_api.get("/sapi/v1/no/such/thing")
    assert reply.status == 404 and reply.body["code"] == -1020
    assert GATEWAY_HEADER not in reply.headers
    assert gateway.metrics.requests.labels("other", "404")._value.get() == 1


async def test_rate_headers_show_the_ip_wide_use(
    gateway: Gateway, gw_api: Api, sim_api: Api
) -> None:
    """Weight spent directly (another program on the IP) shows in the next gateway answer."""
    await sim_api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000})  # 250
    reply = await gw_api.get("/api/v3/ping")
    assert int(reply.headers["X-MBX-USED-WEIGHT-1M"]) >= 251
    assert reply.headers["X-MBX-USED-WEIGHT"] == reply.headers["X-MBX-USED-WEIGHT-1M"]
    snap = await gateway.gate.snapshot()
    weight = next(u for u in snap.usage if u.limit.key == "REQUEST_WEIGHT:1M")
    assert weight.used >= 251  # corrected from the header


async def test_limits_and_clock_come_from_upstream(gateway: Gateway, sim: Simulator) -> None:
    assert gateway.gate.limits_from_upstream
    assert gateway.gate.sync.synced
    assert abs(gateway.gate.now_ms() - sim.state.clock.now_ms()) < 200
    start = upstream_paths(sim)
    assert set(start) == {"/api/v3/time", "/api/v3/exchangeInfo"}  # a few time samples first
    assert start[-1] == "/api/v3/exchangeInfo" and 1 <= start.count("/api/v3/time") <= 4


@pytest.mark.parametrize("path", ["/status", "/metrics"])
async def test_own_pages_never_go_upstream(gw_api: Api, sim: Simulator, path: str) -> None:
    before = len(upstream_paths(sim))
    reply = await gw_api.get(path)
    assert reply.status == 200
    assert len(upstream_paths(sim)) == before


def test_msg_helper_matches_catalog() -> None:
    assert msg(-1003, 0) == "Too many requests queued."


async def test_rate_headers_include_what_other_bots_have_in_flight(
    gateway: Gateway, gw_api: Api
) -> None:
    """Weight reserved by requests still on their way (other bots behind the gateway) is not
    in Binance's count yet; the bot is shown the larger, IP-wide figure (legacy header too)."""
    from binguard.gateway._costs import Cost

    held = await gateway.gate.budget.acquire(Cost(300), deadline=None)  # in flight elsewhere
    try:
        reply = await gw_api.get("/api/v3/ping")
    finally:
        await gateway.gate.budget.settle(held, ok=False)
    assert int(reply.headers["X-MBX-USED-WEIGHT-1M"]) >= 300
    assert reply.headers["X-MBX-USED-WEIGHT"] == reply.headers["X-MBX-USED-WEIGHT-1M"]
