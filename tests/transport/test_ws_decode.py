"""`decode_text`, the WebSocket supervisor's frame decoder: orjson's speed, json's answers.

orjson turns an integer beyond 64 bits into a float and refuses NaN, Infinity, 1e400 and lone
surrogates, all of which `json.loads` accepts; a frame must decode exactly as `json.loads(raw)`
decodes it (same values, same types), and fail with a ValueError where it fails.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.transport.ws import decode_text


def _same(a: Any, b: Any) -> bool:
    """Equal, type for type (1 and 1.0 differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_JSON, st.booleans())
def test_decodes_as_json_does(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only)
    assert _same(decode_text(raw), json.loads(raw))


@pytest.mark.parametrize(
    "raw",
    [
        '{"E": 1733400000000, "u": 18446744073709551616}',  # 2**64: a float for orjson
        '{"id": -9223372036854775809}',  # below -2**63
        '{"big": 123456789012345678901234567890, "ok": 1}',
        '{"x": NaN, "y": -Infinity}',
        '{"x": 1e400}',
        '"\\ud800"',  # an escaped lone surrogate
        '{"s": "\ud800"}',  # a raw one, in the str itself
        '{"a": 1, "a": 2}',
    ],
)
def test_where_orjson_differs_json_decides(raw: str) -> None:
    assert _same(decode_text(raw), json.loads(raw))


@pytest.mark.parametrize("raw", ["", "{", '{"a": }', "[1, 2", "nul", '{"a": 1} x', "\ufeff{}"])
def test_malformed_frames_fail_as_json_fails(raw: str) -> None:
    with pytest.raises(json.JSONDecodeError) as json_error:
        json.loads(raw)
    with pytest.raises(type(json_error.value)):
        decode_text(raw)
