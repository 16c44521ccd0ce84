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


# -- import cycles ------------------------------------------------------------------------------
# Cycles known on this branch and being removed elsewhere: each pair is (module, module) of one
# cycle. errors/_classify ⇄ errors/_foreign is split by input shape on another branch of issue 11;
# the lead deletes this entry when both merge. Nothing else may be added here.
def module_name(path: Path, root: Path) -> str:
    """`binguard.x.y` for root/binguard/x/y.py, `binguard.x` for its package's __init__.py."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, package: str = "binguard") -> dict[str, set[str]]:
    """Module → the modules of `package` it imports, read from the AST of every file under
    root/package: every import counts, also those under `if TYPE_CHECKING:` and inside functions.
    `from . import x` (and `from pkg import x`) points at the submodule x where one exists, else
    at the package; `import a.b.c` at the longest prefix that is a module."""
    files = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        here = name if is_pkg else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(_longest_known(alias.name, files) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*up, base]) if base else ".".join(up)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in files else _longest_known(base, files))
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def _longest_known(dotted: str, files: dict[str, Path]) -> str:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in files:
            return ".".join(parts[:n])
    return dotted


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_no_import_cycles() -> None:
    """No import cycle among binguard's modules (issue 11), TYPE_CHECKING imports included."""
    found = cycles(import_graph(SRC.parent))
    assert not found, [sorted(c) for c in found]


def test_the_cycle_checker_finds_cycles(tmp_path: Path) -> None:
    """Guards the guard on a small package: a TYPE_CHECKING import and `from . import x` count,
    a module importing its own package's name resolves to the submodule, a tree has no cycle."""
    pkg = tmp_path / "binguard"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "b.py": "from . import c\n",
        "c.py": "def f():\n    from binguard import a\n",
        "d.py": "import binguard.sub.e\n",
        "sub/__init__.py": "",
        "sub/e.py": "from .. import c\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["binguard.b"] == {"binguard.c"}
    assert graph["binguard.d"] == {"binguard.sub.e"}
    assert graph["binguard.sub.e"] == {"binguard.c"}
    assert cycles(graph) == [{"binguard.a", "binguard.b", "binguard.c"}]
    (pkg / "a.py").write_text("")
    assert cycles(import_graph(tmp_path)) == []


# -- the connector floor ------------------------------------------------------------------------
def test_only_the_composition_root_knows_the_connector() -> None:
    """No connector module but client.py (the composition root) and __init__.py imports
    `client` or names `SpotConnector` in code or annotations (docstrings may mention it)."""
    offenders = []
    graph = import_graph(SRC.parent)
    for path in sorted((SRC / "connector").glob("*.py")):
        if path.name in ("client.py", "__init__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph_edges = graph[module_name(path, SRC.parent)]
        if "binguard.connector.client" in graph_edges:
            offenders.append(f"{path.name} imports client")
        for node in ast.walk(tree):
            named = (isinstance(node, ast.Name) and node.id == "SpotConnector") or (
                isinstance(node, ast.Constant) and node.value == "SpotConnector"
            )
            if named:
                offenders.append(f"{path.name}:{node.lineno} names SpotConnector")
    assert not offenders, offenders


MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("package", ["connector", "transport"])
def test_functions_are_short(package: str) -> None:
    """Every function in connector/ and transport/ is under 60 lines (issue 11)."""
    long = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)"
        for path in sorted((SRC / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (n := (node.end_lineno or node.lineno) - node.lineno + 1) >= MAX_FUNCTION_LINES
    ]
    assert not long, long


def _names_used(path: Path) -> set[str]:
    """Names and string constants in a module's code (docstrings excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.alias):
            used.add(node.asname or node.name)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            used.add(node.value)
    return used


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("ws_payload", "transport/ws_api.py"),  # WebSocket API signing
        ("session.logon", "transport/ws_api.py"),  # logon (with its one -1021 resync)
        ("ws_rate_headers", "transport/ws_api.py"),  # request → gate → rateLimits → classify
    ],
)
def test_the_websocket_api_client_exists_once(name: str, home: str) -> None:
    """Signing, logon and the request sequence of the WebSocket API live in one module of the
    connector and transport floors (issue 11); the endpoint table may name the method."""
    users = sorted(
        str(path.relative_to(SRC))
        for package in ("connector", "transport")
        for path in (SRC / package).rglob("*.py")
        if name in _names_used(path) and path.name != "signing.py"
    )
    assert users == [home]
