"""Measure notebook 06 on the local bastion: wall time per CPU mode, and with the host busy.

Run from the repository root:

    .venv/bin/python bench/bench_bastion.py [--runs 3] [--no-busy]

It starts a local cloud in a temporary LABKIT_HOME, runs notebooks 00-05 once, then notebook 06
*runs* times in each mode and prints the median, min and max wall time of 06 (as `labkit run`
reports it):

  * measured - `stress --cpu 2` (or its Python stand-in) really runs on the 2-vCPU bastion;
  * scripted - nothing runs, the bastion's figures are replayed;
  * measured, host busy - as measured, with a CPU-bound process at the lowest priority on every
    core of this computer, outside the bastion (unless --no-busy).

For each measured run it also prints the highest and lowest CPU figure the bastion reported in
the evaluated periods (from the alarm's history), so a busy host shows in the figures too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.bastion.machine import stress_program  # noqa: E402
from labkit.local import cloud  # noqa: E402
from labkit.batch.notebooks import default_notebooks
from labkit.batch.run import run_notebooks  # noqa: E402


def _lowest_priority() -> None:
    os.setsid()
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write("19")
    except OSError:
        pass
    os.nice(19)


def alarm_figures(home: Path) -> tuple[float, float]:
    """(highest, lowest) value the alarm evaluated in its last ALARM and OK transitions."""
    import boto3

    state = cloud.find(home).state
    cw = boto3.client("cloudwatch", endpoint_url=state.endpoint_url, region_name="ap-northeast-2",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    items = cw.describe_alarm_history(AlarmName="mission-cpu-alarm",
                                      HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    values: dict[str, list[float]] = {}
    for item in sorted(items, key=lambda i: i["Timestamp"]):
        new = json.loads(item["HistoryData"])["newState"]
        values[new["stateValue"]] = new.get("stateReasonData", {}).get("recentDatapoints", [])
    return max(values.get("ALARM", [float("nan")])), min(values.get("OK", [float("nan")]))


def run_06(notebook: Path, out: Path, mode: str) -> float:
    (result,) = run_notebooks([notebook], {"bastion_cpu": mode}, out, progress=False)
    if result.status != "passed":
        raise SystemExit(f"06 failed in {mode} mode: {result.error}")
    return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of 06 per mode (default 3)")
    parser.add_argument("--no-busy", action="store_true", help="skip the busy-host runs")
    args = parser.parse_args()
    print(f"stress on this computer: {stress_program() or 'none (the Python stand-in runs)'}; "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        os.environ["LABKIT_HOME"] = home
        os.environ["LABKIT_BATCH"] = "1"
        notebooks = default_notebooks(ROOT)
        before = [p for p in notebooks if p.name[:2] < "06"]
        (six,) = [p for p in notebooks if p.name.startswith("06")]
        try:
            results = run_notebooks(before, {}, Path(out) / "setup", progress=False)
            assert all(r.status == "passed" for r in results), results
            modes = [("measured", False), ("scripted", False)]
            if not args.no_busy and hasattr(os, "setsid"):
                modes.append(("measured", True))
            for mode, busy in modes:
                hogs = []
                if busy:
                    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                             preexec_fn=_lowest_priority)
                            for _ in range(os.cpu_count() or 1)]
                try:
                    times, figures = [], []
                    for i in range(args.runs):
                        times.append(run_06(six, Path(out) / f"{mode}-{busy}-{i}", mode))
                        figures.append(alarm_figures(Path(home)))
                finally:
                    for hog in hogs:
                        hog.kill()
                        hog.wait()
                label = mode + (", host busy on every core" if busy else "")
                print(f"06 {label}: median {statistics.median(times):.1f} s "
                      f"(min {min(times):.1f}, max {max(times):.1f}); "
                      f"bastion under load {min(f[0] for f in figures):.0f}-"
                      f"{max(f[0] for f in figures):.0f} %, recovered at "
                      f"{min(f[1] for f in figures):.0f}-{max(f[1] for f in figures):.0f} %")
        finally:
            cloud.down(Path(home))


if __name__ == "__main__":
    main()
