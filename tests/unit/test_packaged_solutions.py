"""labkit carries the solution notebooks (catch-up replays them), identical to notebooks/."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest

from labkit.batch.notebooks import notebooks_before, solutions_folder
from tools.package_solutions import package, packaged_form

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_labkit_carries_one_copy_of_every_solution_notebook():
    assert solutions_folder() == ROOT / "labkit" / "solutions"
    assert sorted(p.name for p in solutions_folder().glob("*.ipynb")) == [
        p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_copy_is_its_notebook_without_outputs(path):
    """Fails after a notebook was edited: run `python3 tasks.py package-solutions`."""
    solution = nbformat.read(path, as_version=4)
    packaged = nbformat.read(solutions_folder() / path.name, as_version=4)
    assert [c.source for c in packaged.cells] == [c.source for c in solution.cells]
    assert packaged == packaged_form(solution)
    assert all(not c.get("outputs") for c in packaged.cells if c.cell_type == "code")


def test_packaging_writes_every_notebook_and_drops_a_copy_whose_notebook_is_gone(tmp_path):
    source, target = tmp_path / "notebooks", tmp_path / "solutions"
    source.mkdir()
    target.mkdir()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", id="01-01")
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                           execution_count=1)]
    cell.execution_count = 1
    nb.cells = [cell]
    nbformat.write(nb, source / "01_one.ipynb")
    (target / "09_gone.ipynb").write_text("{}")
    package(source, target)
    assert sorted(p.name for p in target.iterdir()) == ["01_one.ipynb"]
    (copied,) = nbformat.read(target / "01_one.ipynb", as_version=4).cells
    assert (copied.source, copied.outputs, copied.execution_count) == ("1 + 1", [], None)


def test_catch_up_replays_the_packaged_solutions():
    assert [p.name[:2] for p in notebooks_before(solutions_folder(), "03")] == ["00", "01", "02"]
    assert all(p.parent == solutions_folder() for p in notebooks_before(solutions_folder(), "05"))


def test_the_wheel_ships_them():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "solutions/*.ipynb" in pyproject["tool"]["setuptools"]["package-data"]["labkit"]
