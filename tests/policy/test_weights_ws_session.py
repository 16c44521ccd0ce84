"""WebSocket API methods with no REST twin: sessions and user data subscriptions.

Sources: web-socket-api.md §Authentication requests (session.logon, session.status,
session.logout: "Weight: 2"), §User Data Stream requests (userDataStream.subscribe,
userDataStream.unsubscribe: "Weight: 2"); binance-api-semantics.md §9 for
userDataStream.subscribe.signature and session.subscriptions (weight 2).
"""

from __future__ import annotations

import pytest

from binguard.policy import Cost, ws_api_cost
from binguard.policy.weights import WS_API
from binguard.sim.ws_api import METHODS as SIM_METHODS

AUTH = "web-socket-api.md §Authentication requests"
UDS = "web-socket-api.md §User Data Stream requests"
SEM9 = "binance-api-semantics.md §9"


@pytest.mark.parametrize(
    ("method", "params", "expected", "source"),
    [
        ("session.logon", {"apiKey": "k", "timestamp": 1, "signature": "s"}, Cost(2), AUTH),
        ("session.status", None, Cost(2), AUTH),
        ("session.logout", None, Cost(2), AUTH),
        ("userDataStream.subscribe", None, Cost(2), UDS),
        ("userDataStream.unsubscribe", None, Cost(2), UDS),
        ("userDataStream.unsubscribe", {"subscriptionId": 3}, Cost(2), UDS),
        (
            "userDataStream.subscribe.signature",
            {"apiKey": "k", "timestamp": 1, "recvWindow": 5000, "signature": "s"},
            Cost(2),
            SEM9,
        ),
        ("session.subscriptions", None, Cost(2), SEM9),
    ],
)
def test_session_and_user_data_weights(
    method: str, params: dict[str, object] | None, expected: Cost, source: str
) -> None:
    cost = ws_api_cost(method, params)
    assert cost == expected, source
    # Not orders, and nothing given back on success: only placements and cancels are free.
    assert cost.orders == 0 and cost.refund_if_ok == 0 and cost.raw == 1


@pytest.mark.parametrize(
    "method", ["userDataStream.start", "userDataStream.ping", "userDataStream.stop", "session.x"]
)
def test_retired_listen_key_methods_and_typos_stay_conservative(method: str) -> None:
    """Negative cases: the listenKey methods stopped working on 2026-02-20 (CL 2026-01-21) and
    are not in the table; a misspelt method is charged the deliberately high default."""
    assert method not in WS_API
    assert ws_api_cost(method) == Cost(80)


def test_the_simulator_charges_what_the_client_reserves() -> None:
    """Both tables come from the same doc, written independently (the simulator must not read
    the client's): every session / user data method weighs the same in both."""
    methods = [m for m in WS_API if m.startswith(("session.", "userDataStream."))]
    assert len(methods) == 7
    for method in methods:
        assert ws_api_cost(method).weight == SIM_METHODS[method].weight, method
