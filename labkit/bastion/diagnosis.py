"""Why an alarm did not move: the figures behind it, in words a learner can act on.

Pure functions: they take the alarm's configuration and the CPU datapoints (what the local
agent published, or what CloudWatch returns for the instance on AWS) and say what the alarm
saw, what it needed, and what to do, in the lab's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from ..i18n import t
from .metric_agent import aligned

_BREACHES = {
    "GreaterThanOrEqualToThreshold": lambda v, limit: v >= limit,
    "GreaterThanThreshold": lambda v, limit: v > limit,
    "LessThanThreshold": lambda v, limit: v < limit,
    "LessThanOrEqualToThreshold": lambda v, limit: v <= limit,
}
_SIGNS = {"GreaterThanOrEqualToThreshold": "≥", "GreaterThanThreshold": ">",
          "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "≤"}
# How many complete periods a message shows.
SHOWN_PERIODS = 4
# Below this share of what the load asks for, the bastion did not get its vCPUs.
STARVED = 0.8


@dataclass(frozen=True)
class PeriodFigure:
    """The Average of one complete period, from *count* datapoints."""

    start: dt.datetime
    average: float
    count: int


def period_averages(samples: Iterable[tuple[dt.datetime, float]], period: int,
                    now: dt.datetime) -> list[PeriodFigure]:
    """The Average of each complete period (ended before *now*) that has datapoints, oldest first."""
    current = aligned(now, period)
    buckets: dict[dt.datetime, list[float]] = {}
    for when, value in samples:
        start = aligned(when, period)
        if start < current:
            buckets.setdefault(start, []).append(float(value))
    return [PeriodFigure(start, sum(values) / len(values), len(values))
            for start, values in sorted(buckets.items())]


def breaches(alarm: dict, value: float) -> bool:
    """Whether *value* is on the ALARM side of the alarm's threshold."""
    compare = _BREACHES.get(alarm.get("ComparisonOperator", ""), _BREACHES[
        "GreaterThanOrEqualToThreshold"])
    return compare(value, float(alarm.get("Threshold", 0.0)))


def expected_load(workers: int, vcpus: int) -> float:
    """What ``stress --cpu <workers>`` reads on a bastion of *vcpus* given all it asks for."""
    return min(100.0, 100.0 * workers / vcpus)


def explain(alarm: dict, wanted: str, waited: float, figures: list[PeriodFigure], *,
            vcpus: int | None = None, workers: int = 0, scripted: bool = False,
            local: bool = True, parameter: str = "bastion_cpu") -> tuple[str, str]:
    """(what happened, what to do) when *alarm* did not reach *wanted* in *waited* seconds.

    *figures* are the recent complete periods; *vcpus* and *workers* describe the local
    bastion and the stress run on it (0 workers: none ran during the wait).
    """
    period = int(alarm.get("Period", 60))
    needed = t("why.needed", stat=alarm.get("Statistic", "Average"),
               sign=_SIGNS.get(alarm.get("ComparisonOperator", ""), "≥"),
               threshold=_number(alarm.get("Threshold", 0.0)),
               periods=alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods", 1),
               evaluation=alarm.get("EvaluationPeriods", 1))
    if wanted == "OK":
        needed = t("why.needed_ok", needed=needed)
    shown = figures[-SHOWN_PERIODS:]
    if not shown:
        what = t("why.no_data", alarm=alarm.get("AlarmName", ""), wanted=wanted,
                 seconds=round(waited), state=alarm.get("StateValue", "?"), needed=needed)
        todo = t("why.no_data.local" if local else "why.no_data.aws", period=period)
        return what, todo
    listed = ", ".join(t("why.figure", time=f"{f.start:%H:%M:%S}", value=_number(f.average))
                       for f in shown)
    what = t("why.figures", alarm=alarm.get("AlarmName", ""), wanted=wanted,
             seconds=round(waited), state=alarm.get("StateValue", "?"), count=len(shown),
             period=period, figures=listed, needed=needed)
    latest = shown[-1].average
    if wanted == "ALARM":
        if breaches(alarm, latest):
            return what, t("why.breach_not_seen")
        if local and workers and vcpus:
            asked = expected_load(workers, vcpus)
            if not scripted and latest < STARVED * asked:
                return what, t("why.starved", workers=workers, vcpus=vcpus,
                               asked=_number(asked), got=_number(latest), parameter=parameter)
            return what, t("why.load_too_small", workers=workers, vcpus=vcpus,
                           asked=_number(asked))
        return what, t("why.no_load.local" if local else "why.no_load.aws")
    if breaches(alarm, latest):
        return what, t("why.still_busy.local" if local else "why.still_busy.aws")
    return what, t("why.ok_not_seen")


def _number(value: float) -> str:
    """42.0 -> '42', 41.66 -> '41.7': figures as a person writes them."""
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
