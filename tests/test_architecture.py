"""The floors of jadis stay floors: no import loop between its sub-packages.

Bottom floor: the top-level modules (``jadis.errors``, ``jadis.paths``, ``jadis.progress``,
``jadis.classes``), importable from anywhere and importing no sub-package. Above them the model
rooms (segment, vectorize, ocr, geocode, georef), then the pipelines that chain them, then the
project store, the CLI and the app. Imports are read with ``ast`` (function-level ones included),
so a lazy import inside a function counts like any other.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import jadis

PACKAGE = Path(jadis.__file__).parent
MODEL_ROOMS = ("segment", "vectorize", "ocr", "geocode", "georef")
UPPER_FLOORS = ("pipelines", "project", "cli")

#: Import edges (importing module -> imported sub-package) that close a loop and are known: none
#: today (the lazy re-exports left at the old places of the pipelines were removed once their
#: callers imported :mod:`jadis.pipelines`). An entry here needs a reason and a plan to remove it.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every jadis module ``path`` imports, at any depth of the code (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from jadis import segment`
    return {name for name in found if name == "jadis" or name.startswith("jadis.")}


def _subpackages() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _room(name: str, rooms: set[str]) -> str | None:
    """The sub-package a module belongs to (None: a bottom-floor module or ``jadis`` itself)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in rooms else None


def _edges(*, with_known: bool = False) -> dict[str, dict[str, list[str]]]:
    """sub-package -> imported sub-package -> the importing modules."""
    rooms = _subpackages()
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        source = _room(module, rooms)
        if source is None:
            continue
        for name in _imports(path):
            target = _room(name, rooms)
            if target is None or target == source:
                continue
            if not with_known and (module, target) in KNOWN_EXCEPTIONS:
                continue
            edges[source][target].append(module)
    return edges


def _cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(set(edges) | {t for targets in edges.values() for t in targets}):
        if node not in index:
            visit(node)
    return out


def test_no_import_loop_between_subpackages():
    edges = _edges()
    loops = _cycles(edges)
    detail = [f"{' <-> '.join(c)}: " + "; ".join(f"{a} -> {b} ({', '.join(sorted(set(edges[a][b])))})"
                                                for a in c for b in c if b in edges.get(a, {}))
              for c in loops]
    assert not loops, "package import loops:\n" + "\n".join(detail)


def test_model_rooms_do_not_import_upper_floors():
    edges = _edges()
    wrong = {(room, upper): sorted(set(edges[room][upper])) for room in MODEL_ROOMS for upper in UPPER_FLOORS
             if upper in edges.get(room, {})}
    assert not wrong, f"model rooms importing the floors above them: {wrong}"


def test_bottom_modules_import_no_subpackage():
    rooms = _subpackages()
    for path in PACKAGE.glob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        upward = sorted(n for n in _imports(path) if _room(n, rooms) is not None)
        assert not upward, f"{path.name} is on the bottom floor but imports {upward}"
    assert not _imports(PACKAGE / "classes.py"), "jadis.classes imports nothing from jadis"


def test_the_loop_finder_finds_loops():
    assert _cycles({"a": {"b": ["m"]}, "b": {"c": ["m"]}, "c": {"a": ["m"]}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": ["m"]}, "b": {}}) == []


def test_old_locations_still_work():
    from jadis.segment import classes as old_classes

    assert old_classes.MapClass is jadis.classes.MapClass
