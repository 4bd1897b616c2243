"""Class rosters: plain lists and CSV files, every id checked."""

from __future__ import annotations

import pytest

from labkit.errors import LabError
from labkit.classroom.roster import Learner, load_roster, parse_roster


@pytest.mark.parametrize("text, learners", [
    ("kim\nlee\n", [Learner("kim", "project"), Learner("lee", "project")]),
    ("# class A\nkim\n\n  lee  \n", [Learner("kim", "project"), Learner("lee", "project")]),
    ("student,name\nkim,Kim Minji\nlee,Lee Jun\n",
     [Learner("kim", "project"), Learner("lee", "project")]),
    ("Student,slack_channel\nkim,kim-alerts\nlee,\n",
     [Learner("kim", "kim-alerts"), Learner("lee", "project")]),
    ("student,slack_channel\npark,#ops\n", [Learner("park", "ops")]),
])
def test_rosters_are_read(text, learners):
    assert parse_roster(text) == learners


def test_the_default_channel_is_the_callers():
    assert parse_roster("kim", default_channel="class") == [Learner("kim", "class")]


@pytest.mark.parametrize("text, message", [
    ("", "lists no learner"),
    ("# nobody yet\n", "lists no learner"),
    ("kim\nkim\n", "listed twice"),
    ("Kim Minji\n", "cannot be part of AWS resource names"),
    ("student,slack_channel\n,project\n", "has no student id"),
])
def test_bad_rosters_say_what_to_fix(text, message):
    with pytest.raises(LabError, match=message):
        parse_roster(text)


def test_a_csv_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "class.csv"
    path.write_bytes("student\nkim\n".encode("utf-8-sig"))
    assert load_roster(path) == [Learner("kim", "project")]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(LabError, match="Cannot read the roster"):
        load_roster(tmp_path / "nope.csv")
