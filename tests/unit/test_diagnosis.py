"""Why an alarm did not move: the message names the figures and the way out."""

from __future__ import annotations

import datetime as dt

import pytest

from labkit.bastion.diagnosis import PeriodFigure, breaches, explain, period_averages
from labkit.i18n import catalogue, set_language

UTC = dt.timezone.utc
ALARM = {"AlarmName": "mission-cpu-alarm", "Statistic": "Average", "Threshold": 50.0,
         "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Period": 10,
         "EvaluationPeriods": 1, "DatapointsToAlarm": 1, "StateValue": "OK"}


def at(second: float) -> dt.datetime:
    return dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + dt.timedelta(seconds=second)


def figures(*averages: float) -> list[PeriodFigure]:
    return [PeriodFigure(at(10 * i), avg, 10) for i, avg in enumerate(averages)]


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    set_language("en")


def test_period_averages_counts_complete_periods_only():
    samples = [(at(1), 10.0), (at(5), 30.0), (at(12), 90.0), (at(18), 70.0), (at(21), 99.0)]
    assert period_averages(samples, 10, now=at(25)) == [
        PeriodFigure(at(0), 20.0, 2), PeriodFigure(at(10), 80.0, 2)]  # 00:20 is still filling


@pytest.mark.parametrize("operator, value, expected", [
    ("GreaterThanOrEqualToThreshold", 50.0, True), ("GreaterThanOrEqualToThreshold", 49.9, False),
    ("GreaterThanThreshold", 50.0, False), ("LessThanThreshold", 10.0, True),
    ("LessThanOrEqualToThreshold", 50.0, True),
])
def test_breaches(operator, value, expected):
    assert breaches({**ALARM, "ComparisonOperator": operator}, value) is expected


@pytest.mark.parametrize("case, kwargs, in_what, in_todo", [
    ("starved: the computer did not give the bastion its vCPUs",
     dict(wanted="ALARM", figures=figures(2.0, 31.0, 33.5), vcpus=2, workers=2),
     ["ALARM", "150 s", "31", "33.5", "≥ 50 %", "10 s"],
     ["about 100 %", "only 33.5 %", "overcommitted", 'bastion_cpu = "scripted"']),
    ("a load too small for the bastion's vCPUs",
     dict(wanted="ALARM", figures=figures(24.0, 25.0), vcpus=8, workers=2),
     ["25 %"], ["at most 25 %", "stress --cpu 8", "bastion_vcpus"]),
    ("figures breach but the alarm did not move",
     dict(wanted="ALARM", figures=figures(97.0), vcpus=2, workers=2),
     ["97 %"], ["put_metric_alarm"]),
    ("nothing published at all",
     dict(wanted="ALARM", figures=[], vcpus=2, workers=2),
     ["no CPU datapoints"], ["metric agent", "re-run this cell"]),
    ("still busy after the load",
     dict(wanted="OK", figures=figures(99.0, 98.0), vcpus=2),
     ["OK", "99 %", "98 %", "no longer holds"], ["bastion.stop_all()"]),
    ("aws: no datapoints, basic monitoring",
     dict(wanted="ALARM", figures=[], local=False),
     ["no CPU datapoints"], ["detailed monitoring", "10 s"]),
    ("aws: nothing loaded the instance",
     dict(wanted="ALARM", figures=figures(0.5), local=False),
     ["0.5 %"], ["stress command", "alarm_quick_test"]),
    ("aws: still busy",
     dict(wanted="OK", figures=figures(100.0), local=False),
     ["100 %"], ["--timeout"]),
])
def test_the_message_names_the_figures_and_what_to_do(case, kwargs, in_what, in_todo):
    what, todo = explain(ALARM, waited=150, **kwargs)
    for words in in_what:
        assert words in what, (case, what)
    for words in in_todo:
        assert words in todo, (case, todo)


def test_a_scripted_bastion_is_never_called_starved():
    _, todo = explain(ALARM, "ALARM", 60, figures(30.0), vcpus=2, workers=1, scripted=True)
    assert "overcommitted" not in todo and "at most 50 %" in todo


def test_the_message_in_korean():
    set_language("ko")
    what, todo = explain(ALARM, "ALARM", 150, figures(31.0), vcpus=2, workers=2)
    assert "150초" in what and "31%" in what and "평가 기간 1개" in what
    assert "vCPU" in todo and 'bastion_cpu = "scripted"' in todo


def test_every_message_has_the_same_placeholders_in_both_languages():
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    en, ko = catalogue("en"), catalogue("ko")
    keys = [k for k in en if k.startswith(("why.", "bastion."))]
    assert keys and all(k in ko for k in keys)
    assert all(fields(en[k]) == fields(ko[k]) for k in keys)
