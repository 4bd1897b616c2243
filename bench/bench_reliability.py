"""Figures for the reliability burst: alarms through SNS while the local Slack misbehaves.

    .venv/bin/python bench/bench_reliability.py [--burst 200] [--rounds 10] [--no-permanent]

Runs in its own temporary LABKIT_HOME, with Lambda's retry waits compressed to 0.2 s and the
local Slack's rate limit off (as tests/integration/test_reliability.py does, whose pipeline
and counting it reuses). Two scenes:

* transient: the lab's function (timeout 3 s) behind a fault plan of --rounds rounds of
  429 (Retry-After 1 s), 500, dropped connection and 50 ms delay;
* permanent: a function (timeout 1 s) behind a webhook that answers 500 to every request.

For each: alarms published, delivered, dead-lettered, lost, duplicates; the function's
invocations (retries included); the time from the first publish until every alarm was
accounted for (delivered or dead-lettered). Asserts nothing: compare figures, not thresholds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.local import cloud  # noqa: E402
from labkit.local.awslambda.runtime import RETRY_DELAYS_ENV  # noqa: E402
from tests.integration.test_reliability import (  # noqa: E402
    RETRY_DELAYS,
    TRANSIENT_ROUND,
    Pipeline,
)


def scene(state, name: str, timeout: int, faults: list[dict], burst: int,
          quiet: float) -> list[str]:
    """Run one burst; returns the table row."""
    pipeline = Pipeline.deploy(state, name, timeout=timeout)
    pipeline.plan_faults(faults)
    run = name[0] + uuid.uuid4().hex[:6]
    started = time.monotonic()
    ids = pipeline.publish_burst(run, burst)
    published = time.monotonic() - started
    result, accounted = pipeline.drain(run, ids, quiet=quiet, timeout=600)
    drained = f"{accounted - started:.1f}" if accounted is not None else "never"
    return [name, str(result.published), str(result.delivered), str(result.dead_lettered),
            str(result.lost), str(result.duplicates), str(pipeline.invocations()),
            f"{published:.1f}", drained]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=200, help="alarms per scene (200)")
    parser.add_argument("--rounds", type=int, default=10,
                        help="rounds of 429/500/drop/delay in the transient scene (10)")
    parser.add_argument("--no-permanent", action="store_true", help="skip the permanent scene")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="labkit-bench-reliability-"))
    os.environ[RETRY_DELAYS_ENV] = RETRY_DELAYS
    state, _, _ = cloud.up(home, rate_limit=False)
    rows = []
    try:
        rows.append(scene(state, "transient", 3, TRANSIENT_ROUND * args.rounds, args.burst,
                          quiet=4.0))
        if not args.no_permanent:
            rows.append(scene(state, "permanent", 1, [{"kind": "500", "always": True}],
                              args.burst, quiet=1.0))
    finally:
        cloud.down(home)

    header = ["scene", "published", "delivered", "dead-lettered", "lost", "duplicates",
              "invocations", "publish s", "drained s"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    print(f"(Lambda retry waits {RETRY_DELAYS} s; 'drained': first publish until every alarm "
          "was delivered or dead-lettered)")


if __name__ == "__main__":
    main()
