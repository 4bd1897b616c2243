"""Figures for the set-up: a fresh clone of HEAD, set up with uv (and with pip), then the lab.

    python3 bench/bench_setup.py [--pip] [--cold] [--no-lab] [--keep]

Clones the repository's HEAD (committed work only) into a temporary folder per run and times:

* `python3 tasks.py setup` in a fresh clone, with uv; with --pip, also with pip only
  (LABKIT_INSTALLER=pip);
* `python3 tasks.py lab` in another fresh clone: set-up and the whole lab, until it has finished
  (the figure a new learner sees).

Package caches: by default uv's and pip's usual ones, as a developer who clones again has them
(the first run of all fills them); --cold gives every run empty caches of its own, as on a
machine that never installed anything, so every package is downloaded.

Runs with the system's Python alone (no .venv needed). Each lab run has its own temporary
LABKIT_HOME, and its local cloud is stopped at the end. Prints a table; asserts nothing
(machines are noisy: compare figures, not thresholds).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP_LINE = re.compile(r"Set up with (\w+) in (\d+) s")


def folder_size(path: Path) -> tuple[float, int]:
    """(MiB, files) under *path*; a file linked in twice counts once, as `du` does."""
    seen: set[tuple[int, int]] = set()
    total = files = 0
    for folder, _, names in os.walk(path):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
            files += 1
    return total / 2**20, files


def fresh_clone(work: Path, name: str) -> Path:
    """A clone of this repository's HEAD in *work*/*name*."""
    clone = work / name
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    return clone


def timed(command: list[str], clone: Path, env: dict[str, str], log: Path) -> tuple[float, str]:
    """(seconds, output) of *command* run in *clone*; stops the benchmark if it fails."""
    began = time.perf_counter()
    done = subprocess.run(command, cwd=clone, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - began
    log.write_text(done.stdout)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-25:])
        sys.exit(f"{tail}\n\n`{' '.join(command)}` failed in {clone} (exit {done.returncode}).")
    return elapsed, done.stdout


def run_env(work: Path, name: str, cold: bool, installer: str) -> dict[str, str]:
    """The environment of one run: no active virtual environment, caches as asked."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONHOME", "LABKIT_INSTALLER")}
    if installer == "pip":
        env["LABKIT_INSTALLER"] = "pip"
    if cold:
        env["UV_CACHE_DIR"] = str(work / f"{name}-uv-cache")
        env["PIP_CACHE_DIR"] = str(work / f"{name}-pip-cache")
    return env


def bench_setup(work: Path, installer: str, cold: bool) -> dict[str, str]:
    """Time `python3 tasks.py setup` in a fresh clone with *installer*."""
    name = f"setup-{installer}"
    clone = fresh_clone(work, name)
    elapsed, _ = timed([sys.executable, "tasks.py", "setup"], clone,
                       run_env(work, name, cold, installer), work / f"{name}.log")
    size, files = folder_size(clone / ".venv")
    return {"what": f"fresh clone → `python3 tasks.py setup` ({installer})",
            "figure": f"{elapsed:.1f} s; .venv {size:.0f} MiB in {files:,} files"}


def bench_lab(work: Path, cold: bool) -> dict[str, str]:
    """Time `python3 tasks.py lab` in a fresh clone: set-up, then the whole lab."""
    name = "lab"
    clone = fresh_clone(work, name)
    env = run_env(work, name, cold, "uv")
    env["LABKIT_HOME"] = str(work / "labkit-home")
    try:
        elapsed, output = timed([sys.executable, "tasks.py", "lab"], clone, env,
                                work / f"{name}.log")
    finally:
        python = clone / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if python.exists():
            subprocess.run([str(python), "-m", "labkit", "local", "down"], cwd=clone, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = SETUP_LINE.search(output)
    detail = f" (set-up with {found[1]} {found[2]} s)" if found else ""
    return {"what": "fresh clone → `python3 tasks.py lab` finished",
            "figure": f"{elapsed:.1f} s{detail}"}


def main() -> None:
    """Parse the options, run the timings, print the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pip", action="store_true",
                        help="also time the set-up with pip only (a few minutes more)")
    parser.add_argument("--cold", action="store_true",
                        help="empty package caches for every run (everything is downloaded)")
    parser.add_argument("--no-lab", action="store_true",
                        help="time the set-up only, not `python3 tasks.py lab`")
    parser.add_argument("--keep", action="store_true",
                        help="keep the clones and logs, and say where they are")
    args = parser.parse_args()

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-setup-"))
    rows = []
    try:
        rows.append(bench_setup(work, "uv", args.cold))
        if args.pip:
            rows.append(bench_setup(work, "pip", args.cold))
        if not args.no_lab:
            rows.append(bench_lab(work, args.cold))
    finally:
        if args.keep:
            print(f"clones and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    caches = "empty caches" if args.cold else "the usual package caches"
    print(f"\nHEAD {head}, {os.cpu_count()} cores, {caches}\n")
    width = max(len(row["what"]) for row in rows)
    for row in rows:
        print(f"{row['what']:<{width}}  {row['figure']}")


if __name__ == "__main__":
    main()
