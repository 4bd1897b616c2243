"""The class rehearsal without a cloud: child commands, following a child's outcomes, reports."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import textwrap
from pathlib import Path

from labkit.batch.command import register_cli
from labkit.classroom import rehearsal
from labkit.classroom.rehearsal import LearnerRun, learner_command, run_learner, write_reports
from labkit.classroom.roster import Learner

# A stand-in for one learner's `labkit run`: it rewrites summary.json after each notebook, as
# the run does, and prints lines that say otherwise: the outcomes must come from the data.
FAKE_RUN = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path

    folder = Path(sys.argv[1])
    done = []
    for name, status in [("00_overview.ipynb", "passed"), ("01_slack_webhook.ipynb", "failed"),
                         ("02_sns_topic.ipynb", "skipped")]:
        print(f"[{len(done) + 1}/3] {name} passed in 1.0 s, checks 1/1", flush=True)
        done.append({"notebook": name, "status": status, "seconds": 1.0, "checks": "1/1",
                     "error": "KeyError: 'x'" if status == "failed" else ""})
        (folder / "summary.json").write_text(json.dumps({"finished": None, "notebooks": done}))
        time.sleep(0.3)
    sys.exit(1)
""")


def test_each_learner_runs_labkit_run_with_their_id_channel_and_folder(tmp_path):
    command = learner_command(Learner("kim", "kim-alerts"), tmp_path / "kim",
                              ["--cleanup", "always"])
    assert command[:4] == [sys.executable, "-m", "labkit", "run"]
    assert command[4:] == ["--student", "kim", "--slack-channel", "kim-alerts", "--out",
                           str(tmp_path / "kim"), "--cleanup", "always"]


def test_a_learners_outcomes_are_read_from_the_summary_their_run_keeps(tmp_path, monkeypatch):
    folder = tmp_path / "kim"
    folder.mkdir()
    # What an earlier run left in the folder is not this run's.
    (folder / "summary.json").write_text(json.dumps(
        {"notebooks": [{"notebook": "07_cleanup.ipynb", "status": "passed"}]}))
    monkeypatch.setattr(rehearsal, "learner_command", lambda learner, where, flags: [
        sys.executable, "-c", FAKE_RUN, str(where)])
    heard = []

    run = run_learner(Learner("kim", "project"), folder, [],
                      lambda learner, name, status: heard.append((learner.student, name, status)),
                      poll_seconds=0.05)

    assert heard == [("kim", "00_overview.ipynb", "passed"),
                     ("kim", "01_slack_webhook.ipynb", "failed"),
                     ("kim", "02_sns_topic.ipynb", "skipped")]
    assert [(nb["notebook"], nb["status"]) for nb in run.notebooks] == [h[1:] for h in heard]
    assert run.exit_code == 1 and not run.passed
    assert "[2/3] 01_slack_webhook.ipynb passed" in (folder / "run.log").read_text()


def test_a_run_that_leaves_no_summary_has_no_outcomes(tmp_path, monkeypatch):
    monkeypatch.setattr(rehearsal, "learner_command", lambda learner, where, flags: [
        sys.executable, "-c", "print('[1/1] 00_overview.ipynb passed'); raise SystemExit(3)"])
    heard = []

    run = run_learner(Learner("kim", "project"), tmp_path / "kim", [],
                      lambda *outcome: heard.append(outcome), poll_seconds=0.05)

    assert heard == [] and run.notebooks == [] and run.exit_code == 3


def rehearsal_given(tmp_path, monkeypatch, students: list[str], options: list[str]):
    """What ``labkit run --students`` hands the rehearsal: each learner, and the shared flags."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_overview.ipynb").write_text("{}")
    roster = tmp_path / "class.txt"
    roster.write_text("".join(f"{student}\n" for student in students))
    monkeypatch.chdir(tmp_path)
    given = []

    def rehearse(learners, out_dir, flags, **_):
        given.append(([learner.student for learner in learners], list(flags)))
        out_dir.mkdir(parents=True)
        return []

    monkeypatch.setattr(rehearsal, "rehearse", rehearse)
    parser = argparse.ArgumentParser(prog="labkit")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", "--students", str(roster), *options,
                              "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    [(students_given, flags)] = given
    return students_given, flags


def test_every_learner_gets_the_parameters_set_for_the_class(tmp_path, monkeypatch):
    """All of them, from the declaration: only student and slack_channel are each learner's."""
    students, flags = rehearsal_given(tmp_path, monkeypatch, ["ann", "bob"], [
        "--region", "eu-west-1", "--slack-channel", "class", "--bastion-vcpus", "4",
        "--bastion-cpu", "measured", "--lang", "ko", "--only", "00", "-q"])

    assert students == ["ann", "bob"]
    assert flags == ["--region", "eu-west-1", "--bastion-vcpus", "4", "--bastion-cpu",
                     "measured", "--lang", "ko", "--cleanup", "never", "--only", "00"]


def test_a_rehearsal_scripts_the_bastions_cpu_unless_told(tmp_path, monkeypatch):
    _, flags = rehearsal_given(tmp_path, monkeypatch, ["ann"], [])

    assert flags == ["--bastion-cpu", "scripted", "--cleanup", "never"]


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
