"""Alarms that evaluate and act in the local cloud: moto's CloudWatch plus the alarm engine.

moto 5.2 stores alarms and metric data but never evaluates an alarm, starts new alarms in OK,
publishes nothing on a state change and has no alarm history. This module's wrappers of moto's
CloudWatch methods (they wrap, never rewrite; ``labkit.local.moto_patches`` installs them) and
its scheduler (:func:`start`) make it so that:

* a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"); PutMetricAlarm
  on an existing alarm keeps its state; both record a ConfigurationUpdate history item, and so
  does DeleteAlarms;
* a background thread evaluates every metric alarm every tick (``LABKIT_ALARM_TICK_SECONDS``,
  default 1 s) over moto's stored datapoints with :mod:`.alarm_engine` (its own period-aligned
  buckets: moto's GetMetricStatistics buckets from the first datapoint);
* every state change, evaluated or made with SetAlarmState, records a StateUpdate item and, when
  ActionsEnabled, publishes the AWS-shaped notification to each SNS topic among the new state's
  actions (in-process, through moto's SNS backend, so subscriptions - SQS, Lambda - receive it),
  recording an Action item per action;
* DescribeAlarmHistory answers (filters by alarm name, item type, dates; ScanBy; MaxRecords and
  NextToken);
* PutMetricData remembers each datum's StorageResolution, so standard-resolution data is
  bucketed at one-minute granularity and high-resolution data to the second, as on CloudWatch.

After SetAlarmState the alarm keeps the state it was given for one period, the longest CloudWatch
takes to evaluate it again ("this temporary state change lasts only until the next alarm
comparison occurs").

moto backends are not thread-safe: every change this module makes to an alarm or a history, in a
request thread or the scheduler, happens under one lock; reads copy moto's lists first.
"""

from __future__ import annotations

import bisect
import functools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from moto.cloudwatch.exceptions import CloudWatchException
from moto.cloudwatch.models import (Alarm, CloudWatchBackend, MetricAggregatedDatum,
                                    cloudwatch_backends)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from . import alarm_engine as engine
from .alarm_engine import INSUFFICIENT_DATA, AlarmConfig, Sample

log = logging.getLogger(__name__)

TICK_VARIABLE = "LABKIT_ALARM_TICK_SECONDS"
DEFAULT_TICK_SECONDS = 1.0

INITIAL_REASON = "Unchecked: Initial alarm creation"
HISTORY_KEEP = timedelta(days=14)       # CloudWatch keeps alarm history for two weeks
HISTORY_MAX_ITEMS = 10_000              # per account and region, so a flapping alarm stays cheap
HISTORY_MAX_RECORDS = 100               # DescribeAlarmHistory's MaxRecords ceiling

# What this module keeps on moto's objects, under names moto does not use.
_HISTORY = "_labkit_alarm_history"
_INDEX = "_labkit_metric_index"
_RESOLUTION = "_labkit_storage_resolution"
_HOLD_UNTIL = "_labkit_hold_until"

# The alarm state that PutMetricAlarm carries over from the alarm it replaces.
STATE_ATTRIBUTES = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp",
                    "state_transitioned_timestamp", "history", _HOLD_UNTIL)

Publisher = Callable[[str, str, str], Any]
"""publish(topic_arn, message, subject): deliver one notification; raise on failure."""

_lock = threading.RLock()
_active: "AlarmService | None" = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _naive(moment: datetime) -> datetime:
    """A UTC datetime as moto stores them (naive)."""
    return engine.utc(moment).replace(tzinfo=None)


# -- moto alarms as the engine sees them ---------------------------------------------------------

def config_of(alarm: Alarm) -> AlarmConfig:
    """The engine's view of a moto alarm (metric-math and composite alarms included, with what
    they have)."""
    arn = alarm.alarm_arn or ""
    parts = arn.split(":")
    return AlarmConfig(
        name=alarm.name,
        namespace=alarm.namespace or "",
        metric_name=alarm.metric_name or "",
        statistic=alarm.extended_statistic or alarm.statistic or "",
        period=int(alarm.period or 0),
        evaluation_periods=int(alarm.evaluation_periods or 1),
        threshold=float(alarm.threshold or 0.0),
        comparison_operator=alarm.comparison_operator or "",
        dimensions=tuple((d.name, d.value) for d in alarm.dimensions),
        datapoints_to_alarm=(int(alarm.datapoints_to_alarm)
                             if alarm.datapoints_to_alarm is not None else None),
        treat_missing_data=alarm.treat_missing_data,
        evaluate_low_sample_count_percentile=alarm.evaluate_low_sample_count_percentile,
        unit=alarm.unit,
        description=alarm.description,
        account_id=parts[4] if len(parts) > 4 else "",
        region=alarm.region_name,
        arn=arn,
        actions_enabled=bool(alarm.actions_enabled),
        ok_actions=tuple(alarm.ok_actions or ()),
        alarm_actions=tuple(alarm.alarm_actions or ()),
        insufficient_data_actions=tuple(alarm.insufficient_data_actions or ()),
        configuration_updated=alarm.configuration_updated_timestamp,
    )


