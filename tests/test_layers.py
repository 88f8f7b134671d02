"""The layering of docs/architecture.md, checked: who may import whom, and no circles.

Reads every module of the package with ``ast`` (nothing is imported), so imports inside
functions and under ``if TYPE_CHECKING:`` count as much as those at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "pushcli"

#: layer → the layers it may import (besides itself and the top-level errors/__init__)
ALLOWED = {
    "protocol": set(),
    "client": {"protocol"},
    "server": {"protocol"},
    "app": {"protocol", "client", "server"},
    "ui": {"protocol", "app"},
    "cli": {"protocol", "client", "server", "app", "ui"},
    "api": {"protocol", "client", "app"},
}
TOP_LEVEL = {"__init__", "__main__", "errors", "api"}

#: modules that do I/O: the protocol layer imports none of them
IO_MODULES = {
    "asyncio",
    "socket",
    "ssl",
    "selectors",
    "subprocess",
    "httpx",
    "httpcore",
    "h11",
    "websockets",
    "http",
    "urllib",
    "threading",
    "concurrent",
}
#: what cli/ must leave to the layers below it
CLI_FORBIDDEN = {"httpx", "websockets", "asyncio", "hmac", "h11", "socket", "nacl"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


_FILES = {module_name(p) for p in PKG.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                if node.level > 1:
                    up = up[: -(node.level - 1)]
                base = ".".join([*up, base]) if base else ".".join(up)
            # "from pushcli.server import wire" imports the module pushcli.server.wire, not
            # (for this check) the package's __init__; "from pushcli.errors import X" does.
            subs = {f"{base}.{a.name}" for a in node.names}
            modules = {s for s in subs if s in _FILES}
            out.update(modules or {base})
    return out


MODULES = {module_name(p): imports_of(p) for p in sorted(PKG.rglob("*.py"))}


def internal(imports: set[str]) -> set[str]:
    return {i for i in imports if i in _FILES and i != "pushcli"}


def layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_only_a_handful_of_modules_at_the_top() -> None:
    top = {p.stem for p in PKG.glob("*.py")}
    assert top <= TOP_LEVEL, f"modules directly in pushcli/: {sorted(top - TOP_LEVEL)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layers(module: str) -> None:
    mine = layer(module)
    if mine in ("__init__", "__main__", "errors"):
        allowed = {"cli"} if mine == "__main__" else set()
    else:
        allowed = ALLOWED[mine]
    bad = sorted(
        i
        for i in internal(MODULES[module])
        if layer(i) not in allowed | {mine, "errors", "__init__"}
    )
    assert not bad, f"{module} ({mine}) imports {bad}; {mine} may import {sorted(allowed)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "protocol"))
def test_protocol_layer_does_no_io(module: str) -> None:
    used = {i for i in MODULES[module] if i.split(".")[0] in IO_MODULES}
    assert not used, f"{module} imports I/O modules {sorted(used)}"
    path = PKG.parent / module.replace(".", "/")
    text = (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text()
    assert "print(" not in text and "sys.stderr" not in text, f"{module} prints"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "cli"))
def test_cli_is_only_parsing(module: str) -> None:
    used = {i for i in MODULES[module] if i.split(".")[0] in CLI_FORBIDDEN}
    assert not used, f"{module} imports {sorted(used)}: that belongs in app/ or client/"


def test_no_import_cycles() -> None:
    graph = {m: {i for i in internal(imps) if i != m} for m, imps in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"modules importing each other in a circle: {cycles}"
