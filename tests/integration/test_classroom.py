"""The classroom kit on a real local cloud: student edition, per-learner isolation, labkit
check after a partial run, and a class rehearsal."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import nbformat
import pytest

from labkit.local import cloud
from labkit.classroom.student_edition import build, fill_in

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def labkit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit", *args], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, COLUMNS="200"))


def summary(folder: Path) -> dict[str, dict]:
    data = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return {nb["notebook"][:2]: nb for nb in data["notebooks"]}


def check_table(folder: Path) -> dict[tuple[str, str], str]:
    with (folder / "check.csv").open(encoding="utf-8") as rows:
        return {(r["student"], r["step"]): r["status"] for r in csv.DictReader(rows)}


def client(home: Path, service: str):
    state = cloud.find(home).state
    return boto3.client(service, endpoint_url=state.endpoint_url, region_name="ap-northeast-2",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def holdings(home: Path) -> dict:
    """What the local cloud holds, per service, and the local Slack's webhooks and messages."""
    status = cloud.fetch_status(cloud.find(home).state)
    return {"holds": status["holds"], "webhooks": status["slack"]["webhooks"],
            "messages": status["slack"]["messages"]}


def test_two_learners_are_isolated_and_check_shows_a_partial_run(home, tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("student\nann\nbob\ncho\ndan\n", encoding="utf-8")  # dan: not started
    pair = tmp_path / "pair.txt"
    pair.write_text("ann\nbob\n", encoding="utf-8")
    started = tmp_path / "started.txt"
    started.write_text("ann\nbob\ncho\n", encoding="utf-8")

    # ann and bob at the same time, as a class does: isolation under concurrency.
    whole = labkit("run", "--students", str(pair), "--workers", "2",
                   "--only", *[f"0{n}" for n in range(7)], "--out", str(tmp_path / "pair"), "-q")
    assert whole.returncode == 0, whole.stdout[-3000:]
    partial = labkit("run", "--student", "cho", "--only", "00", "01", "02", "-q",
                     "--out", str(tmp_path / "cho"))
    assert partial.returncode == 0, partial.stdout[-3000:]

    before = holdings(home)
    checked = labkit("check", "--students", str(roster), "--out", str(tmp_path / "c1"))
    assert holdings(home) == before  # checking changed nothing, not even for dan
    assert checked.returncode == 1  # cho has not done 03-06 yet
    table = check_table(tmp_path / "c1")
    steps = [f"0{n}" for n in range(7)]
    assert [table["ann", s] for s in steps] == ["passed"] * 7
    assert [table["bob", s] for s in steps] == ["passed"] * 7
    assert [table["cho", s] for s in steps] == ["passed"] * 3 + ["failed"] * 4
    assert [table["dan", s] for s in steps] == ["passed"] + ["failed"] * 6
    assert "cho" in checked.stdout and "│ ann " in checked.stdout
    assert labkit("check", "--students", str(started), "--required", "00-02",
                  "--no-report").returncode == 0
    assert labkit("check", "--students", str(roster), "--required", "00-02",
                  "--no-report").returncode == 1  # dan has not done 01 and 02

    names = [t["TopicArn"].rsplit(":", 1)[-1] for t in client(home, "sns").list_topics()["Topics"]]
    assert sorted(names) == ["ann-mission-sns", "bob-mission-sns", "cho-mission-sns"]

    cleaned = labkit("run", "--student", "ann", "--only", "07", "-q",
                     "--out", str(tmp_path / "ann-07"))
    assert cleaned.returncode == 0, cleaned.stdout[-3000:]
    after = labkit("check", "--students", str(pair), "--steps", "00-07",
                   "--out", str(tmp_path / "c2"))
    table = check_table(tmp_path / "c2")
    assert table["ann", "07"] == "passed" and table["ann", "02"] == "failed"
    assert [table["bob", s] for s in steps] == ["passed"] * 7  # ann's cleanup left bob's alone
    assert table["bob", "07"] == "failed"
    assert after.returncode == 1
    functions = [f["FunctionName"] for f in client(home, "lambda").list_functions()["Functions"]]
    assert sorted(functions) == ["bob-mission-lambda"]


def test_the_student_edition_stops_at_the_first_exercise_and_a_class_rehearses_it_filled_in(
        home, tmp_path):
    """One whole-lab run checks two things: the filled-in student edition passes, and a class
    rehearsal of two learners at once over it ends green with its report."""
    edition = tmp_path / "handout"
    build(NOTEBOOKS, edition)

    as_handed_out = labkit("run", "--only", "00", "01", "--out", str(tmp_path / "r1"), "-q",
                           cwd=edition)
    assert as_handed_out.returncode == 1
    outcome = summary(tmp_path / "r1")
    assert outcome["00"]["status"] == "passed" and outcome["01"]["status"] == "failed"
    assert "NotImplementedError" in outcome["01"]["error"]
    assert "Exercise 01.1" in outcome["01"]["error"]
    assert "requests.post(" in outcome["01"]["error"]

    for path in NOTEBOOKS:  # what a learner does: write each exercise
        student = nbformat.read(edition / "notebooks" / path.name, as_version=4)
        solution = nbformat.read(path, as_version=4)
        for mine, theirs in zip(student.cells, solution.cells):
            if mine.cell_type == "code":
                mine.source = fill_in(mine.source, theirs.source)
        nbformat.write(student, edition / "notebooks" / path.name)

    roster = tmp_path / "class.txt"
    roster.write_text("# rehearsal\nkim\nlee\n", encoding="utf-8")
    done = labkit("run", "--students", str(roster), "--workers", "2", "--out",
                  str(tmp_path / "class"), cwd=edition)
    assert done.returncode == 0, done.stdout[-4000:]
    # The rehearsal ran the handout's notebooks, not the solutions.
    executed = nbformat.read(tmp_path / "class" / "kim" / NOTEBOOKS[1].name, as_version=4)
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in executed.cells)
    assert "scripted" in done.stdout  # a rehearsal scripts the bastion's CPU by default
    report = (tmp_path / "class" / "rehearsal.md").read_text(encoding="utf-8")
    for student in ("kim", "lee"):
        assert f"| {student} | " + " | ".join(["✅"] * len(NOTEBOOKS)) in report
        assert summary(tmp_path / "class" / student)["07"]["status"] == "passed"
    assert "Every learner got through the lab." in done.stdout
    with (tmp_path / "class" / "rehearsal.csv").open(encoding="utf-8") as rows:
        assert len(list(csv.DictReader(rows))) == 2 * len(NOTEBOOKS)
    # Everyone cleaned up after themselves: nothing of the class is left but the pending keys.
    assert client(home, "lambda").list_functions()["Functions"] == []
    assert client(home, "sns").list_topics()["Topics"] == []
