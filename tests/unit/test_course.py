"""The nbgrader course: a locked autograder test right after each exercise, worth its regions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from labkit.classroom import grading as grading_functions
from labkit.classroom.course import (
    GRADING_FUNCTIONS,
    POINTS,
    TESTS,
    UNGRADED,
    build_course,
    with_tests,
)
from labkit.classroom.student_edition import BEGIN, END, find_regions, hinted_solutions

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
KOREAN = sorted((ROOT / "notebooks" / "ko").glob("0*.ipynb"))


def exercise_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "code" and find_regions(c.source)]


def test_every_exercise_is_tested_or_says_why_not():
    exercises = {c.id for path in NOTEBOOKS for c in exercise_cells(path)}
    assert set(TESTS) | set(UNGRADED) == exercises
    assert not set(TESTS) & set(UNGRADED)
    assert all(reason.strip() for reason in UNGRADED.values())


@pytest.mark.parametrize("path", NOTEBOOKS + KOREAN, ids=lambda p: "/".join(p.parts[-2:]))
def test_every_exercise_of_every_notebook_gets_a_graded_test(path):
    graded = with_tests(nbformat.read(path, as_version=4), path.name[:2])
    tested = {c.id.removesuffix("-test") for c in graded.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    assert tested == {c.id for c in exercise_cells(path)} - set(UNGRADED)


def test_only_the_aws_only_quick_test_is_worth_no_points():
    assert POINTS == {"06-11": 0}
    nb = nbformat.read(ROOT / "notebooks" / "06_cloudwatch_alarm.ipynb", as_version=4)
    (test,) = [c for c in with_tests(nb, "06").cells if c.id == "06-11-test"]
    assert test.metadata.nbgrader["points"] == 0 and test.metadata.nbgrader["grade"]
    assert 'assert_set_by_hand(lab, globals().get("alarm_quick_test"))' in test.source


@pytest.mark.parametrize("path", [ROOT / "notebooks" / "07_cleanup.ipynb",
                                  ROOT / "notebooks" / "ko" / "07_cleanup.ipynb"],
                         ids=["en", "ko"])
def test_notebook_07_records_what_exists_in_a_locked_ungraded_cell_before_the_cleanup(path):
    graded = with_tests(nbformat.read(path, as_version=4), "07")
    ids = [c.id for c in graded.cells]
    record = graded.cells[ids.index("07-02-record")]
    assert "lab = labkit.start(" in graded.cells[ids.index("07-02-record") - 1].source
    assert record.metadata.nbgrader == {"grade": False, "grade_id": "record-07-02",
                                        "locked": True, "schema_version": 3, "solution": False,
                                        "task": False}
    assert record.metadata["editable"] is False and record.metadata["deletable"] is False
    assert "_before_cleanup = record_before_cleanup(lab)" in record.source
    ast.parse(record.source)
    # Before the first exercise, and every cleanup test reads what it recorded.
    first_exercise = min(ids.index(c.id) for c in exercise_cells(path))
    assert ids.index("07-02-record") < first_exercise
    tests = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) == 6
    assert all('assert_removed(lab, globals().get("_before_cleanup"), ' in c.source
               for c in tests)


def test_nbgrader_takes_the_record_cell_as_a_read_only_cell():
    from nbgrader import utils as nbgrader_utils
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(ROOT / "notebooks" / "07_cleanup.ipynb", as_version=4)
    graded = with_tests(nb, "07")
    MetadataValidator().validate_nb(graded)
    (record,) = [c for c in graded.cells if c.id == "07-02-record"]
    assert nbgrader_utils.is_locked(record)
    assert not nbgrader_utils.is_grade(record) and not nbgrader_utils.is_solution(record)


def test_each_cell_imports_the_grading_functions_it_calls():
    assert all(callable(getattr(grading_functions, name)) for name in GRADING_FUNCTIONS)
    for path in NOTEBOOKS:
        graded = with_tests(nbformat.read(path, as_version=4), path.name[:2])
        for cell in graded.cells:
            if not cell.id.endswith(("-test", "-record")):
                continue
            imported = cell.source.split("import ", 1)[1].split("\n", 1)[0].split(", ")
            called = [name for name in GRADING_FUNCTIONS if f"{name}(" in cell.source.split(
                "\n\n", 1)[1]]
            assert imported == called, cell.id


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_test_cell_is_locked_right_after_its_exercise(path):
    graded = with_tests(nbformat.read(path, as_version=4), path.name[:2])
    for before, cell in zip(graded.cells, graded.cells[1:]):
        grading = cell.metadata.get("nbgrader", {})
        if not grading.get("grade"):
            continue
        assert cell.id == f"{before.id}-test"
        assert grading == {"grade": True, "grade_id": f"test-{before.id}", "locked": True,
                           "points": POINTS.get(before.id, len(find_regions(before.source))),
                           "schema_version": 3, "solution": False, "task": False}
        ast.parse(cell.source)  # runs as Python
        # The learner's own lab: their student parameter.
        assert re.search(r"\(lab[,)]", cell.source)
    assert all(not c.get("outputs") for c in graded.cells if c.cell_type == "code")


def test_a_test_checks_the_exercises_expectations_in_the_cloud():
    nb = nbformat.read(ROOT / "notebooks" / "02_sns_topic.ipynb", as_version=4)
    graded = with_tests(nb, "02")
    (test,) = [c for c in graded.cells if c.id == "02-05-test"]
    assert "exercise 02.1" in test.source
    assert 'assert_step(lab, "02", ["02.topic_exists", "02.topic_tagged"])' in test.source


def test_an_exercise_without_a_test_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"{BEGIN}\nx = 1\n{END}", id="09-01")]
    with pytest.raises(ValueError, match="09-01 has no autograder test"):
        with_tests(nb, "09")


def test_the_course_holds_the_config_and_the_source_notebooks(tmp_path):
    points = build_course(hinted_solutions(NOTEBOOKS[:3]), tmp_path)
    assert points == {"00_overview.ipynb": 0, "01_slack_webhook.ipynb": 1,
                      "02_sns_topic.ipynb": 3}
    assert sorted(p.name for p in (tmp_path / "source" / "lab").iterdir()) == [
        p.name for p in NOTEBOOKS[:3]]
    config = (tmp_path / "nbgrader_config.py").read_text()
    assert 'db_assignments = [dict(name="lab")]' in config
    compile(config, "nbgrader_config.py", "exec")
    # The solutions stay marked: nbgrader generate_assignment blanks them.
    source = (tmp_path / "source" / "lab" / "02_sns_topic.ipynb").read_text()
    assert source.count(BEGIN) == 3
    # Each with the handout's hint above it, which nbgrader's release keeps.
    nb = nbformat.read(tmp_path / "source" / "lab" / "02_sns_topic.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.id == "02-05"]
    lines = cell.source.split("\n")
    assert lines[lines.index(BEGIN) - 1].startswith(
        "# Exercise 02.1: write sns.create_topic(Name=…, Tags=…) here and keep its answer in "
        "topic_arn")
