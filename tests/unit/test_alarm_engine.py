"""The alarm engine against the CloudWatch user guide and what CloudWatch itself writes.

Tables marked "guide" are the user guide's ("Configuring how CloudWatch alarms treat missing
data"): 5 periods of the evaluation range, oldest first, 0 not breaching, X breaching, - missing;
RETAIN is "Retain current state". Wording tables come from state reasons, StateReasonData and
notifications CloudWatch produced.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from labkit.local.cloudwatch import alarm_engine as engine
from labkit.local.cloudwatch.alarm_engine import ALARM, INSUFFICIENT_DATA, OK, AlarmConfig, Sample

RETAIN = None
MODES = ("missing", "ignore", "breaching", "notBreaching")


def parse(pattern: str) -> list[bool | None]:
    return [{"X": True, "0": False, "-": None}[c] for c in pattern.split()]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def config(**changes) -> AlarmConfig:
    values = dict(name="mission-cpu-alarm", namespace="AWS/EC2", metric_name="CPUUtilization",
                  statistic="Average", period=60, evaluation_periods=3, threshold=50.0,
                  comparison_operator="GreaterThanThreshold",
                  dimensions=(("InstanceId", "i-0a1b2c3d4e5f67890"),))
    values.update(changes)
    return AlarmConfig(**values)


def samples_for(pattern: str, period: int, now: datetime, breach: float = 80.0,
                calm: float = 20.0) -> list[Sample]:
    """One sample in each period of *pattern*, the last pattern entry in the last complete
    period before *now*."""
    marks = pattern.split()
    end = engine.bucket_start(now, period)
    samples = []
    for i, mark in enumerate(marks):
        start = end - timedelta(seconds=period * (len(marks) - i))
        if mark != "-":
            samples.append(Sample.of(start + timedelta(seconds=period // 2),
                                     breach if mark == "X" else calm, storage_resolution=1))
    return samples


# -- the guide's tables ----------------------------------------------------------------------

# "Datapoints to Alarm and Evaluation Periods are both 3" (guide, first table). The last row is
# the guide's earlier edition of the same table, before the premature-alarm section was added.
THREE_OF_THREE = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - X - -", ALARM, RETAIN, ALARM, OK),
    ("- - - - X", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
]

# "Datapoints to Alarm is only 2 while Evaluation Periods is 3" (guide, second table).
TWO_OF_THREE = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - X -", ALARM, RETAIN, ALARM, OK),
    ("- - - - X", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
]


def table_cases(table, m):
    for pattern, *states in table:
        for mode, state in zip(MODES, states):
            yield pytest.param(pattern, m, mode, state, id=f"{m}of3 {pattern} {mode}")


@pytest.mark.parametrize("pattern,m,mode,expected",
                         [*table_cases(THREE_OF_THREE, 3), *table_cases(TWO_OF_THREE, 2)])
def test_the_guides_tables(pattern, m, mode, expected):
    assert engine.decide(parse(pattern), m, 3, mode).state == expected


@pytest.mark.parametrize("pattern,m,mode,expected",
                         [*table_cases(THREE_OF_THREE, 3), *table_cases(TWO_OF_THREE, 2)])
def test_the_guides_tables_through_buckets(pattern, m, mode, expected):
    # The same tables from timestamped samples: period alignment and the evaluation range
    # (N + 2 = 5 periods, ending with the last complete period) put each sample in its place.
    now = utc(2024, 5, 14, 6, 17, 42)
    alarm = config(period=10, evaluation_periods=3, datapoints_to_alarm=m,
                   treat_missing_data=mode)
    assert engine.evaluate(alarm, samples_for(pattern, 10, now), now).state == expected


def test_fills_only_as_few_missing_periods_as_possible():
    # Guide: "CloudWatch uses missing data points only as few times as possible" and
    # "all real data points in the evaluation range are included".
    decision = engine.decide(parse("0 - X - -"), 3, 3, "breaching")
    assert decision.evaluated == (0, 2)
    assert decision.filled == (4,)           # one fill (N - 2 real), the most recent gap
    assert decision.state == OK               # X + one breaching fill = 2 < 3


def test_enough_real_datapoints_make_the_treatment_irrelevant():
    # Guide: with at least N real datapoints in the range, the most recent real ones are
    # evaluated, "including the necessary extra data points from farther back".
    for mode in MODES:
        decision = engine.decide(parse("X - X - X"), 3, 3, mode)
        assert decision.state == ALARM and decision.evaluated == (0, 2, 4) and not decision.filled


# Premature-alarm rule (guide, "Avoiding premature transitions to alarm state"): with
# TreatMissingData missing, the alarm goes to ALARM when the oldest breaching datapoint is at
# least M periods old and every more recent datapoint is breaching or missing.
PREMATURE = [
    ("- - - - X", 3, INSUFFICIENT_DATA),   # the next datapoint may well be 0
    ("- - - X -", 3, INSUFFICIENT_DATA),
    ("- - X - -", 3, ALARM),               # "goes into ALARM state even if ... treated as missing"
    ("- X - - -", 3, ALARM),
    ("X - - - -", 3, ALARM),
    ("- - X X -", 3, ALARM),
    ("- - - X -", 2, ALARM),               # M of N: at least as old as Datapoints to Alarm
    ("- - - - X", 2, INSUFFICIENT_DATA),
    ("- - - - X", 1, ALARM),               # one breaching datapoint is M already
    ("- - X - 0", 3, OK),                  # a non-breaching datapoint: no premature alarm
    ("0 - X - -", 2, OK),
]


@pytest.mark.parametrize("pattern,m,expected", PREMATURE)
def test_premature_alarm_rule(pattern, m, expected):
    assert engine.decide(parse(pattern), m, 3, "missing").state == expected


@pytest.mark.parametrize("pattern", ["- - X - -", "- X - - -", "- - - X -"])
def test_ignore_never_alarms_prematurely(pattern):
    assert engine.decide(parse(pattern), 2, 3, "ignore").state is RETAIN


# M out of N without missing data (guide, "Evaluating an alarm": the breaching datapoints
# "don't have to be consecutive, they just must all be within the last" N).
M_OF_N = [
    ("0 0 X 0 X", 2, 3, ALARM),
    ("X X 0 0 X", 2, 3, OK),          # the older X are outside the last 3
    ("0 0 X X 0 X X", 4, 5, ALARM),
    ("0 X 0 X 0 0 X", 4, 5, OK),
    ("0 0 0 0 0 0 X", 1, 5, ALARM),
    ("X X X X X X 0", 5, 5, OK),
    ("X X X X X X 0", 1, 1, OK),
]


@pytest.mark.parametrize("pattern,m,n,expected", M_OF_N)
def test_m_out_of_n(pattern, m, n, expected):
    for mode in MODES:
        assert engine.decide(parse(pattern), m, n, mode).state == expected


def test_datapoints_to_alarm_defaults_to_evaluation_periods():
    assert config(evaluation_periods=4).m == 4
    assert config(evaluation_periods=4, datapoints_to_alarm=2).m == 2


def test_dynamodb_alarms_always_ignore_missing_data():
    # Guide: "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing
    # data even if you choose a different option".
    assert config(namespace="AWS/DynamoDB", treat_missing_data="breaching").treatment == "ignore"
    assert config(treat_missing_data=None).treatment == "missing"


# -- periods, buckets, the evaluation range ------------------------------------------------------

ALIGNMENT = [
    (utc(2024, 5, 14, 6, 17, 42, 900000), 10, utc(2024, 5, 14, 6, 17, 40)),
    (utc(2024, 5, 14, 6, 17, 40), 10, utc(2024, 5, 14, 6, 17, 40)),
    (utc(2024, 5, 14, 6, 17, 39, 999999), 10, utc(2024, 5, 14, 6, 17, 30)),
    (utc(2024, 5, 14, 6, 17, 42), 20, utc(2024, 5, 14, 6, 17, 40)),
    (utc(2024, 5, 14, 6, 17, 42), 30, utc(2024, 5, 14, 6, 17, 30)),
    (utc(2024, 5, 14, 6, 17, 42), 60, utc(2024, 5, 14, 6, 17)),
    (utc(2024, 5, 14, 6, 17, 42), 300, utc(2024, 5, 14, 6, 15)),
    (utc(2024, 5, 14, 6, 17, 42), 3600, utc(2024, 5, 14, 6)),
    (datetime(2024, 5, 14, 6, 17, 42), 60, utc(2024, 5, 14, 6, 17)),    # naive = UTC
    (datetime(2024, 5, 14, 15, 17, 42, tzinfo=timezone(timedelta(hours=9))), 60,
     utc(2024, 5, 14, 6, 17)),
]


@pytest.mark.parametrize("moment,period,start", ALIGNMENT)
def test_buckets_start_at_multiples_of_the_period_since_the_epoch(moment, period, start):
    assert engine.bucket_start(moment, period) == start


@pytest.mark.parametrize("period,ok", [(10, True), (20, True), (30, True), (60, True),
                                       (120, True), (3600, True), (5, False), (15, False),
                                       (45, False), (90, False)])
def test_supported_periods(period, ok):
    # High-resolution alarms take 10, 20 or 30 s; others any multiple of 60 s.
    assert engine.is_supported_period(period) is ok


def test_high_resolution_data_keeps_its_second_and_standard_data_its_minute():
    at = utc(2024, 5, 14, 6, 17, 42, 500000)
    assert Sample.of(at, 1.0, storage_resolution=1).stored_at == utc(2024, 5, 14, 6, 17, 42)
    assert Sample.of(at, 1.0, storage_resolution=60).stored_at == utc(2024, 5, 14, 6, 17)
    assert Sample.of(at, 1.0).stored_at == utc(2024, 5, 14, 6, 17)


def test_a_10_second_alarm_on_standard_resolution_data_sees_only_the_minute_bucket():
    # API reference (Period): with 10 s on a metric without sub-minute resolution "it does not
    # receive data for the attempts that do not correspond to a one-minute data resolution".
    now = utc(2024, 5, 14, 6, 18, 5)
    alarm = config(period=10, evaluation_periods=1, threshold=50.0)
    standard = [Sample.of(utc(2024, 5, 14, 6, 17, 55), 90.0)]       # filed at 06:17:00
    assert engine.evaluate(alarm, standard, now).state == INSUFFICIENT_DATA
    high = [Sample.of(utc(2024, 5, 14, 6, 17, 55), 90.0, storage_resolution=1)]
    assert engine.evaluate(alarm, high, now).state == ALARM


def test_the_evaluation_range_ends_with_the_last_complete_period():
    alarm = config(period=10, evaluation_periods=1, treat_missing_data="missing")
    inside_current = [Sample.of(utc(2024, 5, 14, 6, 17, 41), 90.0, storage_resolution=1)]
    # 06:17:45: the 06:17:40 period is still filling up; it is neither evaluated nor missing,
    # the last complete period (06:17:30) is what is missing.
    slots = engine.evaluation_slots(alarm, inside_current, utc(2024, 5, 14, 6, 17, 45))
    assert [s.start for s in slots] == [utc(2024, 5, 14, 6, 17, 10), utc(2024, 5, 14, 6, 17, 20),
                                        utc(2024, 5, 14, 6, 17, 30)]
    assert engine.evaluate(alarm, inside_current, utc(2024, 5, 14, 6, 17, 45)).state \
        == INSUFFICIENT_DATA
    # Once the period is over, the same datapoint is evaluated.
    assert engine.evaluate(alarm, inside_current, utc(2024, 5, 14, 6, 17, 50)).state == ALARM


def test_the_evaluation_range_is_n_plus_two_periods():
    # The guide's examples: N = 3 retrieves "the 5 most recent data points".
    assert engine.evaluation_range(3) == 5
    now = utc(2024, 5, 14, 6, 18, 5)
    alarm = config(period=10, evaluation_periods=1)
    within = [Sample.of(utc(2024, 5, 14, 6, 17, 35), 90.0, storage_resolution=1)]   # 3rd back
    beyond = [Sample.of(utc(2024, 5, 14, 6, 17, 25), 90.0, storage_resolution=1)]   # 4th back
    assert engine.evaluate(alarm, within, now).state == ALARM
    assert engine.evaluate(alarm, beyond, now).state == INSUFFICIENT_DATA


def test_samples_of_other_units_are_left_out_when_the_alarm_names_one():
    now = utc(2024, 5, 14, 6, 18, 5)
    samples = [Sample.of(utc(2024, 5, 14, 6, 17, 1), 90.0, unit="Count")]
    assert engine.evaluate(config(evaluation_periods=1, unit="Percent"), samples, now).state \
        == INSUFFICIENT_DATA
    assert engine.evaluate(config(evaluation_periods=1), samples, now).state == ALARM


# -- statistics ----------------------------------------------------------------------------------

VALUES = [Sample.of(utc(2024, 1, 1), v) for v in (3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0)]
STATISTIC_SET = Sample(utc(2024, 1, 1), sample_count=4.0, total=10.0, minimum=1.0, maximum=4.0)
EQUAL_SET = Sample(utc(2024, 1, 1), sample_count=3.0, total=21.0, minimum=7.0, maximum=7.0)

STATISTIC_CASES = [
    (VALUES, "SampleCount", 8.0),
    (VALUES, "Sum", 31.0),
    (VALUES, "Average", 3.875),
    (VALUES, "Minimum", 1.0),
    (VALUES, "Maximum", 9.0),
    (VALUES, "p50", 3.0),          # nearest rank: 4th of 8 sorted (1 1 2 3 4 5 6 9)
    (VALUES, "p90", 9.0),
    (VALUES, "p12.5", 1.0),
    (VALUES, "p100", 9.0),
    ([STATISTIC_SET], "SampleCount", 4.0),
    ([STATISTIC_SET], "Sum", 10.0),
    ([STATISTIC_SET], "Average", 2.5),
    ([STATISTIC_SET], "Minimum", 1.0),
    ([STATISTIC_SET], "Maximum", 4.0),
    ([STATISTIC_SET], "p50", None),              # a set of different values has no percentiles
    ([EQUAL_SET], "p99", 7.0),                   # ... unless min == max
    ([STATISTIC_SET, *VALUES], "Average", 41.0 / 12),
    ([STATISTIC_SET, *VALUES], "Maximum", 9.0),
    ([], "Average", None),
    ([], "SampleCount", None),
]


@pytest.mark.parametrize("samples,name,expected", STATISTIC_CASES)
def test_statistics(samples, name, expected):
    value = engine.statistic(samples, name)
    assert value == (pytest.approx(expected) if expected is not None else None)


def test_unknown_statistics_are_refused():
    with pytest.raises(ValueError):
        engine.statistic(VALUES, "tm99")


# Guide ("Percentile-based alarms and low data samples"): fewer than 10/(1-p) samples for p in
# [0.5, 1), fewer than 10/p below 0.5.
LOW_SAMPLES = [("p99", 999, True), ("p99", 1000, False), ("p90", 99, True), ("p90", 100, False),
               ("p50", 19, True), ("p50", 20, False), ("p10", 99, True), ("p10", 100, False),
               ("p25", 39, True), ("p25", 40, False), ("Average", 1, False)]


@pytest.mark.parametrize("name,count,low", LOW_SAMPLES)
def test_low_sample_count(name, count, low):
    assert engine.low_sample_count(count, name) is low


def test_percentile_alarm_with_ignore_keeps_its_state_while_samples_are_few():
    now = utc(2024, 5, 14, 6, 18, 5)
    few = [Sample.of(utc(2024, 5, 14, 6, 17, 1), 99.0)]
    alarm = config(statistic="p90", evaluation_periods=1,
                   evaluate_low_sample_count_percentile="ignore")
    assert engine.evaluate(alarm, few, now).state is RETAIN
    assert engine.evaluate(config(statistic="p90", evaluation_periods=1), few, now).state == ALARM


OPERATOR_CASES = [
    ("GreaterThanOrEqualToThreshold", 50.0, True), ("GreaterThanOrEqualToThreshold", 49.9, False),
    ("GreaterThanThreshold", 50.0, False), ("GreaterThanThreshold", 50.1, True),
    ("LessThanThreshold", 50.0, False), ("LessThanThreshold", 49.9, True),
    ("LessThanOrEqualToThreshold", 50.0, True), ("LessThanOrEqualToThreshold", 50.1, False),
]


@pytest.mark.parametrize("operator,value,breaching", OPERATOR_CASES)
def test_comparison_operators(operator, value, breaching):
    assert engine.breaches(value, 50.0, operator) is breaching


def test_anomaly_band_operators_are_refused():
    with pytest.raises(ValueError):
        engine.breaches(1.0, 0.0, "GreaterThanUpperThreshold")


# -- state reasons and StateReasonData, as CloudWatch writes them -------------------------------

def reason_at(now: datetime, samples: list[Sample], **changes) -> engine.Evaluation:
    return engine.evaluate(config(**changes), samples, now)


def test_reason_one_datapoint_crossing():
    result = reason_at(utc(2024, 5, 14, 6, 18, 5), [Sample.of(utc(2024, 5, 14, 6, 17, 20), 72.5)],
                       evaluation_periods=1, comparison_operator="GreaterThanOrEqualToThreshold")
    assert result.state == ALARM
    assert result.reason == ("Threshold Crossed: 1 datapoint [72.5 (14/05/24 06:17:00)] was "
                             "greater than or equal to the threshold (50.0).")


def test_reason_with_datapoints_to_alarm_set():
    now, at = utc(2024, 5, 14, 6, 18, 5), utc(2024, 5, 14, 6, 17, 20)
    common = dict(evaluation_periods=1, datapoints_to_alarm=1,
                  comparison_operator="GreaterThanOrEqualToThreshold")
    assert reason_at(now, [Sample.of(at, 98.6)], **common).reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [98.6 (14/05/24 06:17:00)] was greater "
        "than or equal to the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).")
    assert reason_at(now, [Sample.of(at, 3.1)], **common).reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [3.1 (14/05/24 06:17:00)] was not "
        "greater than or equal to the threshold (50.0) (minimum 1 datapoint for ALARM -> OK "
        "transition).")


def test_reason_and_data_of_two_datapoints():
    # CloudWatch wrote this for a Sum alarm over two 1-minute periods.
    now = utc(2023, 1, 9, 14, 3, 25, 504000)
    samples = [Sample.of(utc(2023, 1, 9, 14, 1, 7), 1.0), Sample.of(utc(2023, 1, 9, 14, 2, 7), 0.0)]
    result = reason_at(now, samples, statistic="Sum", evaluation_periods=2, threshold=42.0)
    assert result.state == OK
    assert result.reason == ("Threshold Crossed: 2 datapoints [0.0 (09/01/23 14:02:00), 1.0 "
                             "(09/01/23 14:01:00)] were not greater than the threshold (42.0).")
    assert json.dumps(result.reason_data, separators=(",", ":")) == (
        '{"version":"1.0","queryDate":"2023-01-09T14:03:25.504+0000",'
        '"startDate":"2023-01-09T14:01:00.000+0000","statistic":"Sum","period":60,'
        '"recentDatapoints":[1.0,0.0],"threshold":42.0,"evaluatedDatapoints":'
        '[{"timestamp":"2023-01-09T14:02:00.000+0000","sampleCount":1.0,"value":0.0}]}')


def test_reason_and_data_of_three_out_of_three():
    now = utc(2022, 1, 26, 13, 29, 29, 292000)
    values = [(13, 10, 38.364239895660816), (13, 15, 38.391752618786896),
              (13, 20, 38.395433048854194)]
    samples = [Sample(utc(2022, 1, 26, h, m, 30), 4.0, 4 * v, v, v) for h, m, v in values]
    result = reason_at(now, samples, period=300, datapoints_to_alarm=3, threshold=80.0,
                       comparison_operator="GreaterThanOrEqualToThreshold")
    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [38.395433048854194 (26/01/22 "
        "13:20:00), 38.391752618786896 (26/01/22 13:15:00), 38.364239895660816 (26/01/22 "
        "13:10:00)] were not greater than or equal to the threshold (80.0) (minimum 1 datapoint "
        "for ALARM -> OK transition).")
    data = result.reason_data
    assert data["recentDatapoints"] == [38.364239895660816, 38.391752618786896,
                                        38.395433048854194]
    assert data["startDate"] == "2022-01-26T13:10:00.000+0000"
    assert data["evaluatedDatapoints"] == [{"timestamp": "2022-01-26T13:20:00.000+0000",
                                            "sampleCount": 4.0, "value": 38.395433048854194}]


def test_reason_and_data_when_nothing_was_received():
    now = utc(2026, 1, 13, 1, 57, 48, 92000)
    result = reason_at(now, [], statistic="Sum", period=300, evaluation_periods=1,
                       threshold=10.0, treat_missing_data="breaching")
    assert result.state == ALARM
    assert result.reason == ("Threshold Crossed: no datapoints were received for 1 period and 1 "
                             "missing datapoint was treated as [Breaching].")
    assert result.reason_data == {
        "version": "1.0", "queryDate": "2026-01-13T01:57:48.092+0000", "statistic": "Sum",
        "period": 300, "recentDatapoints": [], "threshold": 10.0,
        "evaluatedDatapoints": [{"timestamp": "2026-01-13T01:50:00.000+0000"}]}
    result = reason_at(now, [], evaluation_periods=2, treat_missing_data="notBreaching")
    assert result.state == OK
    assert result.reason == ("Threshold Crossed: no datapoints were received for 2 periods and 2 "
                             "missing datapoints were treated as [NonBreaching].")
    result = reason_at(now, [], evaluation_periods=2, datapoints_to_alarm=2,
                       treat_missing_data="breaching")
    assert [p["timestamp"] for p in result.reason_data["evaluatedDatapoints"]] == [
        "2026-01-13T01:56:00.000+0000", "2026-01-13T01:55:00.000+0000"]


def test_reason_with_real_and_filled_datapoints():
    now = utc(2026, 4, 20, 18, 47, 5)
    at = utc(2026, 4, 20, 18, 45, 30)
    result = reason_at(now, [Sample.of(at, 0.0)], statistic="Sum", evaluation_periods=2,
                       threshold=1.0, comparison_operator="LessThanThreshold",
                       treat_missing_data="breaching")
    assert result.state == ALARM
    assert result.reason == ("Threshold Crossed: 1 datapoint [0.0 (20/04/26 18:45:00)] was less "
                             "than the threshold (1.0) and 1 missing datapoint was treated as "
                             "[Breaching].")
    result = reason_at(utc(2026, 8, 19, 9, 46, 5), [Sample.of(utc(2026, 8, 19, 9, 36, 1), 2.0)],
                       statistic="Maximum", evaluation_periods=8, threshold=0.0,
                       comparison_operator="LessThanOrEqualToThreshold",
                       treat_missing_data="breaching")
    assert result.state == OK
    assert result.reason == ("Threshold Crossed: 1 datapoint [2.0 (19/08/26 09:36:00)] was not "
                             "less than or equal to the threshold (0.0) and 7 missing datapoints "
                             "were treated as [Breaching].")


def test_reason_m_of_n_with_filled_datapoints():
    now = utc(2024, 3, 16, 12, 21, 45)
    result = reason_at(now, [Sample.of(utc(2024, 3, 16, 12, 15, 1), 613.0)], statistic="Sum",
                       period=300, evaluation_periods=20, datapoints_to_alarm=1, threshold=1.0,
                       comparison_operator="GreaterThanOrEqualToThreshold",
                       treat_missing_data="notBreaching")
    assert result.state == ALARM
    assert result.reason == (
        "Threshold Crossed: 1 out of the last 20 datapoints [613.0 (16/03/24 12:15:00)] was "
        "greater than or equal to the threshold (1.0) and 19 missing datapoints were treated as "
        "[NonBreaching] (minimum 1 datapoint for OK -> ALARM transition).")


def test_reason_when_filled_datapoints_alone_decide():
    now = utc(2026, 9, 5, 10, 3, 5)
    result = reason_at(now, [Sample.of(utc(2026, 9, 5, 10, 0, 1), 0.0)], statistic="Sum",
                       evaluation_periods=3, datapoints_to_alarm=2, threshold=0.0,
                       treat_missing_data="breaching")
    assert result.state == ALARM
    assert result.reason == ("Threshold Crossed: 1 datapoint was received for 3 periods and 2 "
                             "missing datapoints were treated as [Breaching].")


def test_reason_and_data_of_insufficient_data():
    now = utc(2021, 10, 14, 14, 49, 54, 786000)
    result = reason_at(now, [], evaluation_periods=1)
    assert result.state == INSUFFICIENT_DATA
    assert result.reason == "Insufficient Data: 1 datapoint was unknown."
    result = reason_at(now, [], statistic="Maximum", period=300, evaluation_periods=5,
                       threshold=10.0)
    assert result.reason == "Insufficient Data: 5 datapoints were unknown."
    assert result.reason_data == {
        "version": "1.0", "queryDate": "2021-10-14T14:49:54.786+0000", "statistic": "Maximum",
        "period": 300, "recentDatapoints": [], "threshold": 10.0,
        "evaluatedDatapoints": [{"timestamp": f"2021-10-14T14:{m:02d}:00.000+0000"}
                                for m in (40, 35, 30, 25, 20)]}


def test_percentile_alarms_name_their_extended_statistic():
    now = utc(2024, 5, 14, 6, 18, 5)
    result = reason_at(now, [Sample.of(utc(2024, 5, 14, 6, 17, 1), 99.0)], statistic="p90",
                       evaluation_periods=1)
    assert result.reason_data["extendedStatistic"] == "p90"
    assert "statistic" not in result.reason_data


FORMATS = [(50.0, "50.0"), (72.5, "72.5"), (0.0, "0.0"), (1.0, "1.0"), (20000.0, "20000.0"),
           (38.395433048854194, "38.395433048854194"), (0.06, "0.06"), (-3.0, "-3.0"),
           (1e7, "1.0E7"), (12345678.0, "1.2345678E7"), (1e-5, "1.0E-5"), (0.001, "0.001")]


@pytest.mark.parametrize("value,text", FORMATS)
def test_numbers_print_as_cloudwatch_prints_them(value, text):
    assert engine.java_double(value) == text


def test_time_formats():
    moment = utc(2024, 5, 14, 6, 17, 0, 511000)
    assert engine.aws_timestamp(moment) == "2024-05-14T06:17:00.511+0000"
    assert engine.reason_time(moment) == "14/05/24 06:17:00"


# -- notifications -------------------------------------------------------------------------------

TOPIC = "arn:aws:sns:ap-northeast-2:123456789012:mission-sns"


def seoul_alarm(**changes) -> AlarmConfig:
    values = dict(
        evaluation_periods=1, datapoints_to_alarm=1, period=10,
        comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing",
        description="CPU of the bastion instance at or above 50%", region="ap-northeast-2",
        arn="arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:mission-cpu-alarm",
        ok_actions=(TOPIC,), alarm_actions=(TOPIC,),
        configuration_updated=utc(2024, 5, 14, 5, 58, 3, 511000))
    values.update(changes)
    return config(**values)


def test_notification_is_the_documented_json():
    reason = "Threshold Crossed: ..."
    message = engine.notification(seoul_alarm(), OK, ALARM, reason,
                                  utc(2024, 5, 14, 6, 12, 41, 20000))
    assert message == {
        "AlarmName": "mission-cpu-alarm",
        "AlarmDescription": "CPU of the bastion instance at or above 50%",
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2024-05-14T05:58:03.511+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": reason,
        "StateChangeTime": "2024-05-14T06:12:41.020+0000",
        "Region": "Asia Pacific (Seoul)",
        "AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:mission-cpu-alarm",
        "OldStateValue": "OK",
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "CPUUtilization", "Namespace": "AWS/EC2",
            "StatisticType": "Statistic", "Statistic": "AVERAGE", "Unit": None,
            "Dimensions": [{"value": "i-0a1b2c3d4e5f67890", "name": "InstanceId"}],
            "Period": 10, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 50.0,
            "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""},
    }
    # The documented field order, which CloudWatch keeps in the JSON text.
    assert list(message) == ["AlarmName", "AlarmDescription", "AWSAccountId",
                             "AlarmConfigurationUpdatedTimestamp", "NewStateValue",
                             "NewStateReason", "StateChangeTime", "Region", "AlarmArn",
                             "OldStateValue", "OKActions", "AlarmActions",
                             "InsufficientDataActions", "Trigger"]


def test_notification_variants():
    message = engine.notification(seoul_alarm(description=None, datapoints_to_alarm=None,
                                              statistic="p90", unit="Percent",
                                              treat_missing_data=None),
                                  INSUFFICIENT_DATA, OK, "r", utc(2024, 5, 14))
    assert message["AlarmDescription"] is None
    trigger = message["Trigger"]
    assert trigger["StatisticType"] == "ExtendedStatistic" and trigger["ExtendedStatistic"] == "p90"
    assert "Statistic" not in trigger and "DatapointsToAlarm" not in trigger
    assert trigger["Unit"] == "Percent" and trigger["TreatMissingData"] == "missing"


SUBJECTS = [
    (ALARM, "mission-cpu-alarm", "ap-northeast-2",
     'ALARM: "mission-cpu-alarm" in Asia Pacific (Seoul)'),
    (OK, "mission-cpu-alarm", "ap-northeast-2", 'OK: "mission-cpu-alarm" in Asia Pacific (Seoul)'),
    (INSUFFICIENT_DATA, "x", "us-east-1", 'INSUFFICIENT_DATA: "x" in US East (N. Virginia)'),
    (ALARM, "x", "ap-northeast-1", 'ALARM: "x" in Asia Pacific (Tokyo)'),
    (ALARM, "x", "xx-nowhere-9", 'ALARM: "x" in xx-nowhere-9'),
]


@pytest.mark.parametrize("state,name,region,expected", SUBJECTS)
def test_subject(state, name, region, expected):
    assert engine.subject(state, name, region) == expected


def test_subject_fits_sns():
    assert len(engine.subject(INSUFFICIENT_DATA, "a" * 255, "ap-northeast-2")) <= 100


# -- history items -------------------------------------------------------------------------------

def test_state_update_history():
    summary, data = engine.state_update_history(
        "ALARM", "testing purposes", None, "OK", "Threshold Crossed: ...",
        '{"version":"1.0","period":300}')
    assert summary == "Alarm updated from ALARM to OK"
    assert data == ('{"version":"1.0","oldState":{"stateValue":"ALARM","stateReason":'
                    '"testing purposes"},"newState":{"stateValue":"OK","stateReason":'
                    '"Threshold Crossed: ...","stateReasonData":{"version":"1.0","period":300}}}')


def test_configuration_history():
    alarm = seoul_alarm()
    created = engine.alarm_description_json(alarm, INSUFFICIENT_DATA, utc(2024, 5, 14, 5, 58, 3))
    summary, data = engine.configuration_history("Create", created)
    assert summary == 'Alarm "mission-cpu-alarm" created'
    parsed = json.loads(data)
    assert parsed["version"] == "1.0" and parsed["type"] == "Create"
    assert list(parsed["createdAlarm"]) == [
        "alarmName", "alarmDescription", "alarmArn", "alarmConfigurationUpdatedTimestamp",
        "namespace", "metricName", "statistic", "period", "dimensions", "threshold",
        "comparisonOperator", "evaluationPeriods", "datapointsToAlarm", "treatMissingData",
        "stateValue", "stateUpdatedTimestamp", "actionsEnabled", "alarmActions",
        "insufficientDataActions", "okactions"]
    assert parsed["createdAlarm"]["dimensions"] == [{"value": "i-0a1b2c3d4e5f67890",
                                                     "name": "InstanceId"}]
    updated = dict(created, threshold=60.0)
    summary, data = engine.configuration_history("Update", updated, created)
    assert summary == 'Alarm "mission-cpu-alarm" updated'
    parsed = json.loads(data)
    assert parsed["type"] == "Update" and parsed["updatedAlarm"]["threshold"] == 60.0
    assert parsed["originalAlarm"]["threshold"] == 50.0
    assert engine.configuration_history("Delete", created)[0] == 'Alarm "mission-cpu-alarm" deleted'


def test_action_history():
    when = utc(2024, 5, 14, 6, 12, 41, 20000)
    summary, data = engine.action_history(TOPIC, when, published_message='{"a":1}')
    assert summary == f"Successfully executed action {TOPIC}"
    assert json.loads(data) == {"actionState": "Succeeded", "stateUpdateTimestamp": 1715667161020,
                                "notificationResource": TOPIC, "publishedMessage": '{"a":1}'}
    summary, data = engine.action_history(TOPIC, when, error="Topic does not exist")
    assert summary == f'Failed to execute action {TOPIC}. Received error: "Topic does not exist"'
    assert json.loads(data)["actionState"] == "Failed"
