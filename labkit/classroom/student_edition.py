"""The student edition: the notebooks with each exercise blanked out.

The notebooks mark what a learner writes with nbgrader's markers::

    ### BEGIN SOLUTION
    topic_arn = sns.create_topic(Name=lab.names.topic, Tags=lab.tag_list)["TopicArn"]
    ### END SOLUTION

``labkit student-edition`` replaces each such region with a stub that raises
``NotImplementedError`` with a hint naming the call(s) to write, clears every output, and
writes the notebooks to a folder of their own. The solution edition (``notebooks/``) is the
one that runs in CI. nbgrader's own tooling is not needed for the handout; the command also
writes an nbgrader course beside it (:mod:`labkit.classroom.course`), for a class that grades
with nbgrader.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import i18n
from ..defaults import DEFAULT_LANG
from ..errors import LabError
from .markers import BEGIN, END, find_regions

# BEGIN, END and find_regions are part of this module's interface too.
__all__ = ["BEGIN", "END", "api_calls", "blank_out", "build", "client_names", "fill_in",
           "find_regions", "hint", "hint_comments", "hinted_solutions", "student_notebook"]

if TYPE_CHECKING:
    import nbformat  # imported where used: it takes a second to load (see batch/report.py)

STUB_MARK = "# YOUR CODE HERE"
# `sns = lab.client("sns")`: the names boto3 clients go by in a notebook.
_CLIENT = re.compile(r"^\s*(\w+)\s*=\s*lab\.client\(", re.M)
# Receivers whose calls are the point of an exercise besides the notebook's boto3 clients.
_ALWAYS = ("requests",)


def client_names(notebook_sources: list[str]) -> set[str]:
    """Variables that hold boto3 clients in a notebook (``sns = lab.client("sns")``)."""
    return {name for source in notebook_sources for name in _CLIENT.findall(source)}


def spread_keys(cell_source: str) -> dict[str, list[str]]:
    """Keys of the dicts a cell builds by name (``settings = dict(Role=…, Runtime=…)``).

    A call that passes ``**settings`` hides its arguments; the hint names them from here.
    """
    try:
        tree = ast.parse(_without_markers(cell_source))
    except SyntaxError:
        return {}
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "dict"):
            found[node.targets[0].id] = [k.arg for k in value.keywords if k.arg]
        elif isinstance(value, ast.Dict):
            found[node.targets[0].id] = [k.value for k in value.keys
                                         if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return found


def _without_markers(source: str) -> str:
    # Cell magics and shell lines are not Python; the regions' markers are comments already.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def _call_text(node: ast.Call, spreads: dict[str, list[str]]) -> str:
    """``sns.create_topic(Name=…, Tags=…)``: the call with every argument blanked, by name."""
    arguments = ["…"] * len(node.args)
    for keyword in node.keywords:
        if keyword.arg:
            arguments.append(f"{keyword.arg}=…")
        elif isinstance(keyword.value, ast.Name):
            name = keyword.value.id
            keys = spreads.get(name)
            # The keys travel inside the call's text: Role, Runtime, Handler are named too.
            arguments.append(f"**{name}" + (f" [{', '.join(keys)}]" if keys else ""))
        else:
            arguments.append("**…")
    return f"{node.func.value.id}.{node.func.attr}({', '.join(arguments)})"  # type: ignore[attr-defined]


def api_calls(code: str, receivers: set[str], spreads: dict[str, list[str]] | None = None
              ) -> list[str]:
    """The calls on *receivers* in *code*, as hints: ``sns.create_topic(Name=…, Tags=…)``.

    *spreads* (from :func:`spread_keys`) names the keys behind a ``**settings`` argument.
    """
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return [f"{r}.{m}(…)" for r, m in re.findall(r"\b(\w+)\.(\w+)\(", code)
                if r in receivers]
    calls: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id in receivers):
            text = _call_text(node, spreads or {})
            if text not in calls:
                calls.append(text)
    # ast.walk is breadth-first; the order the code makes the calls reads better.
    return sorted(calls, key=lambda call: code.find(call.split("(")[0] + "("))


def assigned_names(code: str) -> list[str]:
    """Top-level names *code* assigns (for a region without any API call)."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return []
    return [target.id for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)]


