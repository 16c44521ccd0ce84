"""The typed stream events' decoders (connector/market.py `decoder_for`) on hostile payloads:
whatever JSON arrives, a decoder answers its model or raises ResponseFormatError naming the
problem — never another exception, which would reach the socket's task. Pure functions: no
socket (the payloads a server could send are generated)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.connector import AggTrade, AvgPrice, BookTicker, Candle, PublicTrade, Ticker
from binguard.connector.market import decoder_for
from binguard.connector.models import ResponseFormatError

KLINE = {
    "e": "kline", "E": 1, "s": "BTCUSDT",
    "k": {"t": 0, "T": 59_999, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2, "o": "1.5",
          "c": "1.6", "h": "1.7", "l": "1.4", "v": "10", "n": 2, "x": False, "q": "15",
          "V": "5", "Q": "7.5", "B": "0"},
}  # fmt: skip
VALID: dict[str, tuple[Any, type]] = {
    "btcusdt@kline_1m": (KLINE, Candle),
    "btcusdt@aggTrade": (
        {
            "e": "aggTrade",
            "E": 1,
            "s": "BTCUSDT",
            "a": 1,
            "p": "1",
            "q": "2",
            "f": 1,
            "l": 1,
            "T": 1,
            "m": True,
            "M": True,
        },
        AggTrade,
    ),
    "btcusdt@trade": (
        {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "1", "q": "2", "T": 1, "m": False},
        PublicTrade,
    ),
    "btcusdt@miniTicker": (
        {
            "e": "24hrMiniTicker",
            "E": 1,
            "s": "BTCUSDT",
            "c": "1",
            "o": "1",
            "h": "1",
            "l": "1",
            "v": "1",
            "q": "1",
        },
        Ticker,
    ),
    "btcusdt@ticker_1h": (
        {
            "e": "1hTicker",
            "E": 1,
            "s": "BTCUSDT",
            "p": "0",
            "P": "0",
            "o": "1",
            "h": "1",
            "l": "1",
            "c": "1",
            "w": "1",
            "v": "1",
            "q": "1",
            "O": 0,
            "C": 1,
            "F": 0,
            "L": 1,
            "n": 2,
        },
        Ticker,
    ),
    "btcusdt@avgPrice": (
        {"e": "avgPrice", "E": 1, "s": "BTCUSDT", "i": "5m", "w": "1", "T": 1},
        AvgPrice,
    ),
    "btcusdt@bookTicker": (
        {"u": 1, "s": "BTCUSDT", "b": "1", "B": "1", "a": "2", "A": "1"},
        BookTicker,
    ),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)


def decode_or_refuse(stream: str, data: Any) -> Any:
    decode = decoder_for(stream)
    assert decode is not None
    try:
        return decode(data)
    except ResponseFormatError:
        return None


def test_valid_payloads_decode_to_their_models() -> None:
    for stream, (data, model) in VALID.items():
        decode = decoder_for(stream)
        assert decode is not None
        assert isinstance(decode(data), model), stream
    candle = decoder_for("btcusdt@kline_1m")(KLINE)  # type: ignore[misc]
    assert candle == Candle.from_stream(KLINE)  # the memo decoder and the plain one agree


@settings(max_examples=300, deadline=None)
@given(stream=st.sampled_from(sorted(VALID)), data=json_values)
def test_any_json_is_a_model_or_a_response_format_error(stream: str, data: Any) -> None:
    decode_or_refuse(stream, data)


@settings(max_examples=400, deadline=None)
@given(stream=st.sampled_from(sorted(VALID)), field=st.text(max_size=2), value=json_values)
def test_one_field_broken_is_a_model_or_a_response_format_error(
    stream: str, field: str, value: Any
) -> None:
    data = copy.deepcopy(VALID[stream][0])
    target = data["k"] if "k" in data and field in data["k"] else data
    target[field or "s"] = value
    decode_or_refuse(stream, data)


def test_array_streams_and_kinds_without_a_model() -> None:
    decode = decoder_for("!miniTicker@arr")
    assert decode is not None
    mini = VALID["btcusdt@miniTicker"][0]
    assert decode([mini, mini]) == (Ticker.from_stream(mini),) * 2
    assert decode_or_refuse("!ticker_1h@arr", {"not": "a list"}) is None
    assert decoder_for("btcusdt@depth") is None and decoder_for("btcusdt@depth5@100ms") is None
