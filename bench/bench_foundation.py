"""Figures for the foundation: local cloud start, a batch run of 00-02, a local Slack POST.

    .venv/bin/python bench/bench_foundation.py [--repeat N]

Each figure runs in its own temporary LABKIT_HOME, so a learner's local cloud is never touched.
Prints a table; asserts nothing (machines are noisy: compare figures, not thresholds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from labkit.local import cloud

ROOT = Path(__file__).resolve().parents[1]


def bench_start(repeat: int) -> list[float]:
    """Seconds from `up` to a cloud that answers, starting from nothing each time."""
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as home:
            began = time.perf_counter()
            state, _, _ = cloud.up(Path(home))
            cloud.fetch_status(state)
            times.append(time.perf_counter() - began)
            cloud.down(Path(home))
    return times


def bench_post(count: int) -> dict[str, list[float]]:
    """Round trips of one webhook POST to the local Slack, over HTTPS and plain HTTP."""
    with tempfile.TemporaryDirectory() as home:
        state, _, _ = cloud.up(Path(home), rate_limit=False)
        try:
            path = requests.post(state.slack_http_url + "/labkit/slack/webhooks",
                                 json={"channel": "bench"}, timeout=5).json()["path"]
            results = {}
            for label, base, verify in (("https", state.slack_https_url, state.ca_bundle),
                                        ("http", state.slack_http_url, True)):
                session = requests.Session()
                session.verify = verify
                times = []
                for i in range(count):
                    began = time.perf_counter()
                    answer = session.post(base + path, json={"text": f"bench {i}"}, timeout=5,
                                          verify=verify)
                    times.append(time.perf_counter() - began)
                    assert answer.text == "ok", answer.text
                results[label] = times
            return results
        finally:
            cloud.down(Path(home))


def bench_batch_run() -> float:
    """Wall time of `labkit run --only 00 01 02` on a fresh local cloud (cloud start included)."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, LABKIT_HOME=home)
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "labkit", "run", "-q", "--out", out,
                               "--only", "00", "01", "02"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - began
        cloud.down(Path(home))
        if done.returncode != 0:
            sys.exit(done.stdout + done.stderr)
        return elapsed


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"median {statistics.median(times) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   "
            f"n={len(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="cloud starts to time (default 5)")
    parser.add_argument("--posts", type=int, default=200, help="POSTs per scheme (default 200)")
    args = parser.parse_args()

    print(f"local cloud start to ready     {summary(bench_start(args.repeat))}")
    for label, times in bench_post(args.posts).items():
        print(f"local Slack POST round trip ({label:5}) {summary(times)}")
    print(f"labkit run 00-02 (wall)        {bench_batch_run():8.1f} s")


if __name__ == "__main__":
    main()
