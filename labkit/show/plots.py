"""Pictures of an alarm at work: the metric against the threshold, state changes marked."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from ..i18n import t
from . import fonts

STATE_COLOURS = {"OK": "#2eb67d", "ALARM": "#e01e5a", "INSUFFICIENT_DATA": "#9aa5b1"}


def transitions(history: Iterable[dict]) -> list[tuple[datetime, str, str]]:
    """(time, old state, new state) of each StateUpdate item of ``describe_alarm_history``."""
    found = []
    for item in history:
        if item.get("HistoryItemType") != "StateUpdate":
            continue
        data = json.loads(item.get("HistoryData") or "{}")
        old = data.get("oldState", {}).get("stateValue", "?")
        new = data.get("newState", {}).get("stateValue", "?")
        found.append((item["Timestamp"], old, new))
    return sorted(found)


def plot_alarm(samples: list[tuple[datetime, float]], threshold: float,
               changes: list[tuple[datetime, str, str]], title: str = "",
               lang: str | None = None, *, alarm: str = "", instance: str = "") -> Any:
    """A matplotlib Figure: CPU samples, the threshold line, and a marker per state change.

    The legend is in *lang* (default: the current language, the lab's once it started); the
    state names are CloudWatch's own (OK, ALARM, INSUFFICIENT_DATA), as the console shows them.
    The title is *title*, or, given *alarm* and *instance*, "<alarm> on <instance>" in *lang*.
    """
    lang, font = _legible(lang)
    if not title and alarm:
        title = t("plot.title", lang, alarm=alarm, instance=instance)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with plt.rc_context({"font.family": families}):
        return _draw(plt, mdates, samples, threshold, changes, title, lang)


def _legible(lang: str | None) -> tuple[str | None, str | None]:
    """The language to label in, and the font with its letters (None: matplotlib's own).

    Korean labels need a font with Hangul; without one on this computer the labels would be
    empty boxes, so the plot is labelled in English and a line says which font to install.
    """
    if not fonts.has_hangul(t("plot.cpu", lang)):
        return lang, None
    font = fonts.hangul_font()
    if font is None:
        print(t("plot.no_hangul_font", lang))
        return "en", None
    return lang, font


def _draw(plt: Any, mdates: Any, samples: list[tuple[datetime, float]], threshold: float,
          changes: list[tuple[datetime, str, str]], title: str, lang: str | None) -> Any:
    figure, axes = plt.subplots(figsize=(9, 3.5))
    if samples:
        times, values = zip(*samples)
        axes.plot(times, values, marker=".", linewidth=1.2, color="#1264a3",
                  label=t("plot.cpu", lang))
    axes.axhline(threshold, color="#e01e5a", linestyle="--", linewidth=1,
                 label=t("plot.threshold", lang, value=f"{threshold:g}"))
    for when, _old, new in changes:
        colour = STATE_COLOURS.get(new, "#555")
        axes.axvline(when, color=colour, linewidth=2, alpha=0.8)
        axes.annotate(new, (when, 102), color=colour, fontsize=8, ha="left", va="bottom",
                      rotation=0, annotation_clip=False)
    axes.set_ylim(0, 110)
    axes.set_ylabel("%")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    axes.legend(loc="center left", fontsize=8)
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    plt.close(figure)  # the notebook shows the returned figure once, not twice
    return figure