def evaluable(config: AlarmConfig, alarm: Alarm) -> bool:
    """Whether the engine evaluates *alarm*: a single-metric alarm with a static threshold.
    Metric-math, anomaly-detection and composite alarms keep the state they are given."""
    return (alarm.rule is None and not alarm.metric_data_queries and bool(config.metric_name)
            and config.period > 0 and config.comparison_operator in engine.OPERATORS
            and (config.statistic in engine.STATISTICS or config.is_percentile))


def _description(alarm: Alarm) -> dict[str, Any]:
    return engine.alarm_description_json(config_of(alarm), alarm.state_value,
                                         alarm.state_updated_timestamp)


# -- history -------------------------------------------------------------------------------------

def history_of(backend: CloudWatchBackend) -> list[dict[str, Any]]:
    """The alarm history items of one account and region, oldest first (kept on the backend, so
    a reset of moto forgets them with everything else)."""
    items = backend.__dict__.get(_HISTORY)
    if items is None:
        items = backend.__dict__.setdefault(_HISTORY, [])
    return items


def _record(backend: CloudWatchBackend, alarm_name: str, item_type: str, summary: str,
            data: str, when: datetime) -> None:
    with _lock:
        items = history_of(backend)
        items.append({"AlarmName": alarm_name, "AlarmType": "MetricAlarm",
                      "Timestamp": _naive(when), "HistoryItemType": item_type,
                      "HistorySummary": summary, "HistoryData": data})
        oldest = _naive(when - HISTORY_KEEP)
        while items and (len(items) > HISTORY_MAX_ITEMS or items[0]["Timestamp"] < oldest):
            items.pop(0)


