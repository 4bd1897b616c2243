"""The nbgrader course: a locked autograder test right after each exercise, worth its regions."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from labkit.classroom.course import TESTS, UNGRADED, build_course, with_tests
from labkit.classroom.student_edition import BEGIN, END, find_regions, hinted_solutions

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def exercise_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "code" and find_regions(c.source)]


def test_every_exercise_is_tested_or_says_why_not():
    exercises = {c.id for path in NOTEBOOKS for c in exercise_cells(path)}
    assert set(TESTS) | set(UNGRADED) == exercises
    assert not set(TESTS) & set(UNGRADED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_test_cell_is_locked_right_after_its_exercise(path):
    graded = with_tests(nbformat.read(path, as_version=4), path.name[:2])
    for before, cell in zip(graded.cells, graded.cells[1:]):
        grading = cell.metadata.get("nbgrader", {})
        if not grading.get("grade"):
            continue
        assert cell.id == f"{before.id}-test"
        assert grading == {"grade": True, "grade_id": f"test-{before.id}", "locked": True,
                           "points": len(find_regions(before.source)), "schema_version": 3,
                           "solution": False, "task": False}
        ast.parse(cell.source)  # runs as Python
        assert "lab," in cell.source  # the learner's own lab: their student parameter
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
