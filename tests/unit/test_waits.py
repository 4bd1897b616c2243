"""Shortened waits (``LABKIT_WAIT_SCALE``): the setting, the function's clock on both sides of
the worker's pipe, Lambda's retry delays, the local Slack's rate limit, and the reaper.

Everything here runs in this process on stand-ins: no clock is read where a fake one can be
given, and no test depends on how fast this machine is.
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.test import Client

from labkit.local.awslambda import worker as worker
from labkit.local.awslambda import runtime
from labkit.local.awslambda.sandbox import InvocationClock
from labkit.local.slack.app import RateLimiter, make_slack_app, scaled_clock
from labkit.local.slack.store import SlackStore
from labkit.local.waits import WAIT_SCALE_ENV, wait_scale, wait_scale_from_environment

# --------------------------------------------------------------------------------------------
# The setting


@pytest.mark.parametrize(("setting", "scale"), [
    (None, 1.0), ("", 1.0), ("  ", 1.0), ("0.1", 0.1), (" 0.5 ", 0.5), ("1", 1.0),
    ("0.001", 0.001),
    # Waits only get shorter, and never vanish; anything else is ignored, not guessed at.
    ("2", 1.0), ("0", 1.0), ("-0.1", 1.0), ("0.0001", 1.0), ("soon", 1.0), ("nan", 1.0),
    ("inf", 1.0),
])
def test_the_setting(setting, scale):
    assert wait_scale(setting) == scale


def test_the_setting_is_read_from_the_environment():
    assert wait_scale_from_environment({WAIT_SCALE_ENV: "0.25"}) == 0.25
    assert wait_scale_from_environment({}) == 1.0


# --------------------------------------------------------------------------------------------
# The local cloud's side: when the invocation's timeout comes


def test_at_scale_one_the_clock_is_the_real_one():
    clock = InvocationClock(started=100.0, timeout_s=3.0)
    assert clock.elapsed(101.5) == 1.5
    assert clock.deadline() == 103.0


def test_a_shortened_sleep_counts_in_full():
    clock = InvocationClock(started=100.0, timeout_s=4.0, scale=0.1)
    clock.sleep_started(100.5, 2.0)  # sleeps 0.2 s for real
    assert clock.elapsed(100.6) == pytest.approx(1.5)  # half-way through: 0.5 + 1.0
    assert clock.elapsed(100.7) == pytest.approx(2.5)  # awake again: 0.5 + 2.0
    assert clock.elapsed(101.0) == pytest.approx(2.8)
    # The 1.5 s left after the sleep are real seconds: 100.7 + 1.5.
    assert clock.deadline() == pytest.approx(102.2)
    clock.sleep_started(101.0, 1.0)  # 2.8 + 1.0 still fits in 4
    assert clock.deadline() == pytest.approx(101.1 + 0.2)


def test_a_sleep_past_the_timeout_ends_the_invocation_at_the_timeout():
    clock = InvocationClock(started=100.0, timeout_s=1.0, scale=0.1)
    clock.sleep_started(100.2, 30.0)
    # 0.2 s were used; the remaining 0.8 s of the function's time pass in 0.08 real seconds.
    assert clock.deadline() == pytest.approx(100.28)
    assert clock.elapsed(clock.deadline()) == pytest.approx(1.0)
    # Noticed late, the timeout is late by real seconds, not by sped-up ones.
    assert clock.elapsed(100.33) == pytest.approx(1.05)


def test_a_sleep_ending_exactly_at_the_timeout_gives_one_deadline_either_way():
    clock = InvocationClock(started=0.0, timeout_s=3.0, scale=0.5)
    clock.sleep_started(1.0, 2.0)  # 1 + 2 = 3: the timeout falls on the wake-up
    assert clock.deadline() == pytest.approx(2.0)
    assert clock.elapsed(2.0) == pytest.approx(3.0)


# --------------------------------------------------------------------------------------------
# The worker's side: the function's sleep, remaining time and duration


class FakeChannel:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


@pytest.fixture
def waits():
    channel, slept = FakeChannel(), []
    shortened = worker.ShortWaits(0.1, channel, real_sleep=slept.append)  # type: ignore[arg-type]
    return shortened, channel, slept


def test_outside_an_invocation_sleeps_are_whole(waits):
    shortened, channel, slept = waits
    shortened.sleep(2)
    assert (slept, channel.sent, shortened.skipped) == ([2], [], 0.0)


def test_in_an_invocation_a_sleep_is_announced_shortened_and_counted(waits):
    shortened, channel, slept = waits
    shortened.begin()
    shortened.sleep(2)
    shortened.sleep(0.5)
    assert channel.sent == [{"type": "sleep", "seconds": 2.0}, {"type": "sleep", "seconds": 0.5}]
    assert slept == pytest.approx([0.2, 0.05])
    assert shortened.skipped == pytest.approx(2.25)
    shortened.end()
    shortened.begin()  # the next invocation starts from nothing skipped
    assert shortened.skipped == 0.0


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), "2", None, True])
def test_what_python_would_refuse_or_not_wait_for_goes_to_python_as_it_is(waits, seconds):
    shortened, channel, slept = waits
    shortened.begin()
    shortened.sleep(seconds)
    assert (slept, channel.sent, shortened.skipped) == ([seconds], [], 0.0)


def test_other_threads_sleep_as_long_as_they_ask(waits):
    shortened, channel, slept = waits
    shortened.begin()
    other = threading.Thread(target=shortened.sleep, args=(1.0,))
    other.start()
    other.join()
    assert (slept, channel.sent) == ([1.0], [])


def test_the_context_counts_shortened_sleeps_as_time_used(waits):
    shortened, _, _ = waits
    shortened.begin()
    context = worker.LambdaContext("r1", "arn", 4000, shortened)
    before = context.get_remaining_time_in_millis()
    shortened.sleep(2)
    after = context.get_remaining_time_in_millis()
    # The stand-in sleep takes no time, so what shows is the 1.8 s counted but not slept (the
    # real 0.2 s would come on top).
    assert before <= 4000 and after <= before - 1800


def test_an_invocation_reports_its_sleeps_in_its_duration(tmp_path, monkeypatch):
    import sys
    import time

    (tmp_path / "sleepy.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(3)\n    return 'rested'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sleepy", raising=False)
    channel = FakeChannel()
    shortened = worker.ShortWaits(0.1, channel, real_sleep=lambda seconds: None)
    monkeypatch.setattr(time, "sleep", shortened.sleep)  # as the worker's main() does
    runner = worker.Worker(channel, "sleepy.handler", shortened)  # type: ignore[arg-type]
    assert runner.init()
    runner.invoke({"request_id": "r1", "event": "{}", "remaining_ms": 5000})
    monkeypatch.delitem(sys.modules, "sleepy", raising=False)

    result = channel.sent[-1]
    assert result["type"] == "result" and result["payload"] == '"rested"'
    # The 2.7 s counted but not slept (the stand-in sleep takes no time for the other 0.3 s).
    assert result["duration_ms"] >= 2700
    assert {"type": "sleep", "seconds": 3.0} in channel.sent


@pytest.mark.parametrize(("argv", "scale"), [
    ([], 1.0), (["--wait-scale", "0.1"], 0.1), (["--wait-scale"], 1.0),
    (["--wait-scale", "x"], 1.0), (["--wait-scale", "1"], 1.0), (["--wait-scale", "0"], 1.0),
    (["--wait-scale", "3"], 1.0),
])
def test_the_workers_command_line(argv, scale):
    assert worker.wait_scale_argument(argv) == scale


# --------------------------------------------------------------------------------------------
# The local Slack's rate limit, and the runtime's own timers


def test_a_scaled_clock_runs_faster():
    ticks = iter([10.0, 11.0])
    clock = scaled_clock(0.1, lambda: next(ticks))
    assert clock() == pytest.approx(100.0) and clock() == pytest.approx(110.0)
    real = lambda: 5.0  # noqa: E731
    assert scaled_clock(1.0, real) is real


def test_the_rate_limit_lasts_as_long_as_the_senders_shortened_wait():
    now = [0.0]
    limiter = RateLimiter(clock=scaled_clock(0.1, lambda: now[0]))
    assert [limiter.acquire("h") for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert limiter.acquire("h") == pytest.approx(1.0)  # Retry-After 1: the sender sleeps 0.1 s
    now[0] += 0.1
    assert limiter.acquire("h") == 0.0


def test_the_local_slacks_bucket_follows_the_scale(monkeypatch):
    from labkit.local.slack import app as slack_module

    now = [0.0]
    monkeypatch.setattr(slack_module.time, "monotonic", lambda: now[0])
    store = SlackStore()
    hook = store.create_webhook("project")
    client = Client(make_slack_app(store, wait_scale=0.1))
    answers = [client.post(hook.path, json={"text": f"m{i}"}).status_code for i in range(4)]
    assert answers == [200, 200, 200, 429]
    now[0] += 0.1  # one second of the rate limit, as the sender counts it
    assert client.post(hook.path, json={"text": "m4"}).status_code == 200


@pytest.mark.parametrize(("idle", "every"), [(600.0, 5.0), (1.0, 0.5), (0.01, 0.05)])
def test_idle_environments_are_looked_for_often_enough(idle, every):
    assert runtime.reap_interval(idle) == every


def test_lambdas_retry_delays_are_shortened_by_the_scale(tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.RETRY_DELAYS_ENV, raising=False)
    started = runtime.Runtime("http://127.0.0.1:1", "", tmp_path, wait_scale=0.1)
    try:
        assert started.async_invoker.delays == pytest.approx((0.1, 0.2))
    finally:
        started.shutdown()
    lesson = runtime.Runtime("http://127.0.0.1:1", "", tmp_path, wait_scale=1.0)
    try:
        assert lesson.async_invoker.delays == (1.0, 2.0)
    finally:
        lesson.shutdown()
