"""In a real kernel: known errors are brief, and no traceback shows a webhook secret."""

from __future__ import annotations

import json

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.integration

SECRET = "abcdefghijklmnopqrstuvwx"


def run_cells(*sources: str) -> list[dict]:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, allow_errors=True).execute()
    return [cell.outputs for cell in nb.cells]


def test_errors_in_a_kernel_are_brief_and_masked():
    outputs = run_cells(
        "import labkit, requests\nlab = labkit.start()",
        # What requests says when it cannot reach a webhook: the URL, secret included.
        "raise requests.exceptions.ConnectionError("
        f"'Max retries exceeded with url: /services/T0LOCAL01/BABCDEFGHIJ/{SECRET}')",
        "labkit.start(region='ap-northeast-22')",
    )
    assert not [o for o in outputs[0] if o.output_type == "error"]

    (leak,) = [o for o in outputs[1] if o.output_type == "error"]
    assert SECRET not in json.dumps(leak)
    assert "/services/T0LOCAL01/BABCDEFGHIJ/••••wx" in "".join(leak.traceback)
    assert leak.ename == "ConnectionError"

    (region,) = [o for o in outputs[2] if o.output_type == "error"]
    assert region.ename == "LabError"
    assert len(region.traceback) == 2  # what happened, and what to do: no library frames
    assert "not an AWS region code" in region.traceback[0]
    assert "ap-northeast-2" in region.traceback[1]
