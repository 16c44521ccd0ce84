"""Subscribing to user data is charged to the rate budget at Binance's documented weights.

web-socket-api.md: connecting costs 2 weight; `session.logon` 2 and `userDataStream.subscribe`
2 (Ed25519 keys); `userDataStream.subscribe.signature` 2 (any key). Each (re)subscription must
raise the connector's REQUEST_WEIGHT count by exactly that, and the simulator's count for the
IP (its ground truth) by the same amount: the budget neither misses the requests nor double
counts them when it applies their `rateLimits`.
"""

from __future__ import annotations

import pytest

from binguard.connector.client import SpotConnector
from binguard.connector.userdata import UserDataStream
from binguard.sim import Simulator

from .ws_support import MakeConnector, until, wconnect, wsim

__all__ = ["wconnect", "wsim"]  # fixtures

CONNECT, LOGON, SUBSCRIBE, SUBSCRIBE_SIGNATURE = 2, 2, 2, 2


async def weight(bn: SpotConnector) -> tuple[int, int, int]:
    """(window, used, in flight) of the budget's REQUEST_WEIGHT per minute."""
    assert bn.budget is not None
    for usage in (await bn.budget.snapshot()).usage:
        if usage.limit.key == "REQUEST_WEIGHT:1M":
            return usage.window, usage.used, usage.in_flight
    raise AssertionError("no REQUEST_WEIGHT:1M limit")


def server_weight(sim: Simulator) -> int:
    ips = sim.state.limits.snapshot(sim.state.clock.now_ms())["ips"]
    assert isinstance(ips, dict) and len(ips) == 1  # one client IP: the count is ours
    count = next(iter(ips.values()))["weight"]["1M"]
    assert isinstance(count, int)
    return count


async def resubscribe(ud: UserDataStream) -> None:
    """Drop the socket; wait for the next one to subscribe and catch up."""
    catch_ups, connects = ud.catch_ups, ud.sup.stats.connects
    ud.sup.drop("test: resubscribe")
    await until(
        lambda: ud.healthy and ud.sup.stats.connects > connects and ud.catch_ups > catch_ups,
        what="subscribed again",
    )


@pytest.mark.parametrize(
    ("key_index", "expected"),
    [(0, CONNECT + SUBSCRIBE_SIGNATURE), (1, CONNECT + LOGON + SUBSCRIBE)],
    ids=["hmac-subscribe-signature", "ed25519-logon-subscribe"],
)
async def test_each_subscription_costs_its_documented_weight(
    wsim: Simulator, wconnect: MakeConnector, key_index: int, expected: int
) -> None:
    bn = await wconnect(key_index)
    # No symbols, no orders: the catch-up after each (re)subscription sends nothing over REST.
    ud = await bn.start_user_data()
    await until(lambda: ud.healthy and ud.catch_ups >= 1, what="subscribed")
    assert ud.logon is (key_index == 1)
    for _ in range(3):  # a minute boundary between the two readings: measure again
        window, before, _ = await weight(bn)
        server_before = server_weight(wsim)
        await resubscribe(ud)
        now_window, after, in_flight = await weight(bn)
        server_after = server_weight(wsim)
        if now_window == window and server_after >= server_before:
            break
    else:
        pytest.fail("three minute boundaries in a row")
    assert in_flight == 0  # every ticket settled
    assert after - before == expected
    assert server_after - server_before == expected  # what the simulator charged this IP
    assert bn.stats.errors_by_code == {}
