"""The log lines of ../shared/seeds (Hummingbot's Binance troubleshooting page) classify correctly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from binguard.errors import (
    ClockSkewError,
    ConnectionDroppedError,
    IpBannedError,
    RateLimitedError,
    Recovery,
    RequestTimeoutError,
    TransportError,
    classify_text,
)


def test_econnreset_line() -> None:
    err = classify_text(
        "hummingbot.core.utils.async_call_scheduler - WARNING - API call error:\n"
        "('Connection aborted.', OSError(\"(104, 'ECONNRESET')\",))"
    )
    assert isinstance(err, ConnectionDroppedError)
    assert err.may_have_executed
    assert err.recovery is Recovery.RECONCILE


def test_trades_update_reset_line() -> None:
    err = classify_text(
        "[BASE][QUOTE]: ('Connection aborted.', OSError(\"(104, 'ECONNRESET')\",))."
    )
    assert isinstance(err, ConnectionDroppedError)


@pytest.mark.parametrize(
    ("line", "cls"),
    [
        ("AttributeError: 'ConnectionError' object has no attribute 'code'", TransportError),
        ("AttributeError: 'TimeoutError' object has no attribute 'code'", RequestTimeoutError),
    ],
)
def test_attribute_error_crash_names_the_network_failure(line: str, cls: type) -> None:
    assert isinstance(classify_text(line), cls)


def test_clock_line() -> None:
    err = classify_text(
        "binance.exceptions.BinanceAPIException: APIError(code=-1021): "
        "Timestamp for this request is outside of the recvWindow."
    )
    assert isinstance(err, ClockSkewError)
    assert err.code == -1021
    assert err.template == "Timestamp for this request is outside of the recvWindow."
    assert err.recovery is Recovery.RESYNC_CLOCK


def test_ban_line_old_wording_without_final_period() -> None:
    err = classify_text(
        "binance.exceptions.BinanceAPIException: APIError(code=-1003): Way too much request weight "
        "used; IP banned until 1573987680818. Please use the websocket for live updates to avoid bans"
    )
    assert isinstance(err, IpBannedError)
    assert err.banned_until == datetime(2019, 11, 17, 10, 48, 0, 818000, tzinfo=UTC)
    assert err.recovery is Recovery.WAIT_FOR_BAN_END


@pytest.mark.parametrize(
    ("line", "limit", "seconds"),
    [
        ("Too many requests queued.", None, None),
        (
            "Too much request weight used; please use the websocket for live updates to avoid "
            "polling the API.",
            None,
            None,
        ),
        (
            "Too much request weight used; current limit is 1200 request weight per 1 MINUTE. "
            "Please use the websocket for live updates to avoid polling the API.",
            1200,
            60,
        ),
    ],
)
def test_old_1003_wordings_without_code(line: str, limit: int | None, seconds: int | None) -> None:
    err = classify_text(line)
    assert isinstance(err, RateLimitedError) and not isinstance(err, IpBannedError)
    assert err.code == -1003
    assert err.limit == limit
    assert (err.interval.seconds if err.interval else None) == seconds


def test_plain_text_is_not_an_error() -> None:
    assert classify_text("hummingbot.market.binance - INFO - Placed order BUY 0.1 BTC") is None


@pytest.mark.parametrize(
    ("line", "code", "status"),
    [
        # binguard's own str(error), as it lands in a log
        (
            "[-1021 INVALID_TIMESTAMP] Timestamp for this request is outside of the recvWindow. (HTTP 400, POST /api/v3/order)",
            -1021,
            400,
        ),
        # the old official connector's ClientError tuple
        (
            "binance.error.ClientError: (400, -2010, 'Account has insufficient balance for requested action.', {'Content-Type': 'application/json'})",
            -2010,
            400,
        ),
    ],
)
def test_wrapped_forms_carry_code_and_status(line: str, code: int, status: int) -> None:
    err = classify_text(line)
    assert err is not None
    assert (err.code, err.http_status) == (code, status)
    assert err.template is not None


def test_message_index_and_network_vocabulary() -> None:
    from binguard.errors import classify_network, has_catalog_message

    assert has_catalog_message("ERROR: Signature for this request is not valid.")
    assert not has_catalog_message("INFO: signature computed in 3 ms")
    assert isinstance(
        classify_network("aiohttp.ServerDisconnectedError: Server disconnected"),
        ConnectionDroppedError,
    )
    assert isinstance(
        classify_network("requests.exceptions.ReadTimeout: Read timed out."), RequestTimeoutError
    )
    assert classify_network("order rejected: insufficient balance") is None
    # Binance's own -1007 wording mentions a timeout, and classify_text knows it is -1007:
    err = classify_text(
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
    )
    assert err is not None and err.code == -1007