def select_history(items: list[dict[str, Any]], alarm_name: str | None = None,
                   alarm_types: list[str] | None = None, item_type: str | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   scan_by: str | None = None, max_records: int | None = None,
                   next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """DescribeAlarmHistory over *items*: the page to return and the NextToken (or None)."""
    types = alarm_types or ["MetricAlarm"]
    start_at = _naive(start) if start else None
    end_at = _naive(end) if end else None
    chosen = [item for item in items
              if (not alarm_name or item["AlarmName"] == alarm_name)
              and item["AlarmType"] in types
              and (not item_type or item["HistoryItemType"] == item_type)
              and (start_at is None or item["Timestamp"] >= start_at)
              and (end_at is None or item["Timestamp"] <= end_at)]
    # Items are appended in time order; the sort keeps equal timestamps in that order.
    chosen.sort(key=lambda item: item["Timestamp"], reverse=scan_by != "TimestampAscending")
    try:
        offset = int(next_token) if next_token else 0
        if offset < 0 or offset > len(chosen):
            raise ValueError(next_token)
    except ValueError:
        raise InvalidNextToken() from None
    size = max(1, min(int(max_records or HISTORY_MAX_RECORDS), HISTORY_MAX_RECORDS))
    page = chosen[offset:offset + size]
    more = offset + size < len(chosen)
    return page, (str(offset + size) if more else None)


class InvalidNextToken(CloudWatchException):
    """CloudWatch's answer to a NextToken it did not hand out."""

    code = "InvalidNextToken"

    def __init__(self) -> None:
        super().__init__("The service couldn't process the NextToken.")


def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarmHistory, which moto 5.2 lacks (added to ``CloudWatchResponse``)."""
    backend = self.cloudwatch_backend
    with _lock:
        items = list(history_of(backend))
    page, token = select_history(
        items, alarm_name=self._get_param("AlarmName"),
        alarm_types=self._get_param("AlarmTypes"),
        item_type=self._get_param("HistoryItemType"),
        start=self._get_param("StartDate"), end=self._get_param("EndDate"),
        scan_by=self._get_param("ScanBy"), max_records=self._get_param("MaxRecords"),
        next_token=self._get_param("NextToken"))
    result: dict[str, Any] = {"AlarmHistoryItems": page}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


# -- state changes and their actions -------------------------------------------------------------

@dataclass(frozen=True)
class PendingAction:
    """One alarm action to run: publish *message* to the topic *arn*."""

    backend: CloudWatchBackend
    alarm_name: str
    arn: str
    message: str
    subject: str
    when: datetime


def _state_changed(backend: CloudWatchBackend, alarm: Alarm,
                   old: tuple[str, str, str | None], when: datetime) -> None:
    """Record a state change already written to *alarm* and queue its actions (lock held)."""
    old_state, old_reason, old_data = old
    alarm.state_transitioned_timestamp = _naive(when)
    summary, data = engine.state_update_history(old_state, old_reason, old_data,
                                                alarm.state_value, alarm.state_reason,
                                                alarm.state_reason_data)
    _record(backend, alarm.name, "StateUpdate", summary, data, when)
    if not alarm.actions_enabled:
        return
    config = config_of(alarm)
    actions = config.actions_for(alarm.state_value)
    if not actions:
        return
    message = engine.compact_json(engine.notification(config, old_state, alarm.state_value,
                                                      alarm.state_reason, when))
    subject = engine.subject(alarm.state_value, alarm.name, alarm.region_name)
    for arn in actions:
        _queue(PendingAction(backend, alarm.name, arn, message, subject, when))


def _queue(action: PendingAction) -> None:
    service = _active
    if service is not None and service.running:
        service.enqueue(action)
    else:
        # No scheduler (moto used in-process without a service): act right away.
        deliver(action, publish_to_sns)


def publish_to_sns(topic_arn: str, message: str, subject: str) -> str:
    """Publish through moto's SNS backend in this process; returns the message id."""
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = topic_arn.split(":", 5)
    return sns_backends[account][region].publish(message, arn=topic_arn, subject=subject)


def deliver(action: PendingAction, publish: Publisher) -> bool:
    """Run one alarm action and record its Action history item; True when it succeeded."""
    parts = action.arn.split(":")
    backend = action.backend
    error: str | None = None
    if len(parts) < 6 or parts[2] != "sns":
        error = "The local cloud runs SNS topic actions only."
    elif (parts[3], parts[4]) != (backend.region_name, backend.account_id):
        error = "The topic is not in the alarm's account and Region."
    else:
        try:
            publish(action.arn, action.message, action.subject)
        except Exception as exc:  # whatever SNS said goes into the history, as on AWS
            error = str(exc) or type(exc).__name__
    summary, data = engine.action_history(action.arn, action.when, action.message, error)
    _record(backend, action.alarm_name, "Action", summary, data, _now())
    if error:
        log.warning("alarm %s: %s", action.alarm_name, summary)
    return error is None


# -- the patches ---------------------------------------------------------------------------------

def wrap_put_metric_alarm(original: Callable) -> Callable:
    """``CloudWatchBackend.put_metric_alarm``: a new alarm starts in INSUFFICIENT_DATA, an
    updated one keeps its state; both record a ConfigurationUpdate history item."""
    @functools.wraps(original)
    def put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Alarm:
        with _lock:
            previous = self.alarms.get(name)
            before = _description(previous) if previous is not None else None
            alarm = original(self, name, *args, **kwargs)
            now = _now()
            if previous is None:
                # AWS: "the alarm state is immediately set to INSUFFICIENT_DATA".
                alarm.state_value = INSUFFICIENT_DATA
                alarm.state_reason = INITIAL_REASON
                alarm.state_reason_data = None
                alarm.state_updated_timestamp = _naive(now)
                alarm.state_transitioned_timestamp = _naive(now)
                summary, data = engine.configuration_history("Create", _description(alarm))
            else:
                # AWS: "When you update an existing alarm, its state is left unchanged".
                for attribute in STATE_ATTRIBUTES:
                    if hasattr(previous, attribute):
                        setattr(alarm, attribute, getattr(previous, attribute))
                summary, data = engine.configuration_history("Update", _description(alarm),
                                                             before)
            _record(self, name, "ConfigurationUpdate", summary, data, now)
        return alarm

    return put_metric_alarm


def wrap_set_alarm_state(original: Callable) -> Callable:
    """``CloudWatchBackend.set_alarm_state``: the state holds for a period, and a change is
    recorded and acted on."""
    @functools.wraps(original)
    def set_alarm_state(self: CloudWatchBackend, alarm_name: str, reason: str,
                        reason_data: str, state_value: str) -> None:
        with _lock:
            alarm = self.alarms.get(alarm_name)
            old = (alarm.state_value, alarm.state_reason, alarm.state_reason_data) if alarm \
                else None
            original(self, alarm_name, reason, reason_data, state_value)
            if alarm is None or old is None:
                return
            now = _now()
            if alarm.period:
                # The set state lasts until the next evaluation; CloudWatch evaluates an alarm
                # once per period (every 10 s for high-resolution alarms), so hold it a period.
                setattr(alarm, _HOLD_UNTIL, now + timedelta(seconds=int(alarm.period)))
            if old[0] != state_value:
                # AWS: "When the updated state differs from the previous value, the action
                # configured for the appropriate state is invoked."
                _state_changed(self, alarm, old, now)

    return set_alarm_state


def wrap_delete_alarms(original: Callable) -> Callable:
    """``CloudWatchBackend.delete_alarms``: each deletion is recorded in the history."""
    @functools.wraps(original)
    def delete_alarms(self: CloudWatchBackend, alarm_names: list[str]) -> None:
        with _lock:
            now = _now()
            for name in alarm_names:
                alarm = self.alarms.get(name)
                if alarm is not None:
                    summary, data = engine.configuration_history("Delete", _description(alarm))
                    _record(self, name, "ConfigurationUpdate", summary, data, now)
            original(self, alarm_names)

    return delete_alarms


def wrap_put_metric_data(original: Callable) -> Callable:
    """``CloudWatchBackend.put_metric_data``: each stored datum remembers its
    StorageResolution."""
    @functools.wraps(original)
    def put_metric_data(self: CloudWatchBackend, namespace: str,
                        metric_data: list[dict[str, Any]]) -> None:
        # Validate everything first (with the member numbers of the whole request), then store
        # member by member so each stored datum can be tagged with its StorageResolution.
        for number, member in enumerate(metric_data, start=1):
            self._validate_parameters_put_metric_data(member, number)
        for member in metric_data:
            before = len(self.metric_data)
            original(self, namespace, [member])
            resolution = int(member.get("StorageResolution") or 60)
            for datum in self.metric_data[before:]:
                setattr(datum, _RESOLUTION, resolution)

    return put_metric_data


# -- metric data, indexed ------------------------------------------------------------------------

MetricKey = tuple[str, str, frozenset]


def metric_key(namespace: str, name: str, dimensions: Any) -> MetricKey:
    """A metric's identity: namespace, name and its whole set of dimensions."""
    return namespace, name, frozenset((d[0], d[1]) if isinstance(d, tuple) else (d.name, d.value)
                                      for d in dimensions)


def sample_of(datum: Any) -> Sample:
    """The engine's view of one of moto's stored metric datums."""
    resolution = getattr(datum, _RESOLUTION, 60)
    if isinstance(datum, MetricAggregatedDatum):
        return Sample(datum.timestamp, float(datum.sample_count), float(datum.sum),
                      float(datum.min), float(datum.max), datum.unit, resolution)
    return Sample.of(datum.timestamp, float(datum.value), datum.unit, resolution)


class MetricIndex:
    """One backend's datums by metric, sorted by the time CloudWatch files them.

    moto only ever appends to ``metric_data``, so each update reads just the new datums.
    """

    def __init__(self) -> None:
        self.seen = 0
        self.series: dict[MetricKey, tuple[list[int], list[Sample]]] = {}

    def update(self, metric_data: list[Any]) -> None:
        """Take in the datums appended since the last update."""
        data = list(metric_data)  # a copy: request threads append while we read
        if len(data) < self.seen:
            self.seen, self.series = 0, {}
        for datum in data[self.seen:]:
            sample = sample_of(datum)
            keys, samples = self.series.setdefault(
                metric_key(datum.namespace, datum.name, datum.dimensions), ([], []))
            at = sample.stored_second
            position = bisect.bisect_right(keys, at)  # at the end, unless data came late
            keys.insert(position, at)
            samples.insert(position, sample)
        self.seen = len(data)

    def samples(self, key: MetricKey, start: datetime, end: datetime) -> list[Sample]:
        """The samples of metric *key* filed in [start, end)."""
        keys, samples = self.series.get(key, ([], []))
        low, high = (int(engine.utc(moment).timestamp()) for moment in (start, end))
        return samples[bisect.bisect_left(keys, low):bisect.bisect_left(keys, high)]


def _index_of(backend: CloudWatchBackend) -> MetricIndex:
    index = backend.__dict__.get(_INDEX)
    if index is None:
        index = backend.__dict__.setdefault(_INDEX, MetricIndex())
    return index


def _backends() -> Iterator[CloudWatchBackend]:
    """Every CloudWatch backend moto has created (one per account and region in use)."""
    for regions in list(cloudwatch_backends.values()):
        yield from list(regions.values())


# -- the service ---------------------------------------------------------------------------------

def tick_from_environment() -> float:
    """The evaluation interval from ``LABKIT_ALARM_TICK_SECONDS`` (default 1 s)."""
    try:
        value = float(os.environ.get(TICK_VARIABLE, "") or DEFAULT_TICK_SECONDS)
    except ValueError:
        value = DEFAULT_TICK_SECONDS
    return max(0.05, value)


class AlarmService:
    """The scheduler: evaluates every alarm each tick and runs the actions of state changes."""

    def __init__(self, publish: Publisher | None = None,
                 tick_seconds: float | None = None) -> None:
        self.publish: Publisher = publish or publish_to_sns
        self.tick_seconds = tick_seconds if tick_seconds is not None else tick_from_environment()
        self.passes = 0
        self.last_pass_seconds = 0.0
        self._pending: "queue.SimpleQueue[PendingAction]" = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labkit-alarms", daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> "AlarmService":
        self._thread.start()
        return self

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the scheduler (actions still queued are dropped with the process)."""
        global _active
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with _lock:
            if _active is self:
                _active = None

    def enqueue(self, action: PendingAction) -> None:
        """Run *action* soon, on the scheduler thread (never in the caller's request)."""
        self._pending.put(action)
        self._wake.set()

    def deliver_pending(self) -> int:
        """Run every queued action now; returns how many ran."""
        count = 0
        while True:
            try:
                action = self._pending.get_nowait()
            except queue.Empty:
                return count
            deliver(action, self.publish)
            count += 1

    def evaluate_all(self, now: datetime | None = None) -> int:
        """Evaluate every metric alarm of every account and Region once; returns how many
        changed state."""
        began = time.perf_counter()
        now = now or _now()
        changes = 0
        for backend in _backends():
            index = _index_of(backend)
            index.update(backend.metric_data)
            for alarm in list(backend.alarms.values()):
                try:
                    changes += self._evaluate(backend, index, alarm, now)
                except Exception:  # one odd alarm must not stop the others
                    log.exception("evaluating alarm %s failed", getattr(alarm, "name", "?"))
        self.passes += 1
        self.last_pass_seconds = time.perf_counter() - began
        return changes

    def _evaluate(self, backend: CloudWatchBackend, index: MetricIndex, alarm: Alarm,
                  now: datetime) -> int:
        config = config_of(alarm)
        if not evaluable(config, alarm):
            return 0
        hold_until = getattr(alarm, _HOLD_UNTIL, None)
        if hold_until is not None and now < hold_until:
            return 0
        end = engine.bucket_start(now, config.period)
        start = end - timedelta(seconds=config.period * engine.evaluation_range(config.n))
        samples = index.samples(metric_key(config.namespace, config.metric_name,
                                           config.dimensions), start, end)
        result = engine.evaluate(config, samples, now)
        if result.state is None or result.state == alarm.state_value:
            return 0
        with _lock:
            # The alarm may have been replaced, deleted or set meanwhile: then wait a tick.
            if backend.alarms.get(alarm.name) is not alarm or alarm.state_value == result.state \
                    or getattr(alarm, _HOLD_UNTIL, None) != hold_until:
                return 0
            old = (alarm.state_value, alarm.state_reason, alarm.state_reason_data)
            alarm.state_value = result.state
            alarm.state_reason = result.reason
            alarm.state_reason_data = engine.compact_json(result.reason_data)
            alarm.state_updated_timestamp = _naive(now)
            _state_changed(backend, alarm, old, now)
        return 1

    def _run(self) -> None:
        next_pass = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_pass:
                try:
                    self.evaluate_all()
                except Exception:
                    log.exception("alarm evaluation pass failed")
                next_pass = time.monotonic() + self.tick_seconds
            self.deliver_pending()
            self._wake.wait(max(0.0, next_pass - time.monotonic()))
            self._wake.clear()


def start(publish: Publisher | None = None, tick_seconds: float | None = None) -> AlarmService:
    """Start the alarm scheduler; returns it (``.shutdown()``). It evaluates the alarms of a moto
    whose CloudWatch has this module's wrappers (``labkit.local.moto_patches.install()``).

    *publish* replaces the in-process SNS publish (``publish(topic_arn, message, subject)``);
    *tick_seconds* the evaluation interval (default: ``LABKIT_ALARM_TICK_SECONDS`` or 1 s).
    A second call replaces the running scheduler.
    """
    global _active
    service = AlarmService(publish, tick_seconds)
    with _lock:
        previous, _active = _active, service
    if previous is not None:
        previous.shutdown()
    return service.start()


def installed() -> AlarmService | None:
    """The running scheduler, if any."""
    return _active
