"""For maintainers: keep notebooks clean, storing only the outputs nbval compares.

Run it as ``python3 tasks.py refresh-outputs`` after editing a notebook, then
``python3 tasks.py translate``: the Korean notebooks keep the same stored outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

KEEP_TAG = "nbval-check-output"


def stored_output_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of code cells that hold outputs."""
    return [i for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and cell.get("outputs")]


def keep_compared_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop every output and execution count except in cells tagged ``nbval-check-output``."""
    for cell in nb.cells:
        # papermill's per-cell timing would change the file on every run.
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if not cell.metadata.get("tags", True):
            del cell.metadata["tags"]
        if cell.cell_type != "code":
            continue
        if KEEP_TAG not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    for key in ("papermill",):
        nb.metadata.pop(key, None)
    return nb


def store_from_executed(executed: Path, source: Path) -> None:
    """Write *source* with the compared outputs of the executed copy *executed*."""
    nb = nbformat.read(executed, as_version=4)
    nb = keep_compared_outputs(nb)
    # papermill adds an "injected-parameters" cell when parameters were passed; never store it.
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbformat.write(nb, source)


def refresh(notebooks_dir: Path) -> None:
    """Re-run every notebook on a fresh local cloud and store the outputs nbval compares.

    For maintainers after changing a notebook: ``python3 tasks.py refresh-outputs``.
    """
    import os
    import tempfile

    import papermill

    from labkit.batch import kernels
    from labkit.batch.notebooks import default_notebooks
    from labkit.local import cloud

    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        os.environ["LABKIT_HOME"] = home
        os.environ["LABKIT_BATCH"] = "1"  # printed progress, not widgets, in stored notebooks
        cloud.up(Path(home), rate_limit=False)
        try:
            for source in default_notebooks(notebooks_dir):  # the lesson's order
                executed = Path(out) / source.name
                print(f"running {source.name}", flush=True)
                papermill.execute_notebook(str(source), str(executed), cwd=str(notebooks_dir),
                                           progress_bar=False, **kernels.papermill_options())
                store_from_executed(executed, source)
        finally:
            cloud.down(Path(home))


if __name__ == "__main__":
    refresh(Path(__file__).resolve().parent.parent / "notebooks")
