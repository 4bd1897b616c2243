"""What the metric agent publishes, and that its thread survives errors and reports them."""

from __future__ import annotations

import datetime as dt
import threading
import time

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends

from labkit.bastion import metric_agent
from labkit.bastion.machine import LocalBastion
from labkit.errors import LabError
from labkit.bastion.metric_agent import (MetricAgent, aligned, datapoint, publish_datapoints,
                                 scripted_times)

REGION = "ap-northeast-2"
UTC = dt.timezone.utc
IDLE = lambda: 1.0  # noqa: E731 - a source reading an idle instance


def at(hour: int, minute: int, second: float = 0) -> dt.datetime:
    whole = int(second)
    return dt.datetime(2025, 3, 1, hour, minute, whole, int((second - whole) * 1e6), tzinfo=UTC)


def wait_until(condition, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def away_from_a_period_end(period: int, margin: float) -> None:
    """Wait, if need be, until at least *margin* seconds remain of the current period."""
    now = dt.datetime.now(UTC)
    left = (aligned(now, period) + dt.timedelta(seconds=period) - now).total_seconds()
    if left < margin:
        time.sleep(left + 0.1)


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    metric_agent.stop_all()


@pytest.fixture
def cloudwatch():
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def published(instance_id: str) -> list[tuple[dt.datetime, float]]:
    """(timestamp, value) of the CPUUtilization datapoints moto holds for *instance_id*."""
    backend = cloudwatch_backends["123456789012"][REGION]
    points = []
    for d in backend.metric_data:
        dims = {x.name: x.value for x in d.dimensions}
        if (d.namespace, d.name, dims) == ("AWS/EC2", "CPUUtilization",
                                           {"InstanceId": instance_id}):
            assert d.unit == "Percent"
            points.append((d.timestamp.replace(tzinfo=UTC), d.value))
    return sorted(points)


class FakeCloudWatch:
    """Records put_metric_data calls; fails the calls whose numbers are in *fail*."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.calls: list[dict] = []
        self.fail = fail or set()
        self.lock = threading.Lock()

    def put_metric_data(self, **kwargs):
        with self.lock:
            if not self.calls:
                self.first_call_at = dt.datetime.now(UTC)
            self.calls.append(kwargs)
            number = len(self.calls)
        if number in self.fail:
            raise ConnectionError(f"call {number} failed")
        return {}

    def get_metric_statistics(self, **kwargs):
        return {"Datapoints": []}  # nothing published before


# -- pure parts ------------------------------------------------------------------------------
def test_datapoint_is_an_ec2_cpu_utilisation_in_percent_at_high_resolution():
    when = at(12, 0, 5)
    assert datapoint("i-0abc", 87, when) == {
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-0abc"}],
        "Timestamp": when,
        "Value": 87.0,
        "Unit": "Percent",
        "StorageResolution": 1,
    }


@pytest.mark.parametrize("when, period, expected", [
    (at(12, 0, 0), 10, at(12, 0, 0)),
    (at(12, 0, 9.9), 10, at(12, 0, 0)),
    (at(12, 0, 10), 10, at(12, 0, 10)),
    (at(12, 0, 59), 30, at(12, 0, 30)),
    (at(12, 1, 59), 60, at(12, 1, 0)),
    (at(12, 7, 30), 300, at(12, 5, 0)),
])
def test_aligned(when, period, expected):
    assert aligned(when, period) == expected


@pytest.mark.parametrize("count, period, start, now, expected", [
    # Without a start: ending in the current period.
    (3, 10, None, at(12, 0, 27), [at(12, 0, 0), at(12, 0, 10), at(12, 0, 20)]),
    (1, 60, None, at(12, 5, 59), [at(12, 5, 0)]),
    (0, 10, None, at(12, 0, 27), []),
    # From a start, aligned down.
    (3, 10, at(12, 0, 3), None, [at(12, 0, 0), at(12, 0, 10), at(12, 0, 20)]),
    (2, 60, at(12, 0, 30), None, [at(12, 0, 0), at(12, 1, 0)]),
])
def test_scripted_times(count, period, start, now, expected):
    assert scripted_times(count, period, start, now) == expected


@pytest.mark.parametrize("period", [0, 5, 15, 45, 59, 90, -60])
def test_periods_an_alarm_cannot_use_are_refused(period):
    with pytest.raises(ValueError, match="period"):
        publish_datapoints(FakeCloudWatch(), "i-1", [1.0], period=period)
    with pytest.raises(ValueError, match="period"):
        MetricAgent(FakeCloudWatch(), "i-1", IDLE, period=period)


@pytest.mark.parametrize("interval", [0, -1, 10.5, 60])
def test_an_interval_longer_than_the_period_is_refused(interval):
    with pytest.raises(ValueError, match="interval"):
        MetricAgent(FakeCloudWatch(), "i-1", IDLE, period=10, interval=interval)


# -- scripted datapoints, in moto ------------------------------------------------------------
def test_publish_datapoints_puts_one_aligned_datapoint_per_period(cloudwatch):
    start = at(12, 0, 4)
    points = publish_datapoints(cloudwatch, "i-0abc", [10, 80, 95.5], period=10, start=start)
    expected = [(at(12, 0, 0), 10.0), (at(12, 0, 10), 80.0), (at(12, 0, 20), 95.5)]
    assert points == expected
    assert published("i-0abc") == expected
    assert published("i-other") == []


def test_publish_datapoints_by_default_ends_now_and_the_alarm_statistic_reads_it(cloudwatch):
    before = dt.datetime.now(UTC)
    points = publish_datapoints(cloudwatch, "i-0abc", [20, 60, 100], period=10)
    assert [value for _, value in points] == [20.0, 60.0, 100.0]
    assert aligned(before, 10) <= points[-1][0] <= dt.datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0abc"}],
        StartTime=points[0][0], EndTime=points[-1][0] + dt.timedelta(seconds=10),
        Period=30, Statistics=["Average", "Maximum", "SampleCount"])["Datapoints"]
    assert [(s["Average"], s["Maximum"], s["SampleCount"]) for s in stats] == [(60.0, 100.0, 3.0)]


def test_many_datapoints_go_in_batches(cloudwatch):
    values = [float(v) for v in range(45)]
    publish_datapoints(cloudwatch, "i-0abc", values, period=10, start=at(12, 0))
    assert [value for _, value in published("i-0abc")] == values

    fake = FakeCloudWatch()
    publish_datapoints(fake, "i-0abc", values, period=10, start=at(12, 0))
    assert [len(call["MetricData"]) for call in fake.calls] == [20, 20, 5]
    assert {call["Namespace"] for call in fake.calls} == {"AWS/EC2"}


def test_standard_resolution_for_periods_of_a_minute_or_more():
    fake = FakeCloudWatch()
    publish_datapoints(fake, "i-1", [1.0], period=60)
    publish_datapoints(fake, "i-1", [1.0], period=10)
    assert [c["MetricData"][0]["StorageResolution"] for c in fake.calls] == [60, 1]


# -- the agent's thread ----------------------------------------------------------------------
def test_the_agent_publishes_what_it_samples(monkeypatch):
    readings = iter([0.0, 12.5, 97.0, 55.0] + [50.0] * 1000)
    fake = FakeCloudWatch()
    with MetricAgent(fake, "i-0abc", lambda: next(readings), period=10, interval=0.02) as agent:
        wait_until(lambda: len(agent.samples) >= 3)
    assert not agent.running
    # The first reading only sets the source's reference point and is not published.
    assert [value for _, value in agent.samples[:3]] == [12.5, 97.0, 55.0]
    assert len(fake.calls) == len(agent.samples)
    first = fake.calls[0]
    assert first["Namespace"] == "AWS/EC2"
    assert first["MetricData"] == [datapoint("i-0abc", 12.5, agent.samples[0][0])]
    times = [when for when, _ in agent.samples]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_errors_are_kept_and_reported_and_the_thread_keeps_going():
    fake = FakeCloudWatch(fail={2, 3})
    agent = MetricAgent(fake, "i-0abc", IDLE, interval=0.02).start()
    wait_until(lambda: len(agent.samples) >= 3)
    assert agent.running  # the failures did not end it
    agent.stop()
    errors = agent.errors
    assert [str(exc) for _, exc in errors] == ["call 2 failed", "call 3 failed"]
    assert "2 error(s)" in repr(agent)
    with pytest.raises(LabError) as caught:
        agent.raise_for_errors()
    assert caught.value.what.startswith(f"2 of {len(fake.calls)} CPU datapoints")
    assert "ConnectionError: call 3 failed" in caught.value.what
    assert caught.value.todo


def test_no_errors_raises_nothing():
    with MetricAgent(FakeCloudWatch(), "i-0abc", IDLE, interval=0.02) as agent:
        wait_until(lambda: len(agent.samples) >= 1)
    agent.raise_for_errors()
    assert agent.errors == []


def test_only_the_latest_errors_are_kept(monkeypatch):
    monkeypatch.setattr(metric_agent, "_KEEP_ERRORS", 3)
    agent = MetricAgent(FakeCloudWatch(fail=set(range(1, 11))), "i-0abc", IDLE)
    for _ in range(10):
        assert agent.sample_once() is None
    assert [str(exc) for _, exc in agent.errors] == ["call 8 failed", "call 9 failed",
                                                     "call 10 failed"]
    with pytest.raises(LabError, match="10 of 10"):
        agent.raise_for_errors()


def test_stop_is_safe_twice_and_start_is_idempotent():
    agent = MetricAgent(FakeCloudWatch(), "i-0abc", IDLE, interval=0.02)
    agent.stop()  # never started
    agent.start()
    thread = agent._thread
    assert agent.start()._thread is thread
    agent.stop()
    agent.stop()
    assert not agent.running and not thread.is_alive()


def test_stop_all_stops_forgotten_agents():
    agents = [MetricAgent(FakeCloudWatch(), f"i-{n}", IDLE, interval=0.02).start()
              for n in range(2)]
    assert metric_agent.stop_all() == 2
    assert not any(agent.running for agent in agents)


def test_the_agent_publishes_the_local_bastions_readings_to_moto(cloudwatch):
    bastion = LocalBastion("i-0real", vcpus=2)
    agent = bastion.start_agent(cloudwatch, period=10, interval=0.05)
    wait_until(lambda: len(agent.samples) >= 3)
    bastion.stop_agent()
    assert agent.errors == []
    points = published("i-0real")
    assert len(points) == len(agent.samples)
    # Nothing runs on the bastion: it reads idle, whatever else this computer does.
    assert all(0.0 <= value < 20.0 for _, value in points)


# -- the scripted bastion's replay -----------------------------------------------------------
def test_a_scripted_load_publishes_each_complete_period_once_and_nothing_live(monkeypatch):
    busy = {"value": 100.0}
    fake = FakeCloudWatch()
    away_from_a_period_end(10, margin=4.0)  # the whole test within one period
    agent = MetricAgent(fake, "i-0abc", lambda: 1.0, period=10, interval=0.02,
                        busy=lambda: busy["value"]).start()
    wait_until(lambda: len(fake.calls) >= 1)
    time.sleep(0.2)  # many intervals: the period is replayed once, not once per interval
    busy["value"] = None
    wait_until(lambda: any(v == 1.0 for _, v in agent.samples))
    agent.stop()
    replayed = [(when, value) for when, value in agent.samples if value == 100.0]
    # One period's worth of points (period / interval, at most the PutMetricData batches).
    assert len(replayed) == 500
    starts = {aligned(when, 10) for when, _ in replayed}
    assert len(starts) == 1
    (start,) = starts
    # The last complete period: it ended before the load's figures were published.
    assert start + dt.timedelta(seconds=10) <= fake.first_call_at
    assert all(start <= when < start + dt.timedelta(seconds=10) for when, _ in replayed)
    # While the load "ran", no live idle value was published.
    live = [when for when, value in agent.samples if value == 1.0]
    assert live and min(live) > fake.first_call_at


def test_a_period_that_already_holds_idle_points_still_reads_as_the_load(cloudwatch):
    """A re-run right after an earlier run: the period before the load holds idle points."""
    away_from_a_period_end(10, margin=4.0)  # the agent replays the period the test filled
    last = aligned(dt.datetime.now(UTC), 10) - dt.timedelta(seconds=10)
    cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
        datapoint("i-0re", 1.0, last + dt.timedelta(seconds=i)) for i in range(10)])
    agent = MetricAgent(cloudwatch, "i-0re", IDLE, period=10, interval=1.0,
                        busy=lambda: 100.0).start()
    wait_until(lambda: len(agent.samples) >= 90)
    agent.stop()
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0re"}], StartTime=last,
        EndTime=last + dt.timedelta(seconds=10), Period=10,
        Statistics=["Average", "SampleCount"])["Datapoints"]
    (period,) = stats
    assert period["SampleCount"] == 100.0
    assert period["Average"] == pytest.approx((90 * 100.0 + 10 * 1.0) / 100)
