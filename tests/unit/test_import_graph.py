"""labkit's modules import one another without a cycle.

The graph is read from the source with :mod:`ast`: every ``import`` and ``from … import``
anywhere in a module (a function-level import is an arrow of the design too, even where it
only hides a cycle from the interpreter), relative imports resolved, ``from pkg import module``
counted as an arrow to the module. Imports under ``if TYPE_CHECKING:`` are left out: they are
for type hints and never run. The names ``labkit/__init__.py`` loads on first use (its
``_LAZY`` table, PEP 562) are arrows from the package too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "labkit"


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in *tree*, at any depth, except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _lazy_modules(tree: ast.Module) -> list[str]:
    """The relative module names of a module-level ``_LAZY = {name: module}`` table."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "_LAZY"):
            return sorted(set(ast.literal_eval(node.value).values()))
    return []


def _resolve(relative: str, package: str) -> str:
    """``.events`` inside package ``labkit`` -> ``labkit.events`` (as importlib resolves it)."""
    level = len(relative) - len(relative.lstrip("."))
    base = package.split(".")
    base = base[:len(base) - level + 1]
    rest = relative[level:]
    return ".".join(base + ([rest] if rest else []))


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = module_files() if modules is None else modules
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
                continue
            source = _resolve("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else source)
        targets |= {_resolve(lazy, package) for lazy in _lazy_modules(tree)}
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


# -- the graph builder itself, on small made-up packages ---------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = tmp_path / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return module_files(tmp_path / "pkg")


def test_every_form_of_import_is_an_arrow(tmp_path: Path) -> None:
    modules = _package(tmp_path, {
        "__init__.py": "from .a import thing\n_LAZY = {'late': '.d'}\n",
        "a.py": "from . import b\n",
        "b.py": "def f():\n    from .sub import c\n",
        "d.py": "",
        "sub/__init__.py": "",
        "sub/c.py": "import pkg.a\nfrom .. import a\nfrom ..sub import helper\n",
    })
    graph = import_graph(modules)
    assert graph["pkg"] == {"pkg.a", "pkg.d"}
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a", "pkg.sub"}
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.b", "pkg.sub.c"})]


def test_imports_for_type_hints_only_are_no_arrows(tmp_path: Path) -> None:
    modules = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from typing import TYPE_CHECKING\nfrom . import b\n"
                "if TYPE_CHECKING:\n    from .b import B\nelse:\n    from . import c\n",
        "b.py": "import typing\nif typing.TYPE_CHECKING:\n    from .a import A\n",
        "c.py": "",
    })
    graph = import_graph(modules)
    assert graph["pkg.a"] == {"pkg.b", "pkg.c"}
    assert graph["pkg.b"] == set()
    assert cycles(graph) == []


# -- labkit ---------------------------------------------------------------------------------------


def test_labkit_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in labkit: " + "; ".join(
        " <-> ".join(sorted(cycle)) for cycle in found)


def test_the_notebook_facade_is_above_what_it_uses() -> None:
    graph = import_graph()
    below = ["labkit.checks.steps", "labkit.checks.step_08", "labkit.inventory",
             "labkit.slack_faults"]
    used = {"labkit.checks.steps", "labkit.inventory", "labkit.slack_faults"}
    assert used <= graph["labkit.lab"]
    for module in below:
        assert "labkit.lab" not in graph[module], f"{module} imports labkit.lab at run time"


def test_the_graph_sees_batch_and_classroom_meet() -> None:
    # `labkit run --students` hands over to the rehearsal, which runs `labkit run` per learner
    # and reads its report: both arrows exist, so "no cycle" above is not for want of seeing them.
    graph = import_graph()
    assert "labkit.classroom.rehearsal" in graph["labkit.batch.command"]
    assert "labkit.batch.report" in graph["labkit.classroom.rehearsal"]