def returns(code: str) -> bool:
    """Whether *code* ends with a ``return`` (a region that is a function's body)."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return False
    return bool(tree.body) and isinstance(tree.body[-1], ast.Return)


def hint(label: str, code: str, receivers: set[str], section: str = "",
         spreads: dict[str, list[str]] | None = None) -> str:
    """What the stub of exercise *label* tells the learner to write.

    It names the call(s) with every argument, the variable the answer goes into (or that the
    answer is returned), and *section*: the heading above the exercise, in the notebook's own
    language, where the prose explains what the call needs.
    """
    calls = api_calls(code, receivers, spreads)
    names = assigned_names(code)
    where = {"section": section or "…"}
    if calls:
        if returns(code):
            return i18n.t("student.exercise.calls_return", label=label,
                          calls=", ".join(calls), **where)
        if names:
            return i18n.t("student.exercise.calls_assign", label=label, calls=", ".join(calls),
                          names=", ".join(names), **where)
        return i18n.t("student.exercise.calls", label=label, calls=", ".join(calls), **where)
    return i18n.t("student.exercise.names", label=label, names=", ".join(names) or "…", **where)


def stub_lines(indent: str, text: str) -> list[str]:
    """The two lines that stand in for a region."""
    return [f"{indent}{STUB_MARK}", f"{indent}raise NotImplementedError({text!r})"]


def blank_out(source: str, step: str, first_number: int, receivers: set[str],
              section: str = "") -> tuple[str, int]:
    """*source* with every region replaced by its stub; returns it and the next exercise number.

    *section* is the heading of the notebook part the cell is in (named by the hints).
    """
    regions = find_regions(source)
    lines = source.split("\n")
    spreads = spread_keys(source) if regions else {}
    # From the last region back, so the earlier regions' line numbers stay valid.
    for offset, region in reversed(list(enumerate(regions))):
        text = hint(f"{step}.{first_number + offset}", region.code, receivers, section, spreads)
        lines[region.begin:region.end + 1] = stub_lines(region.indent, text)
    return "\n".join(lines), first_number + len(regions)


def fill_in(student_source: str, solution_source: str) -> str:
    """*student_source* with its stubs replaced, in order, by the solution's regions' code."""
    codes = [region.code for region in find_regions(solution_source)]
    lines = student_source.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if (line.strip() == STUB_MARK and index + 1 < len(lines)
                and lines[index + 1].strip().startswith("raise NotImplementedError(")):
            if not codes:
                raise ValueError("more stubs than solution regions")
            out.append(codes.pop(0))
            index += 2
            continue
        out.append(line)
        index += 1
    if codes:
        raise ValueError("fewer stubs than solution regions")
    return "\n".join(out)


def heading(markdown: str) -> str:
    """The text of the last heading in a markdown cell ("" when it has none)."""
    titles = [line.lstrip("#").strip() for line in markdown.split("\n")
              if re.match(r"^#{1,6}\s", line)]
    return titles[-1] if titles else ""


def hint_comments(source: str, step: str, first_number: int, receivers: set[str],
                  section: str = "") -> tuple[str, int]:
    """*source* with the hint of each region as a comment line just above its first marker;
    returns it and the next exercise number.

    nbgrader's own release replaces a region with a bare stub: the comment, outside the
    region, stays, so its learners read the same hint as the handout's.
    """
    regions = find_regions(source)
    lines = source.split("\n")
    spreads = spread_keys(source) if regions else {}
    for offset, region in reversed(list(enumerate(regions))):
        text = hint(f"{step}.{first_number + offset}", region.code, receivers, section, spreads)
        lines.insert(region.begin, f"{region.indent}# {text}")
    return "\n".join(lines), first_number + len(regions)


def _rewrite(nb: nbformat.NotebookNode, step: str, rewrite: Callable[..., tuple[str, int]]
             ) -> tuple[nbformat.NotebookNode, int]:
    """A copy of *nb* with *rewrite* (:func:`blank_out`, :func:`hint_comments`) applied to
    every code cell, outputs cleared; returns it and its number of exercises."""
    copied = copy.deepcopy(nb)
    receivers = client_names([c.source for c in nb.cells if c.cell_type == "code"]) | set(_ALWAYS)
    number = 1
    section = ""
    for cell in copied.cells:
        if cell.cell_type == "markdown":
            section = heading(cell.source) or section
            continue
        if cell.cell_type != "code":
            continue
        try:
            cell.source, number = rewrite(cell.source, step, number, receivers, section)
        except ValueError as exc:
            raise LabError(i18n.t("student.markers", step=step, cell=cell.get("id", "?"),
                                  problem=str(exc)), i18n.t("student.markers.hint")) from None
        cell.outputs = []
        cell.execution_count = None
    return copied, number - 1


def student_notebook(nb: nbformat.NotebookNode, step: str) -> tuple[nbformat.NotebookNode, int]:
    """A student copy of the solution notebook *nb*; returns it and its number of exercises."""
    return _rewrite(nb, step, blank_out)


def hinted_solutions(notebooks: list[Path]) -> dict[str, nbformat.NotebookNode]:
    """The solution *notebooks* by file name, each region with its hint above it: the
    nbgrader course's source (:func:`labkit.classroom.course.build_course`)."""
    import nbformat

    return {path.name: _rewrite(nbformat.read(path, as_version=4), path.name[:2],
                                hint_comments)[0] for path in notebooks}


