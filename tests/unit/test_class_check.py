"""labkit check's pure parts: step lists, the learner × step table and the reports."""

from __future__ import annotations

import csv

import pytest

from labkit.checks.report import CheckReport
from labkit.classroom.check import LearnerProgress, markdown, parse_steps, table_rows, write_csv
from labkit.errors import LabError
from labkit.checks.steps import delivered_notifications


@pytest.mark.parametrize("text, steps", [
    ("00-06", ["00", "01", "02", "03", "04", "05", "06"]),
    ("07", ["07"]),
    ("1,3", ["01", "03"]),
    ("00-02, 02-03", ["00", "01", "02", "03"]),
])
def test_step_lists(text, steps):
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text, message", [
    ("", "not a list of steps"),
    ("a-b", "not a list of steps"),
    ("00-10", "no step '10'"),
])
def test_bad_step_lists(text, message):
    with pytest.raises(LabError, match=message):
        parse_steps(text)


def report(step: str, *oks: bool) -> CheckReport:
    result = CheckReport(step)
    for number, ok in enumerate(oks):
        result.expect(ok, f"thing {number} of {step}", f"fix {number}")
    return result


def learner(name: str, *outcomes: tuple[str, tuple[bool, ...]]) -> LearnerProgress:
    return LearnerProgress(name, {step: report(step, *oks) for step, oks in outcomes})


STEPS = ["00", "01", "02", "03"]


def test_status_and_progress_per_learner():
    ann = learner("ann", ("00", (True,)), ("01", (True, True)), ("02", (True,)), ("03", (True,)))
    bob = learner("bob", ("00", (True,)), ("01", (True, False)), ("02", (False,)),
                  ("03", (False,)))
    cho = learner("cho", ("00", (True,)), ("01", ()), ("02", (True,)), ("03", (False,)))
    assert [ann.status(s) for s in STEPS] == ["passed"] * 4
    assert [bob.status(s) for s in STEPS] == ["passed", "failed", "failed", "failed"]
    # A step with nothing to check on this target does not break the run of passed steps.
    assert cho.status("01") == "none" and cho.done_up_to(STEPS) == "02"
    assert table_rows([ann, bob], STEPS) == [["ann", "✅", "✅", "✅", "✅", "03"],
                                             ["bob", "✅", "❌", "❌", "❌", "00"]]


def test_a_learner_that_could_not_be_checked_fails_every_step():
    broken = LearnerProgress("dan", error="No local cloud is running")
    assert [broken.status(s) for s in STEPS] == ["failed"] * 4
    assert broken.done_up_to(STEPS) == ""


def test_csv_report_has_a_line_per_learner_and_step(tmp_path):
    bob = learner("bob", ("00", (True,)), ("01", (True, False)))
    write_csv(tmp_path / "check.csv", [bob], ["00", "01"])
    rows = list(csv.DictReader((tmp_path / "check.csv").open(encoding="utf-8")))
    assert [(r["student"], r["step"], r["status"]) for r in rows] == [
        ("bob", "00", "passed"), ("bob", "01", "failed")]
    assert rows[1]["first_failure"] == "thing 1 of 01" and rows[1]["hint"] == "fix 1"


def test_markdown_report_lists_each_failure_with_its_hint():
    ann = learner("ann", ("00", (True,)))
    bob = learner("bob", ("00", (False,)))
    text = markdown([ann, bob], ["00"], "Progress")
    assert "| ann | ✅ | 00 |" in text and "| bob | ❌ | – |" in text
    assert "## bob" in text and "00 ❌ thing 0 of 00 → fix 0" in text
    assert "## ann" not in text


@pytest.mark.parametrize("lines, alarms", [
    (['{"level": "INFO", "message": "notification", "alarm": "a", "state": "ALARM", '
      '"outcome": "delivered"}'], ["a"]),
    # Lambda's runtime may put a timestamp and request id in front of the JSON.
    (['2026-11-27T10:00:00Z\tabc-123\t{"message": "notification", "alarm": "b", '
      '"state": "OK", "outcome": "delivered"}'], ["b"]),
    (['{"message": "notification", "alarm": "c", "outcome": "failed"}',
      '{"message": "notification", "alarm": "d", "outcome": "duplicate"}',
      "START RequestId: 1 Version: $LATEST", "REPORT RequestId: 1", "{not json"], []),
])
def test_delivered_notifications_are_read_from_the_functions_log(lines, alarms):
    assert [r["alarm"] for r in delivered_notifications(lines)] == alarms


def test_labkit_check_reports_in_the_language_asked(monkeypatch, capsys, tmp_path):
    import argparse

    from labkit import i18n
    from labkit.classroom import check as class_check

    monkeypatch.setattr(class_check, "check_learner",
                        lambda config, steps: learner("", ("00", (True,)), ("01", (False,))))
    parser = argparse.ArgumentParser(prog="labkit")
    class_check.register_cli(parser.add_subparsers())
    args = parser.parse_args(["check", "--lang", "ko", "--steps", "00-01", "--no-report"])
    try:
        assert args.func(args) == 1
    finally:
        i18n.set_language("en")
    out = capsys.readouterr().out
    assert "학습자" in out and "필수 단계(00, 01)를 통과하지 못한 학습자 1명" in out
