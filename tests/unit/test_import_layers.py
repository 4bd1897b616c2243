"""labkit.batch (running notebooks) and labkit.classroom (a class of learners) use each other,
but never in a circle: no module of theirs imports, however indirectly, itself.

Imports inside functions count too: they break a circle at load time, not in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LABKIT = Path(__file__).resolve().parents[2] / "labkit"


def module_name(path: Path) -> str:
    parts = path.relative_to(LABKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each labkit module -> the labkit modules it imports anywhere in its code."""
    modules = {module_name(path): path for path in LABKIT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = (package.split(".")[:len(package.split(".")) - node.level + 1]
                        if node.level else [])
                source = ".".join(base + ([node.module] if node.module else []))
                # `from . import i18n` imports the module labkit.i18n; `from .x import y`, x.
                found = [f"{source}.{alias.name}" for alias in node.names
                         if f"{source}.{alias.name}" in modules]
                imported.update(found or ([source] if source in modules else []))
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name in modules)
        graph[name] = imported - {name}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += graph.get(module, ())
    return seen


GRAPH = import_graph()
LAYERS = sorted(m for m in GRAPH if m.startswith(("labkit.batch", "labkit.classroom")))


def test_the_graph_sees_the_imports_between_them():
    assert "labkit.classroom.rehearsal" in GRAPH["labkit.batch.command"]
    assert "labkit.batch.report" in GRAPH["labkit.classroom.rehearsal"]


@pytest.mark.parametrize("module", LAYERS)
def test_no_module_of_batch_or_classroom_imports_itself_in_a_circle(module):
    assert module not in reachable(GRAPH, module)
