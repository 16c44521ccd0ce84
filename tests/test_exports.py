"""The public face: every name a package's __all__ promises exists, and nothing private leaks in."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = ["binguard", "binguard.errors", "binguard.connector", "binguard.policy", "binguard.sim"]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} has no __all__"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"
        assert not attr.startswith("_") or attr == "__version__"
    assert len(exported) == len(set(exported))


def test_the_version_is_the_one_in_pyproject() -> None:
    """`binguard.__version__` (and `binguard --version`) come from pyproject.toml, one place."""
    import tomllib
    from pathlib import Path

    import binguard

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert binguard.__version__ == pyproject["project"]["version"]
