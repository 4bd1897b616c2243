"""The notebooks take everything from the ``labkit`` package itself, and only what it lists.

A notebook writes ``import labkit`` or ``from labkit import …``, never a module inside, so that
moving a module never edits a notebook; every name it takes is in ``labkit.__all__``, and
``labkit``'s docstring says in one line each what the name is for and which notebooks use it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

import labkit
from labkit.classroom.student_edition import student_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The Korean notebooks, written from the English ones (`python3 tasks.py translate`).
KOREAN = sorted((Path(__file__).resolve().parents[2] / "notebooks" / "ko").glob(
    "[0-9][0-9]_*.ipynb"))
# Public names a notebook holds without naming them: what start() and lab.webhook() return.
HELD_NOT_NAMED = {"Lab", "SecretUrl"}
# A docstring line: the name(s), two spaces or more, what it is for, "(the notebooks)" if any.
_LINE = re.compile(r"^    (?P<names>\w+(?:, \w+)*) {2,}(?P<what>.+?)"
                   r"(?: \((?P<where>[0-9, -]+)\))?$")


def labkit_imports(source: str) -> tuple[list[str], set[str]]:
    """What a cell's *source* does with labkit: its imports of anything but the package itself
    (as written), and the names it takes (``from labkit import x``, ``labkit.x``)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    wrong: list[str] = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            wrong += [ast.unparse(node) for alias in node.names
                      if alias.name.startswith("labkit.")
                      or (alias.name == "labkit" and alias.asname)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "labkit":
            if node.module != "labkit" or node.level:
                wrong.append(ast.unparse(node))
            names |= {alias.name for alias in node.names}
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "labkit"):
            names.add(node.attr)
    return wrong, names


def notebook_uses(nb: nbformat.NotebookNode) -> tuple[list[str], set[str]]:
    wrong: list[str] = []
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell_wrong, cell_names = labkit_imports(cell.source)
            wrong += cell_wrong
            names |= cell_names
    return wrong, names


def uses_by_notebook() -> dict[str, set[str]]:
    """Notebook number -> the labkit names it takes."""
    return {path.name[:2]: notebook_uses(nbformat.read(path, as_version=4))[1]
            for path in NOTEBOOKS}


def documented() -> dict[str, set[str]]:
    """Name -> the notebook numbers its line in labkit's docstring gives (empty: none)."""
    found: dict[str, set[str]] = {}
    for line in (labkit.__doc__ or "").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        where: set[str] = set()
        for part in (match["where"] or "").split(","):
            first, _, last = part.strip().partition("-")
            if first:
                where |= {f"{n:02d}" for n in range(int(first), int(last or first) + 1)}
        for name in match["names"].split(", "):
            found[name] = where
    return found


# -- the reading of a cell ------------------------------------------------------------------------


def test_a_cell_may_import_the_package_and_take_names_from_it() -> None:
    source = "import json\nimport labkit\nfrom labkit import a, b\nlabkit.c(labkit.d.e)\n"
    assert labkit_imports(source) == ([], {"a", "b", "c", "d"})


@pytest.mark.parametrize("line", [
    "import labkit.events", "from labkit.events import first_message",
    "from labkit.show import plots", "import labkit as lk", "import os, labkit.bastion",
])
def test_a_cell_importing_inside_the_package_is_caught(line: str) -> None:
    wrong, _ = labkit_imports(f"import labkit\n{line}\n")
    assert wrong == [line]


def test_a_cell_with_a_shell_command_is_read_too() -> None:
    assert labkit_imports("!aws sns list-topics\nlabkit.start()\n") == ([], {"start"})


# -- the notebooks --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*NOTEBOOKS, *KOREAN],
                         ids=lambda p: ("ko/" if p.parent.name == "ko" else "") + p.name)
def test_a_notebook_imports_only_the_package(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    student, _ = student_notebook(nb, path.name[:2])
    for edition in (nb, student):
        wrong, names = notebook_uses(edition)
        assert not wrong, f"{path.name}: import only `labkit` or `from labkit import …`"
        assert names <= set(labkit.__all__), f"{path.name}: not in labkit.__all__"
        for name in names:
            assert getattr(labkit, name) is not None


def test_the_docstring_lists_every_public_name_with_the_notebooks_using_it() -> None:
    used: dict[str, set[str]] = {}
    for number, names in uses_by_notebook().items():
        for name in names:
            used.setdefault(name, set()).add(number)
    lines = documented()
    assert sorted(lines) == sorted(labkit.__all__)
    assert {name: where for name, where in lines.items() if where} == used


def test_the_surface_holds_only_what_notebooks_use() -> None:
    used = set().union(*uses_by_notebook().values())
    assert set(labkit.__all__) - used == HELD_NOT_NAMED
    assert len(labkit.__all__) == len(set(labkit.__all__))


# -- the package ----------------------------------------------------------------------------------


def test_no_public_name_is_also_a_module_of_the_package() -> None:
    # Importing labkit.<module> sets that attribute of the package to the module: a public name
    # of the same spelling would be replaced by it.
    package = Path(labkit.__file__).parent
    modules = {path.stem for path in package.glob("*.py")} | {
        path.parent.name for path in package.glob("*/__init__.py")}
    assert not set(labkit.__all__) & modules


def test_every_lazy_name_is_its_modules_object_and_listed_by_dir() -> None:
    import importlib

    assert set(labkit._LAZY) <= set(labkit.__all__)
    for name, module in labkit._LAZY.items():
        assert getattr(labkit, name) is getattr(importlib.import_module(module, "labkit"), name)
    assert set(labkit.__all__) <= set(dir(labkit))
    with pytest.raises(AttributeError):
        labkit.no_such_name  # noqa: B018


def test_importing_labkit_leaves_the_lazy_modules_unloaded() -> None:
    lazy = sorted({"labkit" + module for module in labkit._LAZY.values()}
                  - {"labkit.names", "labkit.inventory"})  # the Lab itself needs these two
    code = ("import sys, labkit\n"
            f"print([m for m in {lazy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
