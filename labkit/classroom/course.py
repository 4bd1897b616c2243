"""The nbgrader course: the notebooks with a locked autograder test after each exercise.

``labkit student-edition --out DIR`` writes, besides the handout, an nbgrader course in DIR::

    DIR/nbgrader_config.py
    DIR/source/lab/NN_name.ipynb     the solution notebooks, with the test cells

From there nbgrader's own commands take over (``nbgrader generate_assignment lab``, then
``nbgrader autograde lab``). Above each exercise a comment says what it asks (the handout's
hint; nbgrader's release blanks the region with a bare stub). Each test cell runs in the
submission's kernel after the learner's cells and checks, through :mod:`labkit.classroom.grading`, what the learner's own
code built in the cloud: ``lab`` there is the learner's (their ``student`` parameter).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from .markers import find_regions

if TYPE_CHECKING:
    import nbformat

ASSIGNMENT = "lab"

#: The test of each exercise cell (by cell id): what its code must have built, read back.
#: ``globals().get(name)``: a fact the learner's kernel holds, None when their cell failed.
TESTS: dict[str, str] = {
    "01-07": 'assert_step(lab, "01", ["01.answered_ok", "01.message_arrived"], '
             'response=globals().get("response"))',
    "02-05": 'assert_step(lab, "02", ["02.topic_exists", "02.topic_tagged"])',
    "02-11": 'assert_step(lab, "02", ["02.queue_subscribed"])',
    "02-13": 'assert_step(lab, "02", ["02.message_received"], '
             'message_id=globals().get("message_id", ""), received=globals().get("received"))',
    "03-05": 'assert_step(lab, "03", ["03.role_exists", "03.role_trusts_lambda", '
             '"03.basic_execution"])',
    "03-09": 'assert_step(lab, "03", ["03.function_exists", "03.function_configured", '
             '"03.function_variables"])',
    "03-11": 'assert_step(lab, "03", ["03.sns_may_invoke", "03.function_subscribed"])',
    "03-13": 'assert_step(lab, "03", ["03.function_ran"])',
    "04-05": 'assert_step(lab, "04", ["04.key_enabled"])',
    "04-07": 'assert_decrypts(lab, globals().get("blob"))',
    "04-13": 'assert_step(lab, "04", ["04.ciphertext_decrypts"])',
    "04-13b": 'assert_step(lab, "04", ["04.function_key"])',
    "05-07": 'assert_policy_document(lab, globals().get("policy_document"))',
    "05-09": 'assert_step(lab, "05", ["05.policy_exists", "05.decrypt_on_key_only", '
             '"05.decrypt_needs_context", "05.policy_attached"])',
    "05-14": 'assert_step(lab, "05", ["05.published_reached_slack", "05.delivery_logged"], '
             'via_sns=globals().get("via_sns"))',
    "06-07": 'assert_step(lab, "06", ["06.alarm_exists", "06.alarm_configured", '
             '"06.alarm_actions"])',
    "08-28": 'assert_step(lab, "08", ["08.dead_letter"], '
             'dead_letter=globals().get("dead_letter"))',
}

#: Exercises without a test, and why: nothing in the cloud tells them done from not done.
UNGRADED: dict[str, str] = {
    "06-11": "runs on AWS only, when alarm_quick_test is set",
    "07-05": "cleanup: a learner who never built the resource has nothing to delete",
    "07-07": "cleanup", "07-11": "cleanup", "07-13": "cleanup", "07-14": "cleanup",
    "07-20": "cleanup",
    "08-12": "its role policy is read by no check; the dead-letter test covers its effect",
    "08-31": "the redrive leaves nothing behind to read",
}

IMPORT = ("from labkit.classroom.grading import assert_decrypts, assert_policy_document, "
          "assert_step")

CONFIG = '''\
# nbgrader's configuration for the workbook (written by `labkit student-edition`).
c = get_config()  # noqa: F821 - nbgrader provides it
c.CourseDirectory.course_id = "cloudwatch-slack-lab"
c.CourseDirectory.db_assignments = [dict(name="{assignment}")]
# The same two lines as the handout's stubs (which carry a hint besides).
c.ClearSolutions.code_stub = dict(python="# YOUR CODE HERE\\nraise NotImplementedError()")
# Cells wait for the cloud (a function's update, a message through SNS); AWS is slower.
c.Execute.timeout = 600
'''


def test_cell(cell_id: str, label: str, points: int) -> nbformat.NotebookNode:
    """The locked autograder test of exercise cell *cell_id* (exercise *label*)."""
    import nbformat

    source = (f"# Autograder test of exercise {label}: what your code built in the cloud.\n"
              f"{IMPORT}\n\n{TESTS[cell_id]}")
    cell = nbformat.v4.new_code_cell(source, id=f"{cell_id}-test")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"test-{cell_id}", "locked": True,
                                 "points": points, "schema_version": 3, "solution": False,
                                 "task": False}
    cell.metadata["deletable"] = False
    cell.metadata["editable"] = False
    return cell


def with_tests(nb: nbformat.NotebookNode, step: str) -> nbformat.NotebookNode:
    """The solution notebook *nb* with a test cell after each exercise cell, outputs cleared.

    A cell with several solution regions is several exercises: its test is worth a point each.
    """
    graded = copy.deepcopy(nb)
    cells = []
    number = 1
    for cell in graded.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
        regions = find_regions(cell.source) if cell.cell_type == "code" else []
        if not regions:
            continue
        cell_id = cell.get("id", "")
        last = number + len(regions) - 1
        label = f"{step}.{number}" + (f"–{step}.{last}" if last > number else "")
        number = last + 1
        if cell_id in TESTS:
            cells.append(test_cell(cell_id, label, len(regions)))
        elif cell_id not in UNGRADED:
            raise ValueError(f"exercise cell {cell_id} has no autograder test (course.TESTS)")
    graded.cells = cells
    return graded


def build_course(notebooks: dict[str, nbformat.NotebookNode], out: Path) -> dict[str, int]:
    """Write the nbgrader course of the solution *notebooks* (by file name) to *out*; points
    per notebook."""
    import nbformat

    source = out / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    points = {}
    for name, nb in notebooks.items():
        graded = with_tests(nb, name[:2])
        nbformat.write(graded, source / name)
        points[name] = sum(c.metadata.get("nbgrader", {}).get("points", 0)
                           for c in graded.cells)
    (out / "nbgrader_config.py").write_text(CONFIG.format(assignment=ASSIGNMENT),
                                            encoding="utf-8")
    return points
