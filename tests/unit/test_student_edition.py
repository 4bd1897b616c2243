"""The student edition: regions become stubs with a hint, and filling them back in restores them."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from labkit import i18n
from labkit.errors import LabError
from labkit.classroom.student_edition import (
    BEGIN,
    END,
    api_calls,
    blank_out,
    build,
    client_names,
    fill_in,
    find_regions,
    hint_comments,
    student_notebook,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("0*.ipynb"))


def strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))


@pytest.mark.parametrize("source, spans", [
    ("a = 1", []),
    (f"{BEGIN}\nx = f()\n{END}", [(0, 2, "", "x = f()")]),
    (f"try:\n    {BEGIN}\n    x = f()\n    y = g()\n    {END}\nexcept E:\n    pass",
     [(1, 4, "    ", "    x = f()\n    y = g()")]),
    (f"{BEGIN}\na()\n{END}\nb()\n{BEGIN}\nc()\n{END}",
     [(0, 2, "", "a()"), (4, 6, "", "c()")]),
])
def test_regions_are_found_with_their_indentation(source, spans):
    assert [(r.begin, r.end, r.indent, r.code) for r in find_regions(source)] == spans


@pytest.mark.parametrize("source, problem", [
    (f"{BEGIN}\nx = 1", "without ### END"),
    (f"x = 1\n{END}", "without ### BEGIN"),
    (f"{BEGIN}\n{BEGIN}\nx\n{END}\n{END}", "inside another region"),
])
def test_unpaired_markers_are_refused(source, problem):
    with pytest.raises(ValueError, match=problem):
        find_regions(source)


@pytest.mark.parametrize("code, calls", [
    ('topic = sns.create_topic(Name=n, Tags=t)["TopicArn"]', ["sns.create_topic(Name=…, Tags=…)"]),
    ("r = requests.post(url, json=body, timeout=10)", ["requests.post(…, json=…, timeout=…)"]),
    # A call inside a lambda passed to a helper still counts; the helper itself does not.
    ("f = lab.until_consistent(\n    lambda: lam.create_function(FunctionName=n),\n    retry_on=())",
     ["lam.create_function(FunctionName=…)"]),
    ("a = kms.create_key()\nkms.create_alias(AliasName=x, TargetKeyId=y)",
     ["kms.create_key()", "kms.create_alias(AliasName=…, TargetKeyId=…)"]),
    ("    x = json.dumps(y)", []),  # not a client: plumbing, not the exercise
])
def test_api_calls_name_the_client_calls(code, calls):
    assert api_calls(code, {"sns", "lam", "kms", "requests"}) == calls


def test_client_names_come_from_lab_client_assignments():
    sources = ['sns = lab.client("sns")\nx = 1', 'lam = lab.client("lambda")', "iam = boto3"]
    assert client_names(sources) == {"sns", "lam"}


def test_a_stub_raises_with_the_hint_and_keeps_the_indentation():
    source = f"try:\n    {BEGIN}\n    t = sns.create_topic(Name=n)\n    {END}\nexcept E:\n    pass"
    student, following = blank_out(source, "02", 1, {"sns"})
    assert following == 2
    assert "create_topic" not in student.replace("sns.create_topic(Name=…)", "")
    compile(student, "<cell>", "exec")  # still valid Python
    namespace: dict = {"E": KeyError}
    with pytest.raises(NotImplementedError, match=r"Exercise 02\.1: .*sns\.create_topic\(Name=…\)"):
        exec(student, namespace)  # noqa: S102 - the stub itself is what is tested


def test_hints_follow_the_language():
    source = f"{BEGIN}\nx = sns.publish(TopicArn=a)\n{END}"
    try:
        i18n.set_language("ko")
        student, _ = blank_out(source, "02", 1, {"sns"})
    finally:
        i18n.set_language("en")
    assert "연습 02.1" in student and "sns.publish(TopicArn=…)" in student


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_round_trips(path):
    """Student copy → fill the regions back in → the solution's code, markers aside."""
    solution = nbformat.read(path, as_version=4)
    student, count = student_notebook(solution, path.name[:2])
    for mine, theirs in zip(student.cells, solution.cells):
        assert mine.get("id") == theirs.get("id")
        if mine.cell_type == "code":
            assert mine.outputs == [] and mine.execution_count is None
            assert BEGIN not in mine.source
            assert fill_in(mine.source, theirs.source) == strip_markers(theirs.source)
    if path.name[:2] != "00":
        assert count >= 1, f"{path.name} has no exercise"


