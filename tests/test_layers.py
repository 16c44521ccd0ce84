"""Imports only go downward (DESIGN.md "Layers"), and the simulator never imports the client.

The simulator must play Binance from Binance's rules, not from our client's reading of them, so a
misreading shows up as a failing test instead of cancelling out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "binguard"

# package -> binguard packages it must never import
FORBIDDEN = {
    "errors": {"backends", "policy", "transport", "connector", "sim", "doctor", "demo", "cli"},
    "backends": {"policy", "transport", "connector", "sim", "doctor", "demo", "cli"},
    "policy": {"transport", "connector", "sim", "doctor", "demo", "cli"},
    "transport": {"connector", "sim", "doctor", "demo", "cli"},
    "connector": {"sim", "doctor", "demo", "cli"},
    "sim": {"policy", "transport", "connector", "backends", "doctor", "demo"},
    "doctor": {"policy", "transport", "connector", "sim", "backends", "demo"},
    "gateway": {"sim", "doctor", "demo", "cli"},  # connector and below; see the test after
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                found.add(node.module)
    return {m.split(".")[1] for m in found if m.startswith("binguard.") and m.count(".") >= 1}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer: str) -> None:
    offenders = {
        f"{path.relative_to(SRC)} imports binguard.{pkg}"
        for path in (SRC / layer).rglob("*.py")
        for pkg in _imports(path) & FORBIDDEN[layer]
    }
    assert not offenders, sorted(offenders)


def test_nothing_imports_the_gateway() -> None:
    """The gateway sits on top: only the CLI table names it (by string, lazily)."""
    offenders = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "gateway" not in path.relative_to(SRC).parts[:1] and "gateway" in _imports(path)
    }
    assert not offenders, sorted(offenders)


def test_the_parser_sees_known_imports() -> None:
    """Guards the guard: imports that exist must be found, or the layer test proves nothing."""
    assert {"policy", "transport", "errors", "backends"} <= _imports(
        SRC / "connector" / "client.py"
    )
    assert "errors" in _imports(SRC / "sim" / "errors.py")
