"""The endpoint table (policy/endpoints.py): one row per endpoint, read by costs, retries and the
connector. Rows cite rest-api.md / web-socket-api.md (security types in the section titles)."""

from __future__ import annotations

import pytest

from binguard.policy.endpoints import (
    BY_NAME,
    ENDPOINTS,
    REST,
    WS_API,
    Security,
    rest_endpoint,
    ws_endpoint,
)
from binguard.policy.retry import Attempt


@pytest.mark.parametrize(
    ("name", "rest", "ws", "security", "is_order", "is_read"),
    [
        # rest-api.md "New order (TRADE)"; web-socket-api.md order.place
        ("place", ("POST", "/api/v3/order"), "order.place", Security.TRADE, True, False),
        ("cancel", ("DELETE", "/api/v3/order"), "order.cancel", Security.TRADE, True, False),
        (
            "cancel_all",
            ("DELETE", "/api/v3/openOrders"),
            "openOrders.cancelAll",
            Security.TRADE,
            True,
            False,
        ),
        # "Test new order (TRADE)" changes nothing
        ("place_test", ("POST", "/api/v3/order/test"), "order.test", Security.TRADE, False, False),
        # "Query order (USER_DATA)", "Account information (USER_DATA)"
        ("query_order", ("GET", "/api/v3/order"), "order.status", Security.USER_DATA, False, True),
        ("account", ("GET", "/api/v3/account"), "account.status", Security.USER_DATA, False, True),
        ("depth", ("GET", "/api/v3/depth"), "depth", Security.NONE, False, True),
        # "New order using SOR (TRADE)" places an order; its test places none
        (
            "sor_place",
            ("POST", "/api/v3/sor/order"),
            "sor.order.place",
            Security.TRADE,
            True,
            False,
        ),
        (
            "sor_place_test",
            ("POST", "/api/v3/sor/order/test"),
            "sor.order.test",
            Security.TRADE,
            False,
            False,
        ),
        # "New OCO - Deprecated (TRADE)"; web-socket-api.md orderList.place
        (
            "oco_legacy",
            ("POST", "/api/v3/order/oco"),
            "orderList.place",
            Security.TRADE,
            True,
            False,
        ),
        (
            "allocations",
            ("GET", "/api/v3/myAllocations"),
            "myAllocations",
            Security.USER_DATA,
            False,
            True,
        ),
        # web-socket-api.md "Log in with API key (SIGNED)", "Subscribe to User Data Stream (USER_STREAM)"
        ("logon", None, "session.logon", Security.SIGNED, False, False),
        (
            "user_data_subscribe",
            None,
            "userDataStream.subscribe",
            Security.USER_STREAM,
            False,
            False,
        ),
    ],
)
def test_rows(
    name: str,
    rest: tuple[str, str] | None,
    ws: str | None,
    security: Security,
    is_order: bool,
    is_read: bool,
) -> None:
    row = BY_NAME[name]
    assert (row.rest, row.ws, row.security, row.is_order, row.is_read) == (
        rest,
        ws,
        security,
        is_order,
        is_read,
    )
    if rest is not None:
        assert rest_endpoint(*rest) is row
        assert REST[rest] is row.rule
    if ws is not None:
        assert ws_endpoint(ws) is row
        assert WS_API[ws] is row.rule


def test_names_paths_and_methods_are_unique() -> None:
    """One row per endpoint: no name, REST key or WebSocket method appears twice."""
    rests = [e.rest for e in ENDPOINTS if e.rest is not None]
    wss = [e.ws for e in ENDPOINTS if e.ws is not None]
    assert len({e.name for e in ENDPOINTS}) == len(ENDPOINTS)
    assert len(set(rests)) == len(rests) and len(set(wss)) == len(wss)


def test_signed_follows_the_security_type() -> None:
    assert BY_NAME["place"].signed and BY_NAME["account"].signed and BY_NAME["logon"].signed
    assert not BY_NAME["depth"].signed and not BY_NAME["user_data_subscribe"].signed


def test_unknown_requests_have_no_row() -> None:
    assert rest_endpoint("GET", "/api/v3/nope") is None and ws_endpoint("nope") is None
    assert rest_endpoint("get", "/api/v3/order/") is BY_NAME["query_order"]  # normalised


@pytest.mark.parametrize(
    ("method", "path", "is_order", "is_read"),
    [
        ("POST", "/api/v3/order", True, False),
        ("DELETE", "/api/v3/openOrders", True, False),
        ("GET", "/api/v3/order", False, True),
        ("order.place", "order.place", True, False),  # a WebSocket API method as the path
        ("order.status", "order.status", False, True),
        ("GET", "/api/v3/unknown", False, True),  # no row: the HTTP method decides
        ("POST", "/api/v3/unknown", False, False),
    ],
)
def test_the_retry_facts_come_from_the_table(
    method: str, path: str, is_order: bool, is_read: bool
) -> None:
    att = Attempt.of(method, path)
    assert (att.is_order, att.is_read) == (is_order, is_read)


def test_an_explicit_is_order_wins() -> None:
    """`call()` keeps its public `is_order=False` default: a caller's raw POST is not reconciled."""
    assert not Attempt.of("POST", "/api/v3/order", is_order=False).is_order
