"""The test suite's own arrangement (conftest.py): which tests run alone, and in what order."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_06 = ROOT / "notebooks" / "06_cloudwatch_alarm.ipynb"


@functools.lru_cache(maxsize=None)
def collected(*args: str) -> tuple[str, ...]:
    """The node ids pytest collects with *args*, in the order they run."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0",
                           "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    return tuple(line for line in done.stdout.splitlines() if "::" in line)


def test_notebook_06_runs_alone_up_to_the_cell_that_burns_the_cpu_and_no_further():
    code_cells = [c for c in nbformat.read(NOTEBOOK_06, as_version=4).cells
                  if c.cell_type == "code"]
    load = next(i for i, c in enumerate(code_cells) if "run_stress_over_ssm(" in c.source)
    alone = collected("-m", "cpu_exclusive", str(NOTEBOOK_06.relative_to(ROOT)))
    assert list(alone) == [f"notebooks/06_cloudwatch_alarm.ipynb::Cell {i}" for i in range(load + 1)]
    assert load < len(code_cells) - 1  # the recovery cells after it may share the computer


def test_the_cpu_tests_run_back_to_back_before_notebook_06_after_the_earlier_notebooks():
    items = collected()
    exclusive = collected("-m", "cpu_exclusive")
    first, last = items.index(exclusive[0]), items.index(exclusive[-1])
    assert list(items[first:last + 1]) == list(exclusive)  # one turn alone, not several
    assert items[first - 1].startswith("notebooks/05_")
    assert exclusive[-1].startswith("notebooks/06_")
    assert any(not node.startswith("notebooks/") for node in exclusive)


def test_after_the_notebooks_the_unit_tests_then_the_longest_module():
    items = collected()
    last_notebook = max(i for i, node in enumerate(items) if node.startswith("notebooks/"))
    after = [node.split("::")[0] for node in items[last_notebook + 1:]]
    units = [i for i, path in enumerate(after) if path.startswith("tests/unit/")]
    assert units == list(range(len(units))) and units  # all of them, first
    assert after[len(units)] == "tests/integration/test_rerun_and_catch_up.py"
