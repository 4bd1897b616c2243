"""The test suite's own arrangement (conftest.py): which tests run alone, and in what order."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_06 = ROOT / "notebooks" / "06_cloudwatch_alarm.ipynb"

_COLLECT = """
import json, sys, pytest
class Listing:
    def pytest_collection_finish(self, session):
        self.items = [(i.nodeid, i.get_closest_marker("cpu_exclusive") is not None)
                      for i in session.items]
listing = Listing()
code = pytest.main(["--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider"],
                   plugins=[listing])
print("ITEMS" + json.dumps(listing.items))
sys.exit(code)
"""


@functools.lru_cache(maxsize=None)
def collected() -> tuple[tuple[str, bool], ...]:
    """Every test of the suite in the order it runs, and whether it runs alone."""
    done = subprocess.run([sys.executable, "-c", _COLLECT], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    listing = done.stdout[done.stdout.rindex("ITEMS") + len("ITEMS"):]
    return tuple((node.split("@")[0], alone) for node, alone in json.loads(listing))


def test_notebook_06_runs_alone_up_to_the_cell_that_burns_the_cpu_and_no_further():
    code_cells = [c for c in nbformat.read(NOTEBOOK_06, as_version=4).cells
                  if c.cell_type == "code"]
    load = next(i for i, c in enumerate(code_cells) if "run_stress_over_ssm(" in c.source)
    alone = [node for node, exclusive in collected()
             if exclusive and node.startswith("notebooks/06_")]
    assert alone == [f"notebooks/06_cloudwatch_alarm.ipynb::Cell {i}" for i in range(load + 1)]
    assert load < len(code_cells) - 1  # the recovery cells after it may share the computer


def test_the_cpu_tests_run_back_to_back_before_notebook_06_after_the_earlier_notebooks():
    items = collected()
    turn = [i for i, (_, exclusive) in enumerate(items) if exclusive]
    assert turn == list(range(turn[0], turn[-1] + 1))  # one turn alone, not several
    assert items[turn[0] - 1][0].startswith("notebooks/05_")
    assert items[turn[-1]][0].startswith("notebooks/06_")
    assert any(not items[i][0].startswith("notebooks/") for i in turn)


def test_after_the_notebooks_the_unit_tests_then_the_longest_module():
    items = [node for node, _ in collected()]
    last_notebook = max(i for i, node in enumerate(items) if node.startswith("notebooks/"))
    after = [node.split("::")[0] for node in items[last_notebook + 1:]]
    units = [i for i, path in enumerate(after) if path.startswith("tests/unit/")]
    assert units == list(range(len(units))) and units  # all of them, first
    assert after[len(units)] == "tests/integration/test_rerun_and_catch_up.py"


def test_the_korean_notebooks_are_not_run_under_nbval():
    # They run the English notebooks' code again; tests/integration/test_korean_notebooks.py
    # runs some of them in batch instead.
    assert not [node for node, _ in collected() if node.startswith("notebooks/ko/")]
