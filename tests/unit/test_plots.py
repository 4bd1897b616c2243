import json
import warnings
from datetime import datetime, timedelta, timezone

from labkit.show import fonts

from labkit.show.plots import plot_alarm, transitions

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def item(kind, seconds, old, new):
    data = {"version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": new}}
    return {"HistoryItemType": kind, "Timestamp": T0 + timedelta(seconds=seconds),
            "HistoryData": json.dumps(data)}


def test_transitions_keep_state_updates_in_time_order():
    history = [item("StateUpdate", 40, "ALARM", "OK"), item("ConfigurationUpdate", 0, "x", "y"),
               item("StateUpdate", 20, "INSUFFICIENT_DATA", "ALARM"),
               {"HistoryItemType": "Action", "Timestamp": T0, "HistoryData": "{}"}]
    assert transitions(history) == [(T0 + timedelta(seconds=20), "INSUFFICIENT_DATA", "ALARM"),
                                    (T0 + timedelta(seconds=40), "ALARM", "OK")]


def test_plot_draws_samples_threshold_and_changes():
    samples = [(T0 + timedelta(seconds=s), v) for s, v in [(0, 5), (10, 97), (20, 99), (30, 4)]]
    figure = plot_alarm(samples, 50.0, [(T0 + timedelta(seconds=15), "OK", "ALARM")])
    axes = figure.axes[0]
    line = axes.lines[0]
    assert list(line.get_ydata()) == [5, 97, 99, 4]
    assert any(list(l.get_ydata()) == [50.0, 50.0] for l in axes.lines)
    assert [t.get_text() for t in axes.texts] == ["ALARM"]


def test_the_legend_is_in_the_language_asked_and_the_states_stay_cloudwatchs(monkeypatch):
    samples = [(T0, 5.0), (T0 + timedelta(seconds=10), 97.0)]
    changes = [(T0 + timedelta(seconds=5), "OK", "ALARM")]
    # As on a computer with a Korean font (this one may have none: DejaVu stands in, and
    # matplotlib warns about each glyph it lacks).
    monkeypatch.setattr(fonts, "hangul_font", lambda: "DejaVu Sans")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        figure = plot_alarm(samples, 50.0, changes, lang="ko")
    korean = figure.axes[0]
    assert [t.get_text() for t in korean.get_legend().get_texts()] == [
        "CPU 사용률 (CPUUtilization, %)", "임계값 50"]
    assert [t.get_text() for t in korean.texts] == ["ALARM"]
    english = plot_alarm(samples, 50.0, changes).axes[0]
    assert [t.get_text() for t in english.get_legend().get_texts()] == [
        "CPUUtilization (%)", "threshold 50"]


def test_without_a_korean_font_the_plot_is_labelled_in_english_and_says_why(monkeypatch,
                                                                              capsys):
    monkeypatch.setattr(fonts, "hangul_font", lambda: None)
    samples = [(T0, 5.0), (T0 + timedelta(seconds=10), 97.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no glyph is missing: nothing is boxes
        axes = plot_alarm(samples, 50.0, [], lang="ko", alarm="a", instance="i").axes[0]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [
        "CPUUtilization (%)", "threshold 50"]
    assert axes.get_title() == "a on i"
    assert "fonts-noto-cjk" in capsys.readouterr().out


def test_with_a_korean_font_the_plot_draws_with_it(monkeypatch):
    monkeypatch.setattr(fonts, "hangul_font", lambda: "DejaVu Serif")
    axes = plot_alarm([(T0, 5.0)], 50.0, [], lang="en").axes[0]
    assert axes.get_legend().get_texts()[0].get_fontfamily()[0] != "DejaVu Serif"  # English
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        korean = plot_alarm([(T0, 5.0)], 50.0, [], lang="ko").axes[0]
    assert korean.get_legend().get_texts()[0].get_fontfamily()[0] == "DejaVu Serif"


def test_the_watch_panel_speaks_the_language_asked():
    from labkit.show.alarm_watch import panel_html

    english = panel_html("mission-cpu-alarm", "OK", 12.4, 150, 97.0, "ALARM")
    assert "waiting for ALARM: 12 s of at most 150 s" in english
    korean = panel_html("mission-cpu-alarm", "OK", 12.4, 150, 97.0, "ALARM", lang="ko")
    assert "ALARM 상태를 기다리는 중: 12초 경과 (최대 150초)" in korean
    assert "mission-cpu-alarm" in korean and "97 %" in korean


def test_the_title_names_the_alarm_and_the_instance_in_the_language_asked(monkeypatch):
    english = plot_alarm([], 50.0, [], alarm="mission-cpu-alarm", instance="i-0123")
    assert english.axes[0].get_title() == "mission-cpu-alarm on i-0123"
    monkeypatch.setattr(fonts, "hangul_font", lambda: "DejaVu Sans")  # as with a Korean font
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        korean = plot_alarm([], 50.0, [], lang="ko", alarm="mission-cpu-alarm",
                            instance="i-0123")
    assert korean.axes[0].get_title() == "i-0123의 mission-cpu-alarm"
    assert plot_alarm([], 50.0, [], title="mine", alarm="x").axes[0].get_title() == "mine"
