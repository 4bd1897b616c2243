"""How long the local cloud waits: its settings, in one place.

A learner never sets any of these: the defaults are the lesson's (AWS's waits, compressed where
a lesson would otherwise stand still for minutes). The test suite turns them down for its whole
session (the repository's root ``conftest.py``), because a test about *what* happens needs no
real seconds to pass; the few tests about the waits themselves set the lesson's values again.
Each is an environment variable of the process that starts the local cloud, read when it starts.

``LABKIT_WAIT_SCALE`` (default 1)
    The waits of the local cloud last this fraction of their length, from 0.001 to 1: Lambda's
    delays before the asynchronous retries, a function's ``time.sleep`` calls while it runs an
    invocation (its backoff, its wait after Slack's ``Retry-After``), and the refill of the
    local Slack's rate limit (so a 429 ends as soon as the sender's shortened wait does). A
    wait still counts in full where it is measured: a function that sleeps 2 s sees 2 s less
    remaining time, its timeout comes as it would, its REPORT line says 2 s longer, and Slack
    still says ``Retry-After: 1``; so every decision made on time goes as at 1, only sooner.
    Work is never shortened: starting a function, an HTTP round trip, a slow answer planned
    on the local Slack (the sender waits for it with an HTTP timeout that no scale shortens,
    so it keeps its real length). 0.1 in tests.
``LABKIT_LAMBDA_RETRY_DELAYS`` (default ``"1,2"``; AWS: one minute, then two)
    Seconds before Lambda's retries of a failed asynchronous invocation, before the scale
    above applies (``awslambda.events.retry_delays``).
``LABKIT_LAMBDA_IDLE_SECONDS`` (default 600)
    How long an idle execution environment stays warm (``awslambda/runtime.py``).
``LABKIT_ALARM_TICK_SECONDS`` (default 1)
    How often the alarm service evaluates every alarm (``cloudwatch/alarms.py``). 0.25 in tests.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

WAIT_SCALE_ENV = "LABKIT_WAIT_SCALE"
DEFAULT_WAIT_SCALE = 1.0
# Below this a sleep would end before the function could notice it started.
MIN_WAIT_SCALE = 0.001


def wait_scale(setting: str | None) -> float:
    """The scale from a ``LABKIT_WAIT_SCALE`` value; a missing or unusable one gives 1.

    Waits only ever get shorter: a value above 1, zero, a negative or malformed one is ignored
    rather than guessed at.
    """
    try:
        value = float(setting) if setting and setting.strip() else DEFAULT_WAIT_SCALE
    except ValueError:
        return DEFAULT_WAIT_SCALE
    if not math.isfinite(value) or not MIN_WAIT_SCALE <= value <= 1.0:
        return DEFAULT_WAIT_SCALE
    return value


def wait_scale_from_environment(environ: Mapping[str, str] | None = None) -> float:
    """The scale this process was started with (``LABKIT_WAIT_SCALE``, default 1)."""
    environ = os.environ if environ is None else environ
    return wait_scale(environ.get(WAIT_SCALE_ENV))
