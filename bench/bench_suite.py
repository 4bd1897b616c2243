"""Time the test suite: its wall time, and where the time goes, module by module.

Run from the repository root (set-up done: `python3 tasks.py test --collect-only -q` once):

    .venv/bin/python bench/bench_suite.py [--workers auto] [-- extra pytest arguments]

It runs `pytest` as `python3 tasks.py test` does (`--workers 0` runs it in one process), writes
a JUnit report to a temporary folder and prints:

  * the wall time, and the count of tests passed / failed / errored / skipped;
  * per test module (a notebook counts as one): its tests and the seconds they took, slowest
    first - with several workers these overlap, so they add up to more than the wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_of(case: ET.Element) -> str:
    """The test module (or notebook) a JUnit test case belongs to."""
    name = case.get("classname", "")
    if ".ipynb" in name or name.startswith("notebooks"):
        return name.split("::")[0].replace(".", "/", name.count(".") - 1)
    return name.rsplit(".", 1)[0] if name.count(".") > 2 else name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="auto",
                        help="pytest-xdist workers: auto (the default run) or a number; 0 runs "
                             "in one process")
    parser.add_argument("--top", type=int, default=25, help="modules to list (default 25)")
    parser.add_argument("--log", type=Path,
                        help="keep pytest's own output (its slowest-durations list) in this file")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-n", str(args.workers), f"--junitxml={report}", *args.pytest_args]
        began = time.perf_counter()
        with open(args.log or os.devnull, "w") as out:
            done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - began
        tree = ET.parse(report)
    cases = list(tree.iter("testcase"))
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        module = module_of(case)
        seconds[module] += float(case.get("time", 0))
        counts[module] += 1
    failed = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    print(f"wall time {int(wall // 60)} min {wall % 60:.0f} s with -n {args.workers}: "
          f"{len(cases) - failed - errors - skipped} passed, {failed} failed, {errors} errors, "
          f"{skipped} skipped (exit code {done.returncode})")
    print(f"\n| module | tests | seconds |\n|---|---:|---:|")
    for module, total in sorted(seconds.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"| {module} | {counts[module]} | {total:.1f} |")
    rest = sorted(seconds.items(), key=lambda kv: -kv[1])[args.top:]
    if rest:
        print(f"| ({len(rest)} more) | {sum(counts[m] for m, _ in rest)} | "
              f"{sum(s for _, s in rest):.1f} |")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
