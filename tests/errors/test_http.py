"""Responses (status, headers, body) classify by Binance's documented HTTP rules (rest-api.md §HTTP
Return Codes, binance-api-semantics.md §1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from binguard.errors import (
    ClockSkewError,
    ExecutionUnknownError,
    HttpReply,
    IpBannedError,
    RateLimitedError,
    Recovery,
    RequestInfo,
    ServerBusyError,
    UnclassifiedError,
    WafBlockedError,
    classify,
    parse_rate_headers,
)

POST_ORDER = RequestInfo.of("POST", "/api/v3/order", {"symbol": "BTCUSDT", "signature": "abc"})
GET_DEPTH = RequestInfo.of("GET", "/api/v3/depth", {"symbol": "BTCUSDT"})


def test_429_carries_retry_after_and_weight() -> None:
    err = classify(
        HttpReply(
            429,
            {"Retry-After": "7", "X-MBX-USED-WEIGHT-1M": "6001", "x-mbx-used-weight-1s": "3"},
            b'{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request '
            b"weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
            b'the API."}',
        )
    )
    assert type(err) is RateLimitedError
    assert err.retry_after == 7.0
    assert err.used_weight == {"1M": 6001, "1S": 3}
    assert err.limit == 6000 and err.interval is not None and err.interval.seconds == 60
    assert err.recovery is Recovery.RETRY_AFTER


def test_418_is_a_ban_even_without_a_parsable_message() -> None:
    err = classify(HttpReply(418, {"Retry-After": "120"}, b""))
    assert isinstance(err, IpBannedError)
    assert err.retry_after == 120
    assert err.banned_until is not None and err.banned_until > datetime.now(tz=UTC)


def test_order_count_headers() -> None:
    rate = parse_rate_headers([("X-MBX-ORDER-COUNT-10S", "3"), ("X-MBX-ORDER-COUNT-1D", "40")])
    assert rate.order_count == {"10S": 3, "1D": 40}
    assert rate.used_weight == {} and rate.retry_after is None


@pytest.mark.parametrize("value", ["²", "١٢", "৩", "12²", "-1", "1.0", ""])
def test_a_count_that_is_not_ascii_digits_is_ignored(value: str) -> None:
    """str.isdigit() is True for "²" and other Unicode digits, which int() refuses: such a
    header must be passed over, never raise (a proxy or a test server may send anything)."""
    rate = parse_rate_headers({"X-MBX-USED-WEIGHT-1M": value, "X-MBX-ORDER-COUNT-10S": value})
    assert rate.used_weight == {} and rate.order_count == {}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_html_5xx_is_execution_unknown(status: int) -> None:
    page = f"<html><head><title>{status} Bad Gateway</title></head><body>nginx</body></html>"
    err = classify(HttpReply(status, {}, page.encode()), request=POST_ORDER)
    assert isinstance(err, ExecutionUnknownError)
    assert err.http_status == status
    assert err.msg == f"{status} Bad Gateway"
    assert err.recovery is Recovery.RECONCILE


def test_empty_503_for_a_read_is_retried() -> None:
    err = classify(HttpReply(503, {}, b""), request=GET_DEPTH)
    assert isinstance(err, ExecutionUnknownError)
    assert err.recovery is Recovery.RETRY


def test_busy_code_on_5xx_is_never_blindly_resent_for_an_order() -> None:
    body = b'{"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}'
    order = classify(HttpReply(503, {}, body), request=POST_ORDER)
    read = classify(HttpReply(503, {}, body), request=GET_DEPTH)
    assert isinstance(order, ServerBusyError) and isinstance(read, ServerBusyError)
    assert order.may_have_executed
    assert order.recovery is Recovery.RECONCILE
    assert read.recovery is Recovery.RETRY


def test_403_waf_page() -> None:
    err = classify(HttpReply(403, {}, b"<html><title>403 Forbidden</title></html>"))
    assert isinstance(err, WafBlockedError)


def test_404_page_is_unclassified() -> None:
    err = classify(HttpReply(404, {}, b"<html><title>Not Found</title></html>"))
    assert type(err) is UnclassifiedError


def test_success_is_not_an_error() -> None:
    assert classify(HttpReply(200, {}, b'{"serverTime": 1}')) is None
    assert classify(b'{"symbol":"BTCUSDT","orderId":1}') is None


def test_pretty_printed_body_takes_the_json_path() -> None:
    err = classify(
        b'{\n  "msg": "Timestamp for this request is outside of the recvWindow.",\n  "code": -1021\n}'
    )
    assert isinstance(err, ClockSkewError)


def test_ws_api_ban_frame() -> None:
    frame = {
        "id": "x",
        "status": 418,
        "error": {
            "code": -1003,
            "msg": "Way too much request weight used; IP banned until 1659146400000. Please use "
            "WebSocket Streams for live updates to avoid bans.",
            "data": {"serverTime": 1659142907531, "retryAfter": 1659146400000},
        },
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
                "count": 6003,
            }
        ],
    }
    err = classify(frame)
    assert isinstance(err, IpBannedError)
    assert err.banned_until == datetime(2022, 7, 30, 2, 0, tzinfo=UTC)
    assert err.retry_after == pytest.approx(3492.469)
    assert err.used_weight == {"1M": 6003}


def test_ws_api_401_revoked_session() -> None:
    err = classify(
        '{"id": null, "status": 401, "error": {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}}'
    )
    assert err is not None and err.code == -2015 and err.http_status == 401
    assert err.recovery is Recovery.FIX_CREDENTIALS


def test_duck_typed_response_object() -> None:
    class RequestsLikeResponse:
        status_code = 400
        headers = {"x-mbx-used-weight-1m": "10"}
        content = b'{"code":-1121,"msg":"Invalid symbol."}'

    err = classify(RequestsLikeResponse())
    assert err is not None and err.code == -1121 and err.used_weight == {"1M": 10}