def build(notebooks: list[Path], out: Path) -> dict[str, int]:
    """Write the student edition of *notebooks* to ``out/notebooks/``; exercises per notebook."""
    import nbformat

    folder = out / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        student, count = student_notebook(nb, path.name[:2])
        nbformat.write(student, folder / path.name)
        counts[path.name] = count
    return counts


def command(args: argparse.Namespace) -> int:
    """``labkit student-edition``: build the student copy, print what it holds."""
    from ..batch.notebooks import default_notebooks, find_project_root
    from .course import build_course

    i18n.set_language(args.lang or DEFAULT_LANG)
    root = find_project_root()
    out = Path(args.out) if args.out else root / "student-edition"
    if out.resolve() == root.resolve():
        raise LabError(i18n.t("student.same_folder"), i18n.t("student.same_folder.hint"))
    # --lang ko: the Korean notebooks (notebooks/ko/), with the hints in Korean.
    notebooks = default_notebooks(root, lang=args.lang)
    counts = build(notebooks, out)
    for name, count in counts.items():
        print(f"{name:<36} {count:>2} " + i18n.t("student.exercises"))
    print(i18n.t("student.written", folder=str(out / "notebooks"), total=sum(counts.values())))
    points = build_course(hinted_solutions(notebooks), out)
    print(i18n.t("student.course_written", folder=str(out), points=sum(points.values())))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``labkit student-edition`` to the command line."""
    parser = subparsers.add_parser(
        "student-edition", help="write the notebooks with the exercises blanked out",
        description="Write a copy of the notebooks for learners: every region between "
                    f"'{BEGIN}' and '{END}' becomes a stub that raises NotImplementedError "
                    "with a hint naming the call to write; outputs are cleared. Beside it, an "
                    "nbgrader course (nbgrader_config.py, source/lab/) with a locked autograder "
                    "test after each exercise. The solution edition in notebooks/ is left as it "
                    "is.",
        epilog="example:\n  labkit student-edition --out handout     then hand out "
               "handout/notebooks/", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", metavar="DIR",
                        help="where to write it (default: student-edition/, git-ignored)")
    parser.add_argument("--lang", choices=tuple(i18n.LANGUAGES),
                        help="language of the notebooks and hints: en (default) or ko "
                             "(from notebooks/ko/)")
    parser.set_defaults(func=command)
