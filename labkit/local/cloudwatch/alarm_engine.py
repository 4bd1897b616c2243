"""How a CloudWatch metric alarm decides its state, as plain functions (no moto, no I/O).

The rules follow the CloudWatch user guide ("Using Amazon CloudWatch alarms", "Evaluating an
alarm", "Configuring how CloudWatch alarms treat missing data", "High-resolution alarms",
"Percentile-based alarms and low data samples") and, for wording and formats the guide does
not spell out, what CloudWatch itself writes in alarm states, histories and notifications.

The pieces, in the order an evaluation uses them:

* :class:`Sample` - one stored datum (a value, or a statistic set), with its storage resolution;
* :func:`bucket_start` - the period a timestamp belongs to (multiples of the period since the
  epoch, so a 10-second period starts at :00, :10, :20 ...);
* :func:`statistic` - SampleCount, Average, Sum, Minimum, Maximum or a percentile ``pNN``;
* :func:`evaluation_slots` - the periods of the evaluation range, ending with the last complete
  period before the evaluation time (a period still filling up is never "missing");
* :func:`decide` - the state from the pattern of breaching / not breaching / missing periods,
  EvaluationPeriods (N), DatapointsToAlarm (M) and TreatMissingData, with the premature-alarm rule;
* :func:`evaluate` - all of the above, plus the state reason and StateReasonData in AWS's format;
* :func:`notification`, :func:`subject` - the SNS message an alarm action publishes;
* ``*_history`` - the HistorySummary and HistoryData of DescribeAlarmHistory items.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterable, Sequence

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100)$")

# Comparison operator -> (test of value against threshold, words in the state reason).
OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}

TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")

# Periods CloudWatch alarms accept: high resolution (metrics stored at 1 s) or whole minutes.
HIGH_RESOLUTION_PERIODS = (10, 20, 30)

# How many periods farther back than EvaluationPeriods the evaluation range reaches. The guide
# does not give a formula; its worked examples use N = 3 with an evaluation range of 5.
EXTRA_RANGE_PERIODS = 2

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# -- time and number formats ---------------------------------------------------------------------

def utc(moment: datetime) -> datetime:
    """*moment* as an aware UTC datetime (naive datetimes, as moto stores them, are UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def aws_timestamp(moment: datetime) -> str:
    """The timestamp format of alarm JSON: ``2024-05-14T06:17:00.000+0000``."""
    moment = utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def reason_time(moment: datetime) -> str:
    """The timestamp format inside state reasons: ``14/05/24 06:17:00``."""
    return utc(moment).strftime("%d/%m/%y %H:%M:%S")


def java_double(value: float) -> str:
    """*value* as CloudWatch (a Java service) prints a double: ``50.0``, ``72.5``, ``1.0E7``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(float(value))
        return text if ("." in text or "e" in text) else text + ".0"
    # Java switches to computerized scientific notation outside [10^-3, 10^7).
    decimal = Decimal(repr(float(value)))
    sign, digits, _ = decimal.as_tuple()
    mantissa = "".join(str(d) for d in digits).rstrip("0") or "0"
    mantissa = mantissa[0] + "." + (mantissa[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{decimal.adjusted()}"


def plural(count: int, word: str) -> str:
    """``1 datapoint``, ``2 datapoints``."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def was_were(count: int) -> str:
    return "was" if count == 1 else "were"


# -- data and buckets ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One datum as PutMetricData stored it: a single value or a statistic set.

    *storage_resolution* is 1 for high-resolution data and 60 (the default) otherwise;
    CloudWatch keeps standard-resolution data at one-minute granularity.
    """

    timestamp: datetime
    sample_count: float
    total: float
    minimum: float
    maximum: float
    unit: str | None = None
    storage_resolution: int = 60
    # Seconds since the epoch, worked out once: evaluations bucket many samples, many times.
    epoch: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "epoch", (utc(self.timestamp) - _EPOCH).total_seconds())

    @classmethod
    def of(cls, timestamp: datetime, value: float, unit: str | None = None,
           storage_resolution: int = 60) -> "Sample":
        """A single value published at *timestamp*."""
        return cls(timestamp, 1.0, value, value, value, unit, storage_resolution)

    @property
    def stored_second(self) -> int:
        """When CloudWatch files the datum, in seconds since the epoch: to the second (high
        resolution) or to the minute (standard resolution)."""
        second = math.floor(self.epoch)
        return second - second % (1 if self.storage_resolution < 60 else 60)

    @property
    def stored_at(self) -> datetime:
        """:attr:`stored_second` as a datetime."""
        return _EPOCH + timedelta(seconds=self.stored_second)

    def values(self) -> list[float] | None:
        """The individual values, when they are known (for percentiles); None otherwise."""
        count = int(round(self.sample_count))
        if count <= 0:
            return []
        # A statistic set tells the values only when they are all equal.
        if count == 1 or self.minimum == self.maximum:
            return [self.minimum] * count
        return None


def bucket_start(moment: datetime, period: int) -> datetime:
    """The start of the *period*-second bucket holding *moment*: a multiple of *period* since
    the epoch (UTC), as CloudWatch aligns periods."""
    seconds = math.floor((utc(moment) - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % period)


def is_supported_period(period: int) -> bool:
    """Whether CloudWatch alarms accept *period*: 10, 20 or 30 s, or a multiple of 60 s."""
    return period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0)


def percentile(values: Sequence[float], p: float) -> float:
    """The *p*-th percentile of *values* (nearest rank: the smallest value with at least *p* %
    of the values at or below it). CloudWatch does not publish its exact method."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentile_of(name: str) -> float | None:
    """The number in a percentile statistic (``p90`` -> 90.0), None for other statistics."""
    match = PERCENTILE.match(name or "")
    return float(match.group(1)) if match else None


def statistic(samples: Sequence[Sample], name: str) -> float | None:
    """The statistic *name* over *samples* (one period's data); None when there is none.

    Percentiles need the individual values: a statistic set of several different values has
    none, and then the percentile is unavailable, as on CloudWatch.
    """
    if not samples:
        return None
    if name == "SampleCount":
        return float(sum(s.sample_count for s in samples))
    if name == "Sum":
        return float(sum(s.total for s in samples))
    if name == "Average":
        count = sum(s.sample_count for s in samples)
        return float(sum(s.total for s in samples) / count) if count else None
    if name == "Minimum":
        return float(min(s.minimum for s in samples))
    if name == "Maximum":
        return float(max(s.maximum for s in samples))
    p = percentile_of(name)
    if p is None:
        raise ValueError(f"unsupported statistic {name!r}")
    values: list[float] = []
    for sample in samples:
        known = sample.values()
        if known is None:
            return None
        values.extend(known)
    return float(percentile(values, p)) if values else None


def low_sample_count(sample_count: float, name: str) -> bool:
    """Whether a percentile over *sample_count* values is too thin to be significant: fewer than
    10/(1-p) values for p >= 0.5, fewer than 10/p below (the guide's rule)."""
    p = percentile_of(name)
    if p is None:
        return False
    fraction = p / 100.0
    if fraction >= 1 or fraction <= 0:
        return False
    needed = 10 / (1 - fraction) if fraction >= 0.5 else 10 / fraction
    # Rounded, so that float noise (10 / 0.1 = 100.00000000000001) does not move the line.
    return sample_count < round(needed, 6)


def breaches(value: float, threshold: float, comparison_operator: str) -> bool:
    """Whether *value* is on the alarming side of *threshold*."""
    test, _ = operator_of(comparison_operator)
    return test(value, threshold)


def operator_of(comparison_operator: str) -> tuple[Callable[[float, float], bool], str]:
    """The test and the words of one of the four static-threshold operators."""
    try:
        return OPERATORS[comparison_operator]
    except KeyError:
        # The anomaly-band operators need a model CloudWatch trains; the local cloud has none.
        raise ValueError(f"unsupported comparison operator {comparison_operator!r}") from None


# -- the alarm -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlarmConfig:
    """What an evaluation and a notification need to know about one metric alarm."""

    name: str
    namespace: str
    metric_name: str
    statistic: str                      # "Average", ... or a percentile such as "p90"
    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    dimensions: tuple[tuple[str, str], ...] = ()
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None
    evaluate_low_sample_count_percentile: str | None = None
    unit: str | None = None
    description: str | None = None
    account_id: str = "123456789012"
    region: str = "us-east-1"
    arn: str = ""
    actions_enabled: bool = True
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    configuration_updated: datetime = field(default=_EPOCH)

    @property
    def n(self) -> int:
        """EvaluationPeriods."""
        return max(1, int(self.evaluation_periods))

    @property
    def m(self) -> int:
        """DatapointsToAlarm: EvaluationPeriods when not set."""
        return max(1, min(int(self.datapoints_to_alarm or self.n), self.n))

    @property
    def treatment(self) -> str:
        """The TreatMissingData in force. The guide: alarms on AWS/DynamoDB metrics always
        ignore missing data, whatever is configured."""
        if self.namespace == "AWS/DynamoDB":
            return "ignore"
        return self.treat_missing_data if self.treat_missing_data in TREATMENTS else "missing"

    @property
    def is_percentile(self) -> bool:
        return percentile_of(self.statistic) is not None

    def actions_for(self, state: str) -> tuple[str, ...]:
        """The action ARNs run when the alarm enters *state*."""
        return {OK: self.ok_actions, ALARM: self.alarm_actions,
                INSUFFICIENT_DATA: self.insufficient_data_actions}[state]


# -- evaluation ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    """One period of the evaluation range: its start, and its datapoint if there is one."""

    start: datetime
    value: float | None = None
    sample_count: float | None = None
    low_sample: bool = False

    @property
    def missing(self) -> bool:
        return self.value is None


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods an evaluation retrieves (more than N, in case some are missing)."""
    return evaluation_periods + EXTRA_RANGE_PERIODS


def evaluation_slots(config: AlarmConfig, samples: Iterable[Sample],
                     now: datetime) -> list[Slot]:
    """The evaluation range's periods, oldest first, with the statistic of each.

    The range ends with the last period that is complete at *now*: data of the period still
    filling up is neither used nor counted as missing.
    """
    period = int(config.period)
    end = bucket_start(now, period)
    count = evaluation_range(config.n)
    first = end - timedelta(seconds=period * count)
    first_second = int((first - _EPOCH).total_seconds())
    buckets: list[list[Sample]] = [[] for _ in range(count)]
    for sample in samples:
        if config.unit and sample.unit != config.unit:
            continue
        # Periods start at multiples of the period since the epoch, and so does *first*.
        index = (sample.stored_second - first_second) // period
        if 0 <= index < count:
            buckets[index].append(sample)
    slots = []
    for i, bucket in enumerate(buckets):
        start = first + timedelta(seconds=period * i)
        value = statistic(bucket, config.statistic)
        if value is None:
            slots.append(Slot(start))
            continue
        samples_in = float(sum(s.sample_count for s in bucket))
        slots.append(Slot(start, value, samples_in,
                          config.is_percentile and low_sample_count(samples_in, config.statistic)))
    return slots


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide` over a range of periods (indices count from the oldest).

    *state* is None when the alarm keeps its current state. *evaluated* are the real datapoints
    that were evaluated; *filled* the missing periods filled in with the TreatMissingData
    setting (for INSUFFICIENT_DATA: the periods that were unknown).
    """

    state: str | None
    evaluated: tuple[int, ...] = ()
    filled: tuple[int, ...] = ()
    fill_breaching: bool | None = None


def decide(pattern: Sequence[bool | None], datapoints_to_alarm: int, evaluation_periods: int,
           treatment: str) -> Decision:
    """The alarm state for *pattern*: per period of the evaluation range, oldest first, True
    (breaching), False (not breaching) or None (missing).

    As the guide describes it: with at least N real datapoints in the range, the most recent N
    are evaluated and TreatMissingData is not needed; with fewer, all real ones are evaluated and
    missing periods are filled in "only as few times as possible" (N minus the real ones). Filled
    periods count as breaching or not for ``breaching`` / ``notBreaching``; for ``missing`` and
    ``ignore`` they count as neither, and the alarm keeps (``ignore``) or leaves for
    INSUFFICIENT_DATA (``missing``) whenever the real data cannot settle the state. The
    premature-alarm rule (``missing`` only): when the oldest breaching datapoint is at least M
    periods old and every other datapoint is breaching or missing, the alarm goes to ALARM even
    with fewer than M breaching datapoints.
    """
    m, n = datapoints_to_alarm, evaluation_periods
    real = [i for i, v in enumerate(pattern) if v is not None]
    missing = [i for i, v in enumerate(pattern) if v is None]

    if len(real) >= n:
        evaluated = tuple(real[-n:])
        breaching = sum(1 for i in evaluated if pattern[i])
        return Decision(ALARM if breaching >= m else OK, evaluated)

    evaluated = tuple(real)
    # The most recent missing periods are the ones filled in.
    shortfall = tuple(missing[len(missing) - (n - len(real)):])
    breaching_real = sum(1 for i in evaluated if pattern[i])

    if treatment in ("breaching", "notBreaching"):
        filled_breaching = treatment == "breaching"
        breaching = breaching_real + (len(shortfall) if filled_breaching else 0)
        return Decision(ALARM if breaching >= m else OK, evaluated, shortfall, filled_breaching)

    if not real:
        return Decision(INSUFFICIENT_DATA if treatment == "missing" else None, (), shortfall)
    if breaching_real >= m:
        return Decision(ALARM, evaluated)
    not_breaching_real = len(real) - breaching_real
    if treatment == "missing" and not_breaching_real == 0:
        oldest_breaching_age = len(pattern) - real[0]  # 1 = the most recent period
        if oldest_breaching_age >= m:
            return Decision(ALARM, evaluated)
    if not_breaching_real:
        return Decision(OK, evaluated)
    return Decision(INSUFFICIENT_DATA if treatment == "missing" else None, evaluated, shortfall)


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation concluded. *state* None: keep the current state (nothing to say)."""

    state: str | None
    reason: str = ""
    reason_data: dict[str, Any] = field(default_factory=dict)
    slots: tuple[Slot, ...] = ()


def evaluate(config: AlarmConfig, samples: Iterable[Sample], now: datetime) -> Evaluation:
    """Evaluate *config* over *samples* at *now*: the state it should be in, and why."""
    slots = evaluation_slots(config, samples, now)
    if (config.is_percentile and config.evaluate_low_sample_count_percentile == "ignore"
            and any(s.low_sample for s in slots[-config.n:])):
        # "ignore": the alarm state does not change while samples are too few.
        return Evaluation(None, slots=tuple(slots))
    pattern = [None if s.missing else breaches(s.value, config.threshold,  # type: ignore[arg-type]
                                               config.comparison_operator) for s in slots]
    decision = decide(pattern, config.m, config.n, config.treatment)
    if decision.state is None:
        return Evaluation(None, slots=tuple(slots))
    return Evaluation(decision.state, state_reason(config, slots, pattern, decision),
                      state_reason_data(config, slots, pattern, decision, now), tuple(slots))


def minimum_for(state: str, m: int, n: int) -> int:
    """Datapoints it takes to enter *state*: M breaching for ALARM, N-M+1 not breaching for OK."""
    return m if state == ALARM else n - m + 1


def _matching(state: str, pattern: Sequence[bool | None], indices: Iterable[int]) -> list[int]:
    """Of *indices*, the real datapoints that agree with *state*, most recent first."""
    wanted = state == ALARM
    return sorted((i for i in indices if pattern[i] is wanted), reverse=True)


def state_reason(config: AlarmConfig, slots: Sequence[Slot], pattern: Sequence[bool | None],
                 decision: Decision) -> str:
    """The StateReason CloudWatch writes for *decision*, for example::

        Threshold Crossed: 1 datapoint [72.5 (14/05/24 06:17:00)] was greater than or equal to
        the threshold (50.0).

    With DatapointsToAlarm set, CloudWatch says "1 out of the last 1 datapoints [...] ... (minimum
    1 datapoint for OK -> ALARM transition)"; filled-in periods add "and 2 missing datapoints were
    treated as [Breaching]"; with no datapoint on the new state's side: "no datapoints were
    received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
    """
    state = decision.state
    if state == INSUFFICIENT_DATA:
        unknown = len(decision.filled)
        return f"Insufficient Data: {plural(unknown, 'datapoint')} {was_were(unknown)} unknown."
    assert state in (OK, ALARM)
    _, words = operator_of(config.comparison_operator)
    words = words if state == ALARM else "not " + words
    matching = _matching(state, pattern, decision.evaluated)
    fills = len(decision.filled)
    filled_as = "[Breaching]" if decision.fill_breaching else "[NonBreaching]"
    fill_clause = (f" and {plural(fills, 'missing datapoint')} {was_were(fills)} treated as "
                   f"{filled_as}") if fills else ""
    if not matching:
        received = len(decision.evaluated)
        periods = received + fills
        return (f"Threshold Crossed: {'no' if received == 0 else received} "
                f"datapoint{'' if received == 1 else 's'} {was_were(received)} received for "
                f"{plural(periods, 'period')}{fill_clause}.")
    listed = ", ".join(f"{java_double(float(slots[i].value or 0.0))} "
                       f"({reason_time(slots[i].start)})" for i in matching)
    k = len(matching)
    threshold = java_double(float(config.threshold))
    if config.datapoints_to_alarm is None:
        return (f"Threshold Crossed: {plural(k, 'datapoint')} [{listed}] {was_were(k)} {words} "
                f"the threshold ({threshold}){fill_clause}.")
    total = len(decision.evaluated) + fills
    needed = minimum_for(state, config.m, config.n)
    transition = "OK -> ALARM" if state == ALARM else "ALARM -> OK"
    return (f"Threshold Crossed: {k} out of the last {total} datapoints [{listed}] {was_were(k)} "
            f"{words} the threshold ({threshold}){fill_clause} "
            f"(minimum {plural(needed, 'datapoint')} for {transition} transition).")


def state_reason_data(config: AlarmConfig, slots: Sequence[Slot], pattern: Sequence[bool | None],
                      decision: Decision, now: datetime) -> dict[str, Any]:
    """StateReasonData as CloudWatch writes it (keys in CloudWatch's order)::

        {"version": "1.0", "queryDate": ..., "startDate": ..., "statistic": "Average",
         "period": 10, "recentDatapoints": [72.5], "threshold": 50.0,
         "evaluatedDatapoints": [{"timestamp": ..., "sampleCount": 5.0, "value": 72.5}]}

    recentDatapoints are the evaluated values, oldest first; evaluatedDatapoints the datapoints
    that decided the transition, most recent first (a missing one has a timestamp only).
    """
    real = sorted(decision.evaluated)
    data: dict[str, Any] = {"version": "1.0", "queryDate": aws_timestamp(now)}
    if real:
        data["startDate"] = aws_timestamp(slots[real[0]].start)
    key = "extendedStatistic" if config.is_percentile else "statistic"
    data[key] = config.statistic
    data["period"] = int(config.period)
    data["recentDatapoints"] = [slots[i].value for i in real]
    data["threshold"] = float(config.threshold)
    state = decision.state
    if state == INSUFFICIENT_DATA:
        deciding = sorted(decision.filled, reverse=True)
    else:
        assert state in (OK, ALARM)
        candidates = _matching(state, pattern, decision.evaluated)
        if decision.fill_breaching is (state == ALARM):
            candidates += list(decision.filled)
        deciding = sorted(candidates, reverse=True)[:minimum_for(state, config.m, config.n)]
    evaluated = []
    for i in deciding:
        slot = slots[i]
        item: dict[str, Any] = {"timestamp": aws_timestamp(slot.start)}
        if i in decision.evaluated:
            item["sampleCount"] = slot.sample_count
            item["value"] = slot.value
        evaluated.append(item)
    data["evaluatedDatapoints"] = evaluated
    return data


def compact_json(value: Any) -> str:
    """JSON as CloudWatch writes it: no spaces."""
    return json.dumps(value, separators=(",", ":"))


# -- notifications -------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _region_names() -> dict[str, str]:
    """Region code -> display name, from the partition data botocore ships."""
    import botocore.loaders

    loader = botocore.loaders.create_loader()
    names: dict[str, str] = {}
    for data_name in ("endpoints", "partitions"):
        try:
            data = loader.load_data(data_name)
        except Exception:  # one of the two files is enough
            continue
        for partition in data.get("partitions", []):
            for code, region in partition.get("regions", {}).items():
                if region.get("description"):
                    names.setdefault(code, region["description"])
    return names


def region_display_name(region: str) -> str:
    """``ap-northeast-2`` -> ``Asia Pacific (Seoul)``, as alarm notifications name regions."""
    return _region_names().get(region, region)


def subject(state: str, alarm_name: str, region: str) -> str:
    """The SNS Subject of an alarm notification: ``ALARM: "name" in Asia Pacific (Seoul)``.

    SNS takes at most 100 characters, so a long alarm name is cut to fit."""
    text = f'{state}: "{alarm_name}" in {region_display_name(region)}'
    return text if len(text) <= 100 else text[:97] + "..."


def notification(config: AlarmConfig, old_state: str, new_state: str, reason: str,
                 changed: datetime) -> dict[str, Any]:
    """The JSON message CloudWatch publishes to an SNS action when the alarm changes state
    (the user guide's "Amazon SNS notification" schema for metric alarms)."""
    trigger: dict[str, Any] = {
        "MetricName": config.metric_name,
        "Namespace": config.namespace,
    }
    if config.is_percentile:
        trigger["StatisticType"] = "ExtendedStatistic"
        trigger["ExtendedStatistic"] = config.statistic
    else:
        trigger["StatisticType"] = "Statistic"
        trigger["Statistic"] = config.statistic.upper()
    trigger["Unit"] = config.unit
    trigger["Dimensions"] = [{"value": value, "name": name} for name, value in config.dimensions]
    trigger["Period"] = int(config.period)
    trigger["EvaluationPeriods"] = config.n
    if config.datapoints_to_alarm is not None:
        trigger["DatapointsToAlarm"] = int(config.datapoints_to_alarm)
    trigger["ComparisonOperator"] = config.comparison_operator
    trigger["Threshold"] = float(config.threshold)
    trigger["TreatMissingData"] = config.treat_missing_data or "missing"
    trigger["EvaluateLowSampleCountPercentile"] = config.evaluate_low_sample_count_percentile or ""
    return {
        "AlarmName": config.name,
        "AlarmDescription": config.description,
        "AWSAccountId": config.account_id,
        "AlarmConfigurationUpdatedTimestamp": aws_timestamp(config.configuration_updated),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": aws_timestamp(changed),
        "Region": region_display_name(config.region),
        "AlarmArn": config.arn,
        "OldStateValue": old_state,
        "OKActions": list(config.ok_actions),
        "AlarmActions": list(config.alarm_actions),
        "InsufficientDataActions": list(config.insufficient_data_actions),
        "Trigger": trigger,
    }


# -- alarm history -------------------------------------------------------------------------------

def state_update_history(old_state: str, old_reason: str, old_reason_data: str | None,
                         new_state: str, new_reason: str,
                         new_reason_data: str | None) -> tuple[str, str]:
    """HistorySummary and HistoryData of a StateUpdate item."""
    def side(value: str, reason: str, reason_data: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"stateValue": value, "stateReason": reason}
        parsed = _json_or_none(reason_data)
        if parsed:
            entry["stateReasonData"] = parsed
        return entry

    data = {"version": "1.0", "oldState": side(old_state, old_reason, old_reason_data),
            "newState": side(new_state, new_reason, new_reason_data)}
    return f"Alarm updated from {old_state} to {new_state}", compact_json(data)


def alarm_description_json(config: AlarmConfig, state: str,
                           state_updated: datetime) -> dict[str, Any]:
    """An alarm's configuration as ConfigurationUpdate history items hold it."""
    data: dict[str, Any] = {
        "alarmName": config.name,
        "alarmDescription": config.description or "",
        "alarmArn": config.arn,
        "alarmConfigurationUpdatedTimestamp": aws_timestamp(config.configuration_updated),
        "namespace": config.namespace,
        "metricName": config.metric_name,
        ("extendedStatistic" if config.is_percentile else "statistic"): config.statistic,
        "period": int(config.period),
        "dimensions": [{"value": value, "name": name} for name, value in config.dimensions],
        "threshold": float(config.threshold),
        "comparisonOperator": config.comparison_operator,
        "evaluationPeriods": config.n,
    }
    if config.datapoints_to_alarm is not None:
        data["datapointsToAlarm"] = int(config.datapoints_to_alarm)
    if config.treat_missing_data:
        data["treatMissingData"] = config.treat_missing_data
    if config.unit:
        data["unit"] = config.unit
    data.update({
        "stateValue": state,
        "stateUpdatedTimestamp": aws_timestamp(state_updated),
        "actionsEnabled": config.actions_enabled,
        "alarmActions": list(config.alarm_actions),
        "insufficientDataActions": list(config.insufficient_data_actions),
        "okactions": list(config.ok_actions),  # sic: CloudWatch spells this key in lower case
    })
    return data


def configuration_history(kind: str, alarm: dict[str, Any],
                          original: dict[str, Any] | None = None) -> tuple[str, str]:
    """HistorySummary and HistoryData of a ConfigurationUpdate item; *kind* is ``Create``,
    ``Update`` or ``Delete``; *alarm* and *original* come from :func:`alarm_description_json`."""
    key = {"Create": "createdAlarm", "Update": "updatedAlarm", "Delete": "deletedAlarm"}[kind]
    data: dict[str, Any] = {"version": "1.0", "type": kind, key: alarm}
    if kind == "Update" and original is not None:
        data["originalAlarm"] = original
    verb = {"Create": "created", "Update": "updated", "Delete": "deleted"}[kind]
    return f'Alarm "{alarm["alarmName"]}" {verb}', compact_json(data)


def action_history(action_arn: str, when: datetime, published_message: str | None = None,
                   error: str | None = None) -> tuple[str, str]:
    """HistorySummary and HistoryData of an Action item: success unless *error* is given."""
    data: dict[str, Any] = {
        "actionState": "Failed" if error else "Succeeded",
        "stateUpdateTimestamp": int(utc(when).timestamp() * 1000),
        "notificationResource": action_arn,
    }
    if error:
        data["error"] = error
        return f'Failed to execute action {action_arn}. Received error: "{error}"', \
            compact_json(data)
    data["publishedMessage"] = published_message
    return f"Successfully executed action {action_arn}", compact_json(data)


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None

