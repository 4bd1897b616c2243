"""The class rehearsal's pure parts: child commands, progress lines, reports."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from labkit.classroom.rehearsal import LearnerRun, finished_line, learner_command, write_reports
from labkit.classroom.roster import Learner


@pytest.mark.parametrize("line, parsed", [
    ("[3/8] 02_sns_topic.ipynb passed in 1.4 s, checks 4/4", ("02_sns_topic.ipynb", "passed")),
    ("[8/8] 07_cleanup.ipynb failed in 2.0 s, checks 3/4 - 1 check(s) failed",
     ("07_cleanup.ipynb", "failed")),
    ("[5/8] 04_kms_key.ipynb skipped", ("04_kms_key.ipynb", "skipped")),
    ("[3/8] 02_sns_topic.ipynb ...", None),
    ("Run folder: runs/x", None),
])
def test_finished_lines_are_recognised(line, parsed):
    assert finished_line(line) == parsed


def test_each_learner_runs_labkit_run_with_their_id_channel_and_folder(tmp_path):
    command = learner_command(Learner("kim", "kim-alerts"), tmp_path / "kim",
                              ["--cleanup", "always"])
    assert command[:4] == [sys.executable, "-m", "labkit", "run"]
    assert command[4:] == ["--student", "kim", "--slack-channel", "kim-alerts", "--out",
                           str(tmp_path / "kim"), "--cleanup", "always"]


def notebook(name: str, status: str, seconds: float = 1.0, error: str = "") -> dict:
    return {"notebook": name, "status": status, "seconds": seconds, "checks": "1/1",
            "error": error}


def test_reports_have_a_row_per_learner(tmp_path):
    ok = LearnerRun(Learner("ann", "project"), Path("ann"), 0,
                    [notebook("00_overview.ipynb", "passed"), notebook("01_x.ipynb", "passed", 2)])
    bad = LearnerRun(Learner("bob", "project"), Path("bob"), 1,
                     [notebook("00_overview.ipynb", "passed"),
                      notebook("01_x.ipynb", "failed", error="KeyError: 'x'")])
    csv_path, md_path = write_reports(tmp_path, [ok, bad])
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert [(r["student"], r["notebook"], r["status"]) for r in rows] == [
        ("ann", "00_overview.ipynb", "passed"), ("ann", "01_x.ipynb", "passed"),
        ("bob", "00_overview.ipynb", "passed"), ("bob", "01_x.ipynb", "failed")]
    text = md_path.read_text(encoding="utf-8")
    assert "| ann | ✅ | ✅ | 3 | passed |" in text
    assert "| bob | ✅ | ❌ | 2 | failed |" in text
    assert "- bob, 01_x.ipynb: KeyError: 'x'" in text
