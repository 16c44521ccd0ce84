"""Hypothesis properties of the error core: templates round-trip, classify() is total."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binguard.errors import (
    BinanceError,
    ClockSkewError,
    Interval,
    catalog,
    classify,
    classify_text,
)

TEMPLATES = [
    (entry.code, t)
    for entry in catalog().values()
    for t in entry.templates
    if t.params and t.filter is None and t.message != "Filter failure: %s"
]
# Values that cannot be confused with a template's literal text (no quotes, periods, brackets).
SAFE_TEXT = st.text(
    alphabet=st.characters(categories=["L", "N"], max_codepoint=0x2FF), min_size=1, max_size=12
)


def _value_for(name: str, draw: st.DrawFn) -> tuple[str, Any]:
    """A rendered placeholder value and what the typed parameter must come back as."""
    if name == "banned_until":
        ms = draw(st.integers(min_value=1_500_000_000_000, max_value=4_000_000_000_000))
        return str(ms), datetime.fromtimestamp(ms / 1000, tz=UTC)
    if name in ("limit", "hours", "expected", "read", "sent", "maximum", "interval_num"):
        n = draw(st.integers(min_value=0, max_value=10**9))
        return str(n), n
    if name == "interval":
        num = draw(st.integers(min_value=1, max_value=1000))
        unit = draw(st.sampled_from(["SECOND", "MINUTE", "HOUR", "DAY"]))
        return f"{num} {unit}", Interval(num, unit)
    if name == "interval_unit":
        unit = draw(st.sampled_from(["SECOND", "MINUTE", "HOUR", "DAY"]))
        return unit, unit
    text = draw(SAFE_TEXT)
    return text, text


@st.composite
def rendered(draw: st.DrawFn) -> tuple[int, Any, str, dict[str, Any]]:
    code, template = draw(st.sampled_from(TEMPLATES))
    pieces = re.split(r"(%s|%d|\{param\})", template.message)
    values: dict[str, Any] = {}
    out = []
    names = iter(template.params)
    for piece in pieces:
        if piece in ("%s", "%d", "{param}"):
            name = next(names)
            if piece == "%d":
                n = draw(st.integers(min_value=0, max_value=10**6))
                text, typed = str(n), n
            else:
                text, typed = _value_for(name, draw)
            values[name] = typed
            out.append(text)
        else:
            out.append(piece)
    if "interval_num" in values and "interval_unit" in values:
        values["interval"] = Interval(values.pop("interval_num"), values.pop("interval_unit"))
    return code, template, "".join(out), values


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(rendered())
def test_templates_round_trip(case: tuple[int, Any, str, dict[str, Any]]) -> None:
    code, template, msg, values = case
    body = json.dumps({"code": code, "msg": msg}, separators=(",", ":")).encode()
    err = classify(body)
    assert err is not None and err.code == code
    assert err.template == template.message
    assert dict(err.params) == values
    # The same message inside a log line comes back the same.
    line = f"2024-05-01 12:00:00,123 ERROR APIError(code={code}): {msg}"
    from_log = classify_text(line)
    assert from_log is not None and from_log.code == code
    assert dict(from_log.params) == values


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["code", "msg", "error", "status", "data", "x"]) | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


class WeirdError(Exception):
    """An exception whose attributes lie about their types, like some clients' do."""

    def __init__(self, code: object, message: object, status: object) -> None:
        super().__init__("weird")
        self.code = code
        self.message = message
        self.status_code = status


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("broken __str__")


class LyingResponse:
    """Looks like a response; its headers blow up when read."""

    status = 503

    @property
    def headers(self) -> dict[str, str]:
        raise ValueError("headers unavailable")

    body = b"<html>oops</html>"


anything = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    json_values,
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(WeirdError, json_values, json_values, json_values),
    st.builds(ValueError, st.text(max_size=100)),
    st.just(BrokenStr()),
    st.just(LyingResponse()),
    st.just(object()),
    st.integers(),
    # Huge inputs: a drawn snippet repeated past classify()'s 64 KiB reading limit.
    st.text(min_size=1, max_size=40, alphabet='code=-1021 {}"msg:').map(lambda s: s * 3000),
    st.binary(min_size=1, max_size=40).map(lambda b: b * 3000),
)


@settings(
    max_examples=600, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(anything)
def test_classify_is_total(x: object) -> None:
    logger = logging.getLogger("binguard.errors")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        result = classify(x)
    finally:
        logger.removeHandler(handler)
    assert result is None or isinstance(result, BinanceError)
    # The safety net in classify() must never be what kept it from raising.
    assert not records, records[0].getMessage()
    if result is not None:
        repr(result), str(result), result.as_dict(), result.recovery


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"{}", b"[]", b"null", b'{"code":"x","msg":1}', b'{"code":-1021}', b"\xff\xfe"],
)
def test_odd_bodies_without_status_give_none_or_error(body: bytes) -> None:
    """Only a body that names a Binance code is an error; the rest describe none."""
    result = classify(body)
    if body == b'{"code":-1021}':
        assert isinstance(result, ClockSkewError)
    else:
        assert result is None
