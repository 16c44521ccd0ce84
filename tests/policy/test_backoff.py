"""Capped full-jitter backoff: every delay lies in [0, min(cap, base * factor**n)]."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binguard.policy import Backoff

settings_st = st.tuples(st.floats(0.001, 5.0), st.floats(1.0, 100.0), st.floats(1.0, 4.0)).map(
    lambda t: (t[0], t[0] * t[1], t[2])
)  # base, cap >= base, factor


@given(settings_st, st.integers(0, 10_000), st.floats(0.0, 1.0, exclude_max=True))
def test_delay_within_capped_exponential_ceiling(
    settings: tuple[float, float, float], attempt: int, r: float
) -> None:
    base, cap, factor = settings
    backoff = Backoff(base, cap, factor, random=lambda: r)
    delay = backoff.delay(attempt)
    grows_past_cap = attempt * math.log(factor) >= math.log(cap / base)
    expected_ceiling = cap if grows_past_cap else base * factor**attempt
    assert 0.0 <= delay <= cap
    assert backoff.ceiling(attempt) == pytest.approx(expected_ceiling, rel=1e-9)
    assert delay == pytest.approx(r * expected_ceiling, rel=1e-9)


@given(settings_st, st.integers(0, 200))
def test_ceiling_never_decreases(settings: tuple[float, float, float], attempt: int) -> None:
    backoff = Backoff(*settings)
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1)


def test_generator_follows_attempts_with_injected_random() -> None:
    rng = random.Random(7)
    pinned = random.Random(7)
    backoff = Backoff(base=0.5, cap=4.0, random=rng.random)
    delays = list(itertools.islice(backoff.delays(), 6))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert delays == [pinned.random() * c for c in ceilings]


def test_full_jitter_reaches_both_ends() -> None:
    assert Backoff(1.0, 8.0, random=lambda: 0.0).delay(3) == 0.0
    assert Backoff(1.0, 8.0, random=lambda: 0.999).delay(3) == pytest.approx(7.992)


def test_huge_attempt_does_not_overflow() -> None:
    assert Backoff(0.1, 30.0, random=lambda: 1.0).delay(10**9) == 30.0
    assert Backoff(0.1, 30.0, factor=1.0, random=lambda: 1.0).delay(10**9) == 0.1


@pytest.mark.parametrize(
    ("base", "cap", "factor"), [(0.0, 1.0, 2.0), (1.0, 0.5, 2.0), (0.1, 1.0, 0.5)]
)
def test_rejects_settings_that_cannot_back_off(base: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base, cap, factor)


def test_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError, match="0-based"):
        Backoff().delay(-1)
