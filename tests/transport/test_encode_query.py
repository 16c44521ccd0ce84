"""`encode_query` percent-encodes exactly like `urllib.parse.quote(..., safe="")` on every name and
value (Binance signs the encoded form: CHANGELOG 2025-12-17 in /work/shared/reference/binance-docs/),
though it skips the work for names and values that need none. Pure function: no I/O."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binguard.transport.rest import encode_query

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@given(st.dictionaries(_TEXT.filter(bool), _TEXT, max_size=6))
def test_same_encoding_as_quote_for_any_text(params: dict[str, str]) -> None:
    expected = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    assert encode_query(params) == expected


def test_values_are_formatted_then_encoded_and_none_is_left_out() -> None:
    params = {"price": Decimal("1E+1"), "ok": True, "qty": 0.5, "n": 3, "skip": None, "a b": "é&"}
    assert encode_query(params) == "price=10&ok=true&qty=0.5&n=3&a%20b=%C3%A9%26"


def test_a_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(TypeError):
        encode_query({1: "a"})  # type: ignore[dict-item]
