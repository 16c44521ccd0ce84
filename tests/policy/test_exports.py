"""The public faces of `binguard.policy` and `binguard.backends`: every name exported exists."""

from __future__ import annotations

import pytest

import binguard.backends
import binguard.policy


@pytest.mark.parametrize("module", [binguard.policy, binguard.backends])
def test_all_names_exist_and_are_sorted(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert getattr(module, name) is not None, name