def test_every_exercise_hint_names_a_call_or_what_to_define():
    for path in NOTEBOOKS:
        student, _ = student_notebook(nbformat.read(path, as_version=4), path.name[:2])
        for cell in student.cells:
            for line in cell.source.split("\n"):
                if "NotImplementedError(" in line:
                    assert re.search(r"write \w+\.\w+\(", line) or "defines" in line, line


def test_the_first_exercise_is_the_post_in_notebook_01(tmp_path):
    counts = build(NOTEBOOKS, tmp_path)
    assert counts["00_overview.ipynb"] == 0 and counts["01_slack_webhook.ipynb"] == 1
    nb = nbformat.read(tmp_path / "notebooks" / "01_slack_webhook.ipynb", as_version=4)
    assert any("Exercise 01.1" in c.source and "requests.post(" in c.source for c in nb.cells)


def test_markers_that_do_not_pair_name_the_notebook_and_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"{BEGIN}\nx = 1", id="02-05")]
    with pytest.raises(LabError, match="Notebook 02, cell 02-05"):
        student_notebook(nb, "02")


def test_fill_in_refuses_a_mismatch():
    with pytest.raises(ValueError, match="more stubs"):
        fill_in("# YOUR CODE HERE\nraise NotImplementedError('x')", "a = 1")
    with pytest.raises(ValueError, match="fewer stubs"):
        fill_in("a = 1", f"{BEGIN}\nb = 2\n{END}")


def stub_hints(path: Path) -> list[str]:
    student, _ = student_notebook(nbformat.read(path, as_version=4), path.name[:2])
    return [line for cell in student.cells for line in cell.source.split("\n")
            if "NotImplementedError(" in line]


def test_a_hint_names_the_variable_that_keeps_the_answer():
    source = f'{BEGIN}\ntopic_arn = sns.create_topic(Name=n, Tags=t)["TopicArn"]\n{END}'
    student, _ = blank_out(source, "02", 1, {"sns"})
    assert "sns.create_topic(Name=…, Tags=…) here and keep its answer in topic_arn" in student


def test_a_hint_in_a_function_body_says_to_return_the_answer():
    source = f"def make():\n    {BEGIN}\n    return lam.create_function(FunctionName=n)\n    {END}"
    student, _ = blank_out(source, "03", 3, {"lam"})
    assert "lam.create_function(FunctionName=…) here and return its answer" in student


def test_a_spread_argument_is_named_with_the_keys_it_holds():
    source = (f"settings = dict(Role=r, Runtime='python3.12')\n{BEGIN}\n"
              f"f = lam.create_function(FunctionName=n, **settings)\n{END}")
    student, _ = blank_out(source, "03", 1, {"lam"})
    assert "lam.create_function(FunctionName=…, **settings [Role, Runtime])" in student


def test_the_create_function_stub_names_every_argument_it_needs():
    [line] = [h for h in stub_hints(NOTEBOOKS[3]) if "03.3" in h]
    for argument in ("FunctionName", "Code", "Role", "Runtime", "Handler", "Timeout",
                     "MemorySize", "Environment"):
        assert argument in line, argument


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_retries_for_eventual_consistency_stay_in_the_student_edition(path):
    """A stub blanks the call only: lab.until_consistent around it is still there to run."""
    solution = nbformat.read(path, as_version=4)
    student, _ = student_notebook(solution, path.name[:2])
    for mine, theirs in zip(student.cells, solution.cells):
        assert mine.source.count("lab.until_consistent(") == theirs.source.count(
            "lab.until_consistent(")


def test_a_hint_names_the_section_above_in_the_notebooks_own_language():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## 정책 만들기\n\n설명", id="05-06"),
                nbformat.v4.new_code_cell(f"{BEGIN}\niam.create_policy(PolicyName=p)\n{END}",
                                          id="05-07")]
    nb.cells[1].source = 'iam = lab.client("iam")\n' + nb.cells[1].source
    try:
        i18n.set_language("ko")
        student, _ = student_notebook(nb, "05")
    finally:
        i18n.set_language("en")
    assert "연습 05.1" in student.cells[1].source and "‘정책 만들기’ 절" in student.cells[1].source


def test_a_hint_comment_goes_above_each_region_and_leaves_the_solution_whole():
    source = f"try:\n    {BEGIN}\n    t = sns.create_topic(Name=n)\n    {END}\nexcept E:\n    pass"
    hinted, following = hint_comments(source, "02", 1, {"sns"})
    assert following == 2
    lines = hinted.split("\n")
    assert lines[1].startswith("    # Exercise 02.1: write sns.create_topic(Name=…) here")
    assert lines[:1] + lines[2:] == source.split("\n")
