"""Imports only point down: cli -> api -> jobs -> engine -> families -> stages -> models/video -> settings, and no module of
text2video imports another that imports it back (directly or through others). Lazy imports inside functions count:
they are still a dependency, only a later one."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "backend" / "text2video"
# Higher numbers may import lower ones, never the reverse; the same layer only within one room.
LAYERS = {
    "cli": 9, "doctor": 9,
    "api": 8, "tunnel": 8,
    "jobs": 7, "webhooks": 7,
    "engine": 6, "request": 6,
    "families": 5,
    "devices": 4, "progress": 4, "params": 4,
    "prompt": 3, "pose": 3, "diffusion": 3,
    "models": 2, "video": 2,
    "storage": 1, "netguard": 1,
    "settings": 0, "exceptions": 0, "messages": 0,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The text2video modules ``path`` imports (``from .x import y`` names y when y is a module)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("text2video"))
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.startswith("text2video"):
                found.update(f"{target}.{a.name}" for a in node.names)
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = defaultdict(set)
    for name, path in modules.items():
        graph[name] |= {m for m in _imports(path) if m in modules and m != name}
    return graph


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_room_has_a_layer():
    rooms = {_room(_module_name(p)) for p in PACKAGE.rglob("*.py")} - {""}
    assert rooms <= set(LAYERS), f"give these a layer in LAYERS: {sorted(rooms - set(LAYERS))}"


def test_imports_only_point_down():
    upward = sorted(f"{a} -> {b}" for a, targets in _graph().items() for b in targets
                    if _room(a) and _room(b) and _room(a) != _room(b) and LAYERS[_room(b)] > LAYERS[_room(a)])
    assert not upward


def test_no_import_cycles():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt.rsplit(".", 1)[0] == node:
                continue  # a package importing its own submodule (lazy exports) is not a cycle
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles
