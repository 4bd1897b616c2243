"""The nbgrader course: the notebooks with a locked autograder test after each exercise.

``labkit student-edition --out DIR`` writes, besides the handout, an nbgrader course in DIR::

    DIR/nbgrader_config.py
    DIR/source/lab/NN_name.ipynb     the solution notebooks, with the test cells

From there nbgrader's own commands take over (``nbgrader generate_assignment lab``, then
``nbgrader autograde lab``). Above each exercise a comment says what it asks (the handout's
hint; nbgrader's release blanks the region with a bare stub). Each test cell runs in the
submission's kernel after the learner's cells and checks, through :mod:`labkit.classroom.grading`, what the learner's own
code built in the cloud: ``lab`` there is the learner's (their ``student`` parameter).
Where a test needs to know what existed before the exercises (notebook 07's cleanup), a
locked, ungraded cell records it right after the notebook starts the lab (:data:`RECORDS`).
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
    "06-11": 'assert_set_by_hand(lab, globals().get("alarm_quick_test"))',
    # Each cleanup earns its point only for what existed before it (RECORDS) and is gone.
    "07-05": 'assert_removed(lab, globals().get("_before_cleanup"), "alarm")',
    "07-07": 'assert_removed(lab, globals().get("_before_cleanup"), "topic")',
    "07-11": 'assert_removed(lab, globals().get("_before_cleanup"), "function")',
    "07-13": 'assert_removed(lab, globals().get("_before_cleanup"), "role_policies")',
    "07-14": 'assert_removed(lab, globals().get("_before_cleanup"), "role")',
    "07-20": 'assert_removed(lab, globals().get("_before_cleanup"), "keys")',
    "08-12": "assert_flaky_role_policy(lab)",
    "08-28": 'assert_step(lab, "08", ["08.dead_letter"], '
             'dead_letter=globals().get("dead_letter"))',
    "08-31": 'assert_redriven(lab, globals().get("dead_letter"), globals().get("after_id", 0))',
    "09-10": 'assert_step(lab, "09", ["09.stack_deployed"], outputs=globals().get("outputs"))',
    "09-19": 'assert_step(lab, "09", ["09.stack_deleted", "09.nothing_left"])',
}

#: Exercises without a test, and why (none today: every exercise has one).
UNGRADED: dict[str, str] = {}

#: Tests worth other than a point per region, and why. 06-11 runs only on target aws with
#: alarm_quick_test set; a point there would be a point nobody on the local target can earn
#: (or, if the test passed where it does not apply, a point for nothing). Worth 0, its test
#: still checks the alarm's history where the exercise ran, and says so where it did not.
POINTS: dict[str, int] = {"06-11": 0}

#: Locked, ungraded cells the course adds after a cell (by id), for the tests after them: what
#: notebook 07's cleanup exercises will remove, recorded before them.
RECORDS: dict[str, str] = {
    "07-02": "_before_cleanup = record_before_cleanup(lab)",
}

#: What the test and record cells may call, imported by each cell that calls it.
GRADING_FUNCTIONS = ("assert_decrypts", "assert_flaky_role_policy", "assert_policy_document",
                     "assert_redriven", "assert_removed", "assert_set_by_hand", "assert_step",
                     "record_before_cleanup")

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


def grading_import(code: str) -> str:
    """The import line of the grading functions *code* calls."""
    used = [name for name in GRADING_FUNCTIONS if f"{name}(" in code]
    return f"from labkit.classroom.grading import {', '.join(used)}"


def test_cell(cell_id: str, label: str, points: int) -> nbformat.NotebookNode:
    """The locked autograder test of exercise cell *cell_id* (exercise *label*)."""
    import nbformat

    code = TESTS[cell_id]
    source = (f"# Autograder test of exercise {label}: what your code built in the cloud.\n"
              f"{grading_import(code)}\n\n{code}")
    cell = nbformat.v4.new_code_cell(source, id=f"{cell_id}-test")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"test-{cell_id}", "locked": True,
                                 "points": points, "schema_version": 3, "solution": False,
                                 "task": False}
    cell.metadata["deletable"] = False
    cell.metadata["editable"] = False
    return cell


def record_cell(after_id: str) -> nbformat.NotebookNode:
    """The locked, ungraded cell that follows cell *after_id*: it records, for the tests
    further down, what exists before the exercises change it (nbgrader runs its source as
    written in the course, whatever a submission holds)."""
    import nbformat

    code = RECORDS[after_id]
    source = ("# For the autograder: what you have before the exercises below, so that each\n"
              "# earns its point only for what existed here and is gone after it.\n"
              f"{grading_import(code)}\n\n{code}")
    cell = nbformat.v4.new_code_cell(source, id=f"{after_id}-record")
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"record-{after_id}",
                                 "locked": True, "schema_version": 3, "solution": False,
                                 "task": False}
    cell.metadata["deletable"] = False
    cell.metadata["editable"] = False
    return cell


def with_tests(nb: nbformat.NotebookNode, step: str) -> nbformat.NotebookNode:
    """The solution notebook *nb* with a test cell after each exercise cell (and the record
    cells of :data:`RECORDS`), outputs cleared.

    A cell with several solution regions is several exercises: its test is worth a point each
    (unless :data:`POINTS` says otherwise).
    """
    graded = copy.deepcopy(nb)
    cells = []
    number = 1
    for cell in graded.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
        if cell.get("id") in RECORDS:
            cells.append(record_cell(cell.id))
        regions = find_regions(cell.source) if cell.cell_type == "code" else []
        if not regions:
            continue
        cell_id = cell.get("id", "")
        last = number + len(regions) - 1
        label = f"{step}.{number}" + (f"–{step}.{last}" if last > number else "")
        number = last + 1
        if cell_id in TESTS:
            cells.append(test_cell(cell_id, label, POINTS.get(cell_id, len(regions))))
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
