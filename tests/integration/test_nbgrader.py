"""nbgrader grades the workbook: full points for the solutions, none for an untouched handout.

The real nbgrader (the test extra) on the course ``labkit student-edition`` writes, for
notebooks 00-02 (the fewest that hold exercises of two kinds: a POST to Slack, SNS resources).
Two submissions run in one local cloud, apart by their ``student`` parameter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit.batch.notebooks import default_notebooks
from labkit.classroom.course import ASSIGNMENT, build_course
from labkit.classroom.student_edition import fill_in, hinted_solutions

pytest.importorskip("nbgrader")
pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = default_notebooks(ROOT, ["00", "01", "02"])


def nbgrader(course: Path, *args: str) -> None:
    # nbgrader runs `alembic` (installed with it, beside this Python) for its gradebook.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          env=dict(os.environ, PATH=path), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def submit(course: Path, student: str, solved: bool) -> None:
    """Hand in the released notebooks as *student*: filled in with the solutions, or as given."""
    released = course / "release" / ASSIGNMENT
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for path in sorted(released.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        solutions = {c.get("id"): c.source for c in
                     nbformat.read(ROOT / "notebooks" / path.name, as_version=4).cells}
        for cell in nb.cells:
            if solved and cell.cell_type == "code" and cell.get("id") in solutions:
                cell.source = fill_in(cell.source, solutions[cell.get("id")])
            if "parameters" in cell.metadata.get("tags", []):
                assert 'student = ""' in cell.source
                cell.source = cell.source.replace('student = ""', f'student = "{student}"')
        nbformat.write(nb, folder / path.name)


def test_the_solutions_score_every_point_and_the_untouched_handout_none(home, tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    points = build_course(hinted_solutions(NOTEBOOKS), course)
    assert points["01_slack_webhook.ipynb"] == 1 and points["02_sns_topic.ipynb"] == 3
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = (course / "release" / ASSIGNMENT / "02_sns_topic.ipynb").read_text()
    assert "sns.create_topic(Name=lab.names.topic" not in released  # the solution is out
    assert "# Exercise 02.1: write sns.create_topic(Name=…, Tags=…) here" in released  # the hint

    submit(course, "ana", solved=True)
    submit(course, "ben", solved=False)
    nbgrader(course, "autograde", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        ana = gradebook.find_submission(ASSIGNMENT, "ana")
        ben = gradebook.find_submission(ASSIGNMENT, "ben")
        assert ana.max_score == sum(points.values()) == 4
        assert (ana.score, ben.score) == (4, 0)
    # Ben's tests failed on what the cloud lacks, not on an error of the test itself.
    graded = nbformat.read(course / "autograded" / "ben" / ASSIGNMENT / "02_sns_topic.ipynb",
                           as_version=4)
    errors = [output for cell in graded.cells if cell.metadata.get("nbgrader", {}).get("grade")
              for output in cell.outputs if output.output_type == "error"]
    assert [e.ename for e in errors] == ["AssertionError"] * 3
    assert "ben-mission-sns" in errors[0].evalue
