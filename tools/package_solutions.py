"""For maintainers: copy the solution notebooks into labkit, for catch-up to replay.

``labkit catch-up`` (and ``lab.catch_up()``) runs the notebooks before a step — their solutions.
A learner's handout holds only the exercises, so labkit carries the solutions itself, in
``labkit/solutions/`` (package data), with every output cleared: replaying needs only the code.
Run it as ``python3 tasks.py package-solutions`` after editing a notebook;
tests/unit/test_packaged_solutions.py fails while the copies differ from ``notebooks/``.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PACKAGED = ROOT / "labkit" / "solutions"


def packaged_form(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """*nb* as labkit carries it: the same cells, without outputs or execution counts."""
    packaged = copy.deepcopy(nb)
    for cell in packaged.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return packaged


def package(notebooks: Path = NOTEBOOKS, packaged: Path = PACKAGED) -> list[Path]:
    """Write the packaged form of every ``NN_name.ipynb`` of *notebooks* to *packaged*,
    removing copies whose notebook is gone; the paths written."""
    sources = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    packaged.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in packaged.glob("*.ipynb")) - {p.name for p in sources}:
        (packaged / stale).unlink()
    written = []
    for source in sources:
        target = packaged / source.name
        nbformat.write(packaged_form(nbformat.read(source, as_version=4)), target)
        written.append(target)
    return written


if __name__ == "__main__":
    for path in package():
        print(path.relative_to(ROOT))
    sys.exit(0)
