"""The modules of binguard.errors import each other one way only (issue 11): no module imports
one that imports it back, directly or around a longer circle. Every import counts: at module
level, inside functions and under TYPE_CHECKING, since each is a dependency a reader must follow."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import binguard.errors

PACKAGE = Path(binguard.errors.__file__).parent


def imports_of(source: str, package: str, modules: set[str]) -> set[str]:
    """The sibling modules `source` (a module of `package`) imports, anywhere in its body.
    `from . import x` names the submodule x when one exists; `from .x import y` names x."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = package if node.level == 1 else node.module if node.level == 0 else None
            if node.level == 1 and node.module is not None:
                base = f"{package}.{node.module}"
            if base == package:  # `from . import x` / `from package import x`
                found.update(a.name for a in node.names)
            elif base is not None and base.startswith(package + "."):
                found.add(base.removeprefix(package + ".").split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package + "."):
                    found.add(alias.name.removeprefix(package + ".").split(".")[0])
    return found & modules


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` (module -> modules it imports) as a path, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found is not None:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found is not None:
                return found
    return None


def test_the_checker_finds_circles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    lazy = "def f():\n    from ._b import x\nif TYPE_CHECKING:\n    from . import _c\n"
    assert imports_of(lazy, "p", {"_a", "_b", "_c"}) == {"_b", "_c"}
    assert imports_of("import p._b\nfrom p import _c, y\n", "p", {"_b", "_c"}) == {"_b", "_c"}


def test_no_import_cycle_in_errors() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {
        m: imports_of((PACKAGE / f"{m}.py").read_text(), "binguard.errors", modules)
        for m in modules
    }
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph) or [])}"
    # The split of issue 11: the dispatcher sits on top, the shapes' readers below it.
    assert "_classify" not in set().union(*graph.values())
