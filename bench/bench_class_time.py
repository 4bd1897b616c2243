"""Estimate how long each notebook takes in class, stepped through by a learner.

Run from the repository root (set-up done):

    .venv/bin/python bench/bench_class_time.py [--run DIR] [--only 00 01]

It runs the English notebooks once in batch on a fresh local cloud of its own, as `labkit run`
does (papermill; the lesson's waits, not the tests' shorter ones), or reads the executed
copies of an earlier run with `--run DIR`, and prints per notebook the minutes a class needs.

The model, per notebook (its figures are the constants below):

  * reading: every markdown cell's words at 200 words a minute (English);
  * every code cell: 20 s to read it and run it;
  * an exercise cell (one holding `### BEGIN SOLUTION`) also 60 s of thinking and typing per
    non-blank line the learner writes (between `### BEGIN SOLUTION` and `### END SOLUTION`);
  * plus every code cell's own execution time, from the executed copy's metadata
    (`papermill.duration`), so waits such as an alarm's periods count in full.

The total is rounded to the nearest 5 minutes (at least 5). It is a stepping-through time for
a learner who reads everything once, not the batch time `labkit run` reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 200
SECONDS_PER_CODE_CELL = 20
SECONDS_PER_WRITTEN_LINE = 60
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def source_of(cell: dict) -> str:
    """A cell's source as one string (nbformat stores a list of lines or a string)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def reading_seconds(notebook: dict) -> float:
    """Seconds to read every markdown cell at :data:`WORDS_PER_MINUTE`."""
    words = sum(len(source_of(c).split()) for c in notebook["cells"]
                if c["cell_type"] == "markdown")
    return words / WORDS_PER_MINUTE * 60


def written_lines(source: str) -> int:
    """The non-blank lines of *source* between the solution markers: what a learner writes."""
    count, inside = 0, False
    for line in source.splitlines():
        if BEGIN in line or END in line:
            inside = BEGIN in line
        elif inside and line.strip():
            count += 1
    return count


def working_seconds(notebook: dict) -> float:
    """Seconds of reading, thinking, typing and running by hand, without the execution."""
    return sum(SECONDS_PER_CODE_CELL + SECONDS_PER_WRITTEN_LINE * written_lines(source_of(cell))
               for cell in notebook["cells"] if cell["cell_type"] == "code")


def execution_seconds(executed: dict) -> float:
    """The code cells' execution time, as papermill recorded it in the executed copy."""
    return sum(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
               for cell in executed["cells"] if cell["cell_type"] == "code")


def class_minutes(seconds: float) -> int:
    """*seconds* rounded to the nearest 5 minutes, at least 5."""
    return max(5, 5 * round(seconds / 300))


def run_all(out: Path, only: list[str] | None) -> None:
    """Execute the English notebooks into *out* on a local cloud started for this run."""
    from labkit.batch.notebooks import default_notebooks
    from labkit.batch.run import run_notebooks
    from labkit.local import cloud

    home = Path(tempfile.mkdtemp(prefix="labkit-class-time-"))
    os.environ["LABKIT_HOME"] = str(home)
    cloud.up(home)
    try:
        results = run_notebooks(default_notebooks(ROOT, only), {}, out, progress=False)
    finally:
        cloud.down(home)
    failed = [f"{r.notebook}: {r.status} {r.error}" for r in results if r.status != "passed"]
    if failed:
        # A busy computer can starve notebook 06's real CPU load: run it again on a quiet one.
        sys.exit(f"These notebooks did not pass, so their times mean nothing (executed copies "
                 f"in {out}):\n" + "\n".join(failed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", metavar="DIR", help="read the executed copies in DIR "
                                                     "instead of running the notebooks")
    parser.add_argument("--only", nargs="+", metavar="NN", help="these notebooks only")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from labkit.batch.notebooks import default_notebooks

    if args.run:
        out = Path(args.run)
    else:
        out = Path(tempfile.mkdtemp(prefix="labkit-class-time-run-"))
        run_all(out, args.only)
    print(f"{'notebook':<34} {'read':>6} {'work':>6} {'run':>6} {'total':>7}  in class")
    # run: the execution alone, in seconds (often under a minute)
    for path in default_notebooks(ROOT, args.only):
        source = json.loads(path.read_text(encoding="utf-8"))
        executed = json.loads((out / path.name).read_text(encoding="utf-8"))
        read, work, run = reading_seconds(source), working_seconds(source), \
            execution_seconds(executed)
        total = read + work + run
        print(f"{path.name:<34} {read / 60:>5.1f}m {work / 60:>5.1f}m {run:>5.0f}s "
              f"{total / 60:>6.1f}m  {class_minutes(total)} min")
    print(f"(executed copies: {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
