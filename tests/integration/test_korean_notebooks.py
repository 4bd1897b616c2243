"""`labkit run --lang ko` runs the Korean notebooks (notebooks/ko/), and they work.

The Korean notebooks run the English ones' code, which nbval runs already; this runs the first
four in batch, to show that they run from their own folder and speak Korean.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KOREAN = ROOT / "notebooks" / "ko"
FIRST = ("00", "01", "02", "03")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the code cells of an executed notebook showed, as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [str(value) for value in output.get("data", {}).values()]
    return "\n".join(parts)


def test_the_first_korean_notebooks_pass_in_batch_and_labkit_speaks_korean(home, tmp_path):
    sources = sorted(p for p in KOREAN.glob("*.ipynb") if p.name[:2] in FIRST)
    assert len(sources) == len(FIRST), (
        f"notebooks/ko/ lacks some of {FIRST}: run `python3 tasks.py translate`")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "labkit", "run", "--lang", "ko", "--only", *FIRST, "--out",
         str(out), "-q"], cwd=ROOT, env=dict(os.environ, LABKIT_HOME=str(home)),
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads((out / "summary.json").read_text())["notebooks"]
    assert [(r["notebook"], r["status"]) for r in rows] == [
        (p.name, "passed") for p in sources]
    assert all(r["checks_passed"] > 0 and r["checks_failed"] == 0 for r in rows)

    for source in sources:
        executed = nbformat.read(out / source.name, as_version=4)
        korean = nbformat.read(source, as_version=4)
        # The Korean notebook ran, not the English one: its prose is in the executed copy.
        prose = [c.source for c in korean.cells if c.cell_type == "markdown"]
        assert [c.source for c in executed.cells if c.cell_type == "markdown"] == prose
        assert HANGUL.search(prose[0]), f"{source.name}'s title cell is not in Korean"
        # labkit's own messages (the checks' report) are in Korean too.
        shown = outputs_text(executed)
        assert HANGUL.search(shown), f"{source.name} showed no Korean: {shown[:500]}"
