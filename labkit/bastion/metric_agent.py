"""The local bastion's CPU utilisation, published as its ``AWS/EC2 CPUUtilization``.

On AWS the hypervisor reports an instance's CPUUtilization; on the local target
:class:`MetricAgent` plays that part: every interval it reads the bastion's figure (its *source*;
:meth:`labkit.bastion.machine.LocalBastion.start_agent` wires it) and publishes it under the
bastion's InstanceId.

Datapoints are high resolution (``StorageResolution=1``) so an alarm with a 10-second period can
evaluate them. :func:`publish_datapoints` publishes scripted values instead, for runs that must
give the same result every time.

AWS reserves the ``AWS/`` namespaces for its own services, so on the aws target the instance's
real metric is used and nothing here is called.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any, Callable

from ..errors import LabError
from ..i18n import t

NAMESPACE = "AWS/EC2"
METRIC = "CPUUtilization"
# PutMetricData takes at most this many datapoints per call (the long-standing limit).
_BATCH = 20
# Errors kept for the report; older ones are dropped so a long run cannot grow without end.
_KEEP_ERRORS = 100

_live: "weakref.WeakSet[MetricAgent]" = weakref.WeakSet()


def datapoint(instance_id: str, value: float, when: dt.datetime,
              storage_resolution: int = 1) -> dict[str, Any]:
    """One ``MetricData`` item: CPUUtilization of *instance_id* at *when*, in percent."""
    return {
        "MetricName": METRIC,
        "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
        "Timestamp": when,
        "Value": float(value),
        "Unit": "Percent",
        "StorageResolution": storage_resolution,
    }


def aligned(when: dt.datetime, period: int) -> dt.datetime:
    """*when* rounded down to a multiple of *period* seconds (UTC), as CloudWatch buckets it."""
    seconds = int(when.timestamp())
    return dt.datetime.fromtimestamp(seconds - seconds % period, tz=dt.timezone.utc)


def scripted_times(count: int, period: int, start: dt.datetime | None = None,
                   now: dt.datetime | None = None) -> list[dt.datetime]:
    """Timestamps for *count* datapoints, one per *period*, aligned to period boundaries.

    From *start* onwards if given; otherwise ending in the current period, so an alarm
    evaluating "the last N periods" sees all of them right away.
    """
    if start is None:
        now = now or dt.datetime.now(dt.timezone.utc)
        first = aligned(now, period) - dt.timedelta(seconds=period * (count - 1))
    else:
        first = aligned(start, period)
    return [first + dt.timedelta(seconds=period * i) for i in range(count)]


def publish_datapoints(cloudwatch_client: Any, instance_id: str, values: list[float],
                       period: int = 10, start: dt.datetime | None = None
                       ) -> list[tuple[dt.datetime, float]]:
    """Publish *values* as CPUUtilization of *instance_id*, one datapoint per *period*.

    For deterministic runs: the alarm sees exactly these values, whatever this machine does.
    Returns the (timestamp, value) pairs published.
    """
    _check_period(period)
    times = scripted_times(len(values), period, start)
    points = list(zip(times, [float(v) for v in values]))
    resolution = _resolution(period)
    for i in range(0, len(points), _BATCH):
        cloudwatch_client.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[datapoint(instance_id, value, when, resolution)
                        for when, value in points[i:i + _BATCH]])
    return points


def _resolution(period: int) -> int:
    """High resolution (1 s) for periods under a minute, which need it; standard otherwise."""
    return 1 if period < 60 else 60


def _check_period(period: int) -> None:
    # The periods CloudWatch alarms accept: 10, 20 or 30 s (high resolution) or n × 60 s.
    if period not in (10, 20, 30) and (period < 60 or period % 60):
        raise ValueError(f"period must be 10, 20, 30 or a multiple of 60 seconds, not {period}")


class MetricAgent:
    """A background thread publishing the bastion's CPU utilisation every *interval* seconds.

    *source* returns the figure for the interval since its previous call (in percent).
    *busy*, for the scripted bastion, returns the figure of a scripted load while one runs
    (else None): then, instead of live samples, each complete period of the load is published
    as soon as it is complete, starting with the period just before the load began, so that an
    alarm sees the load at its next evaluation.

    Every sample is published right away (one datapoint per interval); CloudWatch's statistic
    over each *period* (e.g. Average) is what an alarm compares with its threshold.

    >>> agent = bastion.start_agent(cloudwatch, period=10)                 # doctest: +SKIP
    >>> agent.samples                                                     # doctest: +SKIP
    [(datetime(...), 3.5), (datetime(...), 97.0), ...]
    """

    def __init__(self, cloudwatch_client: Any, instance_id: str,
                 source: Callable[[], float], period: int = 10, interval: float = 1.0,
                 busy: Callable[[], float | None] | None = None) -> None:
        _check_period(period)
        if not interval > 0 or interval > period:
            # More than one period between samples would leave periods without data.
            raise ValueError(f"interval must be more than 0 and at most the period "
                             f"({period} s), not {interval}")
        self.cloudwatch = cloudwatch_client
        self.instance_id = instance_id
        self.source = source
        self.busy = busy
        self._replayed: set[dt.datetime] = set()
        self.period = period
        self.interval = float(interval)
        self._samples: list[tuple[dt.datetime, float]] = []
        self._errors: list[tuple[dt.datetime, BaseException]] = []
        self._attempts = 0
        self._failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------------------------
    def start(self) -> "MetricAgent":
        """Start sampling and publishing (a no-op while running). Returns the agent."""
        if self.running:
            return self
        self._stop = threading.Event()
        # daemon: a forgotten agent never keeps the interpreter from exiting.
        self._thread = threading.Thread(target=self._run, name=f"metric-agent-{self.instance_id}",
                                        daemon=True)
        self._thread.start()
        _live.add(self)
        return self

    def stop(self) -> None:
        """Stop publishing and wait for the thread to end. Safe to call any number of times."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        _live.discard(self)

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "MetricAgent":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- results -----------------------------------------------------------------------------
    @property
    def samples(self) -> list[tuple[dt.datetime, float]]:
        """(timestamp, percent) of every datapoint published so far, oldest first."""
        with self._lock:
            return list(self._samples)

    @property
    def errors(self) -> list[tuple[dt.datetime, BaseException]]:
        """(when, exception) of failed samples or publishes (the latest ones), oldest first."""
        with self._lock:
            return list(self._errors)

    def raise_for_errors(self) -> None:
        """Raise a LabError describing the failures, if any sample could not be published."""
        with self._lock:
            errors, attempts, failed = list(self._errors), self._attempts, self._failed
        if not errors:
            return
        last = errors[-1][1]
        raise LabError(t("bastion.agent_failed.what", failed=failed, attempts=attempts,
                         error=f"{type(last).__name__}: {last}"),
                       t("bastion.agent_failed.todo"))

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        with self._lock:
            published, failed = len(self._samples), len(self._errors)
        return (f"<MetricAgent {self.instance_id} {state}: {published} published, "
                f"{failed} error(s)>")

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        # Each call of the source measures since the previous one, i.e. over one interval.
        self.source()
        while True:
            load = self.busy() if self.busy is not None else None
            if load is not None:
                self._replay_last_period(load)
            if self._stop.wait(self.interval):
                return
            if load is None:
                self.sample_once()

    def _replay_last_period(self, value: float) -> None:
        """Publish the last complete period as reading *value*, once; errors are kept.

        A period may already hold datapoints: the idle bastion's just before the load began,
        or those of a run a moment earlier. It then gets nine times as many of the load, so that
        its Average reads as a period loaded for nine tenths of its time would.
        """
        now = dt.datetime.now(dt.timezone.utc)
        start = aligned(now, self.period) - dt.timedelta(seconds=self.period)
        if start in self._replayed:
            return
        with self._lock:
            self._attempts += 1
        try:
            self.replay_period(value, start, count=max(int(self.period / self.interval),
                                                       9 * self._datapoints_in(start)))
        except Exception as exc:  # noqa: BLE001 - kept and reported; the agent keeps going
            self._keep_error(now, exc)
            return
        self._replayed.add(start)

    def _keep_error(self, when: dt.datetime, exc: BaseException) -> None:
        """Count a failed sample or replay, keeping the latest errors for the report."""
        with self._lock:
            self._errors.append((when, exc))
            del self._errors[:-_KEEP_ERRORS]
            self._failed += 1

    def _datapoints_in(self, start: dt.datetime) -> int:
        """How many datapoints of the metric CloudWatch holds in the period from *start*."""
        answer = self.cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=METRIC,
            Dimensions=[{"Name": "InstanceId", "Value": self.instance_id}], StartTime=start,
            EndTime=start + dt.timedelta(seconds=self.period), Period=self.period,
            Statistics=["SampleCount"])
        return int(sum(point.get("SampleCount", 0) for point in answer.get("Datapoints", [])))

    def replay_period(self, value: float, start: dt.datetime, count: int | None = None
                      ) -> list[tuple[dt.datetime, float]]:
        """Publish the period beginning at *start* as reading *value*: *count* points spread
        over it (default: one per interval, as a period of that load looks when measured).

        For the scripted bastion. Returns the (timestamp, value) pairs published; they count as
        samples.
        """
        count = max(1, count or int(self.period / self.interval))
        points = [(start + dt.timedelta(seconds=i * self.period / count), float(value))
                  for i in range(count)]
        resolution = _resolution(self.period)
        for i in range(0, len(points), _BATCH):
            self.cloudwatch.put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[datapoint(self.instance_id, v, when, resolution)
                            for when, v in points[i:i + _BATCH]])
        with self._lock:
            self._samples.extend(points)
            self._samples.sort(key=lambda point: point[0])
        return points

    def sample_once(self) -> float | None:
        """Measure and publish one sample; keep any error instead of raising. Returns it."""
        when = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            self._attempts += 1
        try:
            value = float(self.source())
            self.cloudwatch.put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[datapoint(self.instance_id, value, when, _resolution(self.period))])
        except Exception as exc:  # noqa: BLE001 - kept and reported; the agent keeps going
            self._keep_error(when, exc)
            return None
        with self._lock:
            self._samples.append((when, value))
        return value


def stop_all() -> int:
    """Stop every agent running in this process (e.g. one a re-run cell lost track of).

    Returns how many were running.
    """
    agents = [agent for agent in list(_live) if agent.running]
    for agent in agents:
        agent.stop()
    return len(agents)
