from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tools.refresh_outputs import KEEP_TAG, keep_compared_outputs, stored_output_cells

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_only_tagged_cells_keep_outputs():
    kept = new_code_cell("1", metadata={"tags": [KEEP_TAG]}, execution_count=3,
                         outputs=[new_output("stream", text="x")])
    dropped = new_code_cell("2", execution_count=4, outputs=[new_output("stream", text="y")])
    nb = keep_compared_outputs(new_notebook(cells=[kept, dropped]))
    assert stored_output_cells(nb) == [0]
    assert nb.cells[1].execution_count is None


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS][:3] == ["00", "01", "02"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_store_only_compared_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for index in stored_output_cells(nb):
        assert KEEP_TAG in nb.cells[index].metadata.get("tags", []), f"cell {index}"
        assert all(o.output_type != "error" for o in nb.cells[index].outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_parameters_and_ends_with_a_check(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "check" in code[-1].metadata.get("tags", [])
    assert "lab.check(" in code[-1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_run_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert "papermill" not in nb.metadata
    assert all("papermill" not in cell.metadata for cell in nb.cells)
