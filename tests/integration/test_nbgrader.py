"""nbgrader grades the workbook: full points for the solutions, none for an untouched handout.

The real nbgrader (the test extra) on the course ``labkit student-edition`` writes, for
notebooks 00-02 (the fewest that hold exercises of two kinds: a POST to Slack, SNS resources)
and 07, the cleanup, whose tests give points only for what existed before it and is gone after
(a locked cell records it). Two submissions run in one local cloud, apart by their ``student``
parameter; for both, what notebooks 03-06 would have left is made beforehand (those notebooks
take minutes). Notebook 08's tests call the same kind of grading function, tested against a
local cloud in test_grading_cloud.py; through nbgrader they would add half a minute.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import labkit
from labkit.batch.notebooks import default_notebooks
from labkit.classroom.course import ASSIGNMENT, build_course
from labkit.classroom.student_edition import fill_in, hinted_solutions

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = default_notebooks(ROOT, ["00", "01", "02", "07"])


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


def build_what_03_to_06_leave(student: str) -> None:
    """The function role with a policy attached, the function, the alarm and the KMS key."""
    from labkit.functions import HANDLER, SOURCE

    lab = labkit.start(student=student)
    iam = lab.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=lab.names.role, AssumeRolePolicyDocument=json.dumps(trust),
                           Tags=lab.tag_list)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=lab.names.role, PolicyArn="arn:aws:iam::aws:policy/"
                           "service-role/AWSLambdaBasicExecutionRole")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(SOURCE, arcname=SOURCE.name)
    lab.client("lambda").create_function(
        FunctionName=lab.names.function, Role=role, Runtime="python3.12", Handler=HANDLER,
        Code={"ZipFile": buffer.getvalue()}, Tags=lab.tags)
    lab.client("cloudwatch").put_metric_alarm(
        AlarmName=lab.names.alarm, Namespace="AWS/EC2", MetricName="CPUUtilization",
        Statistic="Average", Period=10, EvaluationPeriods=1, Threshold=50.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", Tags=lab.tag_list)
    kms = lab.client("kms")
    key_id = kms.create_key(Tags=lab.kms_tag_list)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=lab.names.kms_alias, TargetKeyId=key_id)


def test_the_solutions_score_every_point_and_the_untouched_handout_none(home, tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    points = build_course(hinted_solutions(NOTEBOOKS), course)
    assert points["01_slack_webhook.ipynb"] == 1 and points["02_sns_topic.ipynb"] == 3
    assert points["07_cleanup.ipynb"] == 6
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = (course / "release" / ASSIGNMENT / "02_sns_topic.ipynb").read_text()
    assert "sns.create_topic(Name=lab.names.topic" not in released  # the solution is out
    assert "# Exercise 02.1: write sns.create_topic(Name=…, Tags=…) here" in released  # the hint

    submit(course, "ana", solved=True)
    submit(course, "ben", solved=False)
    for student in ("ana", "ben"):
        build_what_03_to_06_leave(student)
    nbgrader(course, "autograde", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        ana = gradebook.find_submission(ASSIGNMENT, "ana")
        ben = gradebook.find_submission(ASSIGNMENT, "ben")
        assert ana.max_score == sum(points.values()) == 10
        assert (ana.score, ben.score) == (10, 0)
    # Ben's tests failed on what the cloud lacks, not on an error of the test itself.
    errors = graded_errors(course, "ben", "02_sns_topic.ipynb")
    assert [e.ename for e in errors] == ["AssertionError"] * 3
    assert "ben-mission-sns" in errors[0].evalue
    # His cleanup: what his stubs left is still there; the topic he never made earns nothing.
    errors = graded_errors(course, "ben", "07_cleanup.ipynb")
    assert [e.ename for e in errors] == ["AssertionError"] * 6
    assert "CloudWatch alarm ben-mission-cpu-alarm is still there" in errors[0].evalue
    assert "SNS topic ben-mission-sns did not exist" in errors[1].evalue
    assert "Not pending deletion: KMS key" in errors[5].evalue


def graded_errors(course: Path, student: str, notebook: str) -> list:
    """The errors of the graded cells of *student*'s autograded *notebook*, in order."""
    graded = nbformat.read(course / "autograded" / student / ASSIGNMENT / notebook,
                           as_version=4)
    return [output for cell in graded.cells if cell.metadata.get("nbgrader", {}).get("grade")
            for output in cell.outputs if output.output_type == "error"]
