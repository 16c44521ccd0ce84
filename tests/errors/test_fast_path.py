"""classify(bytes)'s fast path (a hand parser, then a memo of prototypes copied per call) gives
exactly what the general path gives: the body parsed by json.loads and read as a mapping.

Issue 18 goal 6 made classify(bytes) cheaper than json.loads by remembering repeated bodies; this
holds the results equal over the benchmark's own mix and over hypothesis-drawn compact bodies, on
the first sight of a body (parsed) and on the next ones (copied), with and without a request.
Only negative codes are drawn: `{"code":0,...}` and non-canonical numbers ("-1_021") have always
differed between the two readers, and are left as they were.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from bench.bench_classify import MIX
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.errors import BinanceError, RequestInfo, catalog, classify
from binguard.errors._bodies import from_mapping

ORDER = RequestInfo.of("POST", "/api/v3/order", {"symbol": "BTCUSDT"})
MESSAGES = sorted({m for entry in catalog().values() for m in entry.messages})


def _state(err: BinanceError | None) -> Any:
    """Everything an error holds, except the instant it was received and its params cache."""
    if err is None:
        return None
    state = {k: v for k, v in vars(err).items() if k not in ("received_at", "_params")}
    return type(err), err.args, state, err.as_dict(), repr(err), str(err)


def _assert_same_as_json_path(body: bytes, request: RequestInfo | None) -> None:
    expected = from_mapping(json.loads(body), None, None, request)
    before = time.time()
    for copy in (body, bytes(bytearray(body)), body):  # first sight, then remembered
        got = classify(copy, request=request)
        assert _state(got) == _state(expected)
        if got is not None:
            assert got.received_at is not None and got.received_at >= before
            assert got is not expected and got.params == expected.params  # type: ignore[union-attr]


@pytest.mark.parametrize("body", sorted(set(MIX)))
def test_bench_mix_matches_the_json_path(body: bytes) -> None:
    _assert_same_as_json_path(body, None)
    _assert_same_as_json_path(body, ORDER)


def test_copies_are_independent() -> None:
    body = MIX[0]
    first, second = classify(body), classify(body, request=ORDER)
    assert first is not None and second is not None and first is not second
    first.msg = "changed by a caller"
    first.request = None
    assert second.msg != first.msg and second.request == ORDER
    third = classify(body)
    assert third is not None and third.msg != first.msg and third.request is None


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), max_size=80
)  # JSON forbids raw control characters; the hand parser leaves escaped bodies to json


@settings(max_examples=300)
@given(
    code=st.sampled_from(sorted(catalog())) | st.integers(min_value=-99_999, max_value=-1),
    msg=st.sampled_from(MESSAGES) | _TEXT,
    ascii_only=st.booleans(),
    with_request=st.booleans(),
)
def test_compact_bodies_match_the_json_path(
    code: int, msg: str, ascii_only: bool, with_request: bool
) -> None:
    body = json.dumps(
        {"code": code, "msg": msg}, separators=(",", ":"), ensure_ascii=ascii_only
    ).encode()
    _assert_same_as_json_path(body, ORDER if with_request else None)
