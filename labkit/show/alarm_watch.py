"""Watching an alarm change state: a live panel in JupyterLab, plain lines in a batch run."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from ..i18n import t

STATE_COLOURS = {"OK": "#2eb67d", "ALARM": "#e01e5a", "INSUFFICIENT_DATA": "#9aa5b1"}


@dataclass
class Watch:
    """What a watch saw: the states in order, with when each was first seen."""

    alarm: str
    seen: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        return self.seen[-1][1] if self.seen else None


def panel_html(alarm: str, state: str, elapsed: float, timeout: float, cpu: float | None,
               target: str, lang: str | None = None) -> str:
    """The live panel's HTML: the alarm's state as a coloured badge, the latest CPU value.

    Its words are in *lang* (default: the current language).
    """
    colour = STATE_COLOURS.get(state, "#9aa5b1")
    cpu_text = "–" if cpu is None else f"{cpu:.0f} %"
    waiting = t("watch.waiting", lang, target=target, elapsed=f"{elapsed:.0f}",
                timeout=f"{timeout:.0f}")
    return (f"<div style='font-family:sans-serif'><b>{html.escape(alarm)}</b> "
            f"<span style='background:{colour};color:white;border-radius:4px;padding:2px 8px'>"
            f"{html.escape(state)}</span> &nbsp; CPU {cpu_text} &nbsp; "
            f"<span style='color:#666'>{html.escape(waiting)}</span></div>")


def wait_for_state(cloudwatch: Any, alarm: str, target: str, timeout: float = 120.0,
                   cpu: Callable[[], float | None] | None = None, poll: float = 1.0) -> Watch:
    """Poll *alarm* until it is in *target* state (or *timeout* s pass), showing it live.

    In JupyterLab a widget updates in place; elsewhere (papermill, a terminal) one line is
    printed per state change. Returns what was seen; the caller decides what a timeout means.
    """
    watch = Watch(alarm)
    widget = _widget()
    began = time.monotonic()
    while True:
        alarms = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        state = alarms[0]["StateValue"] if alarms else "MISSING"
        if state != watch.state:
            watch.seen.append((datetime.now(timezone.utc), state))
            if widget is None:
                print(f"{watch.seen[-1][0]:%H:%M:%S} {alarm}: {state}", flush=True)
        elapsed = time.monotonic() - began
        if widget is not None:
            widget.value = panel_html(alarm, state, elapsed, timeout, cpu() if cpu else None,
                                      target)
        if state == target or elapsed >= timeout:
            return watch
        time.sleep(poll)


def watch_alarm(lab: Any, state: str, timeout: float, *, bastion: Any = None,
                instance_id: str | None = None, workers: int = 0,
                alarm: str | None = None) -> Watch:
    """Wait until the lab's alarm (or the alarm named *alarm*) is in *state*, showing it live;
    explain it when it is not.

    local: *bastion* is the :class:`~labkit.bastion.machine.LocalBastion` (its agent's figures
    are shown and explained); *workers* is the stress run's ``--cpu`` while waiting for ALARM.
    aws: the figures come from CloudWatch for *instance_id*. When *state* is not reached in
    *timeout* seconds, a LabError names the figures, the threshold and what to do.
    """
    from ..bastion.diagnosis import explain, period_averages
    from ..errors import LabError

    cloudwatch = lab.client("cloudwatch")
    latest = bastion.latest_cpu if bastion is not None else None
    name = alarm or lab.names.alarm
    watch = wait_for_state(cloudwatch, name, state, timeout=timeout, cpu=latest)
    if watch.state == state:
        return watch
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not alarms:
        return watch  # deleted meanwhile: the check cell says so
    alarm = alarms[0]
    now = datetime.now(timezone.utc)
    period = int(alarm.get("Period", 60))
    if bastion is not None:
        samples = bastion.samples
    else:
        samples = _instance_figures(cloudwatch, alarm, instance_id, period, now)
    what, todo = explain(alarm, state, timeout, period_averages(samples, period, now),
                         vcpus=getattr(bastion, "vcpus", None), workers=workers,
                         scripted=bool(getattr(bastion, "scripted", False)),
                         local=bool(lab.is_local))
    raise LabError(what, todo)


def _instance_figures(cloudwatch: Any, alarm: dict, instance_id: str | None, period: int,
                      now: datetime) -> list[tuple[datetime, float]]:
    """The Average CPUUtilization of the alarm's instance per period, over the last ten."""
    from datetime import timedelta

    dimensions = alarm.get("Dimensions") or (
        [{"Name": "InstanceId", "Value": instance_id}] if instance_id else [])
    answer = cloudwatch.get_metric_statistics(
        Namespace=alarm.get("Namespace", "AWS/EC2"),
        MetricName=alarm.get("MetricName", "CPUUtilization"), Dimensions=dimensions,
        StartTime=now - timedelta(seconds=period * 10), EndTime=now, Period=period,
        Statistics=["Average"])
    return [(point["Timestamp"], point["Average"]) for point in answer.get("Datapoints", [])]


def _widget() -> Any:
    """An ipywidgets HTML widget shown in the running notebook front end, or None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
        import ipywidgets

        shell = get_ipython()
        # Batch runs (labkit run, the tests) have no front end that renders widgets.
        if shell is None or shell.__class__.__name__ != "ZMQInteractiveShell" or _batch():
            return None
        widget = ipywidgets.HTML()
        display(widget)
        return widget
    except ImportError:
        return None


def _batch() -> bool:
    import os

    return bool(os.environ.get("LABKIT_BATCH"))
