"""Figures for a class: a rehearsal of N learners, and `labkit check` over M learners.

    .venv/bin/python bench/bench_classroom.py [--learners 10] [--check-learners 30] [--workers N]

1. `labkit run --students` with N learners (the whole lab each, cleanup included): wall time,
   and the local cloud's peak memory (RSS of its process and its function workers, sampled
   every 0.2 s).
2. M learners made to reach step 03 (a rehearsal of 00-03 without cleanup), then
   `labkit check --students` over steps 00-06 for all M: wall time, and per learner.

Runs in a temporary LABKIT_HOME, so a learner's own local cloud is never touched. Prints the
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from labkit.local import cloud

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory(threading.Thread):
    """Samples the local cloud's process tree until stopped; keeps the peak RSS in bytes."""

    def __init__(self, home: Path) -> None:
        super().__init__(daemon=True)
        self.home, self.peak, self._done = home, 0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            state = cloud.find(self.home).state
            if state is None:
                continue
            try:
                process = psutil.Process(state.pid)
                tree = [process, *process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                continue

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def labkit(*args: str, env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "labkit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        sys.exit(f"labkit {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--check-learners", type=int, default=30)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        env = dict(os.environ, LABKIT_HOME=str(home), LABKIT_BATCH="1")
        roster = Path(folder) / "class.txt"
        roster.write_text("\n".join(f"s{n:02d}" for n in range(args.learners)) + "\n")
        cloud.up(home)
        sampler = PeakMemory(home)
        sampler.start()
        wall = labkit("run", "--students", str(roster), "--workers", str(args.workers), "-q",
                      "--out", str(Path(folder) / "rehearsal"), env=env)
        peak = sampler.stop()
        print(f"rehearsal: {args.learners} learners, {args.workers} at a time: {wall:.0f} s "
              f"wall ({wall / args.learners:.1f} s per learner); local cloud peak RSS "
              f"{peak / 2**20:.0f} MiB (process and function workers)")

        big = Path(folder) / "big.txt"
        big.write_text("\n".join(f"c{n:02d}" for n in range(args.check_learners)) + "\n")
        labkit("run", "--students", str(big), "--workers", str(args.workers), "-q",
               "--only", "00", "01", "02", "03", "--out", str(Path(folder) / "to03"), env=env)
        seconds = labkit("check", "--students", str(big), "--steps", "00-06", "--no-report",
                         env=env)
        print(f"labkit check: {args.check_learners} learners x 7 steps in {seconds:.1f} s "
              f"({seconds / args.check_learners * 1000:.0f} ms per learner, incl. start-up)")
        cloud.down(home)


if __name__ == "__main__":
    main()
