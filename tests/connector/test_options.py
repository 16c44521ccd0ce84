"""ConnectorOptions: immutable, keyword-only, validated at construction (a typo fails at once,
not at the first request)."""

from __future__ import annotations

import dataclasses

import pytest

from binguard.connector import ConnectorOptions


def test_defaults_suit_binance() -> None:
    o = ConnectorOptions()
    assert (o.http, o.orders_via, o.recv_window_ms) == ("http1", "rest", 5000)


@pytest.mark.parametrize(
    ("field", "value"), [("http", "httpx"), ("http", "HTTP1"), ("orders_via", "fix")]
)
def test_an_unknown_choice_is_refused_with_its_name(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        ConnectorOptions(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=field):
        ConnectorOptions().with_(**{field: value})


def test_options_are_immutable_and_keyword_only() -> None:
    o = ConnectorOptions(http="aiohttp")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.http = "http1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ConnectorOptions(10.0)  # type: ignore[misc, unused-ignore]
    assert o.with_(timeout=3).http == "aiohttp"
