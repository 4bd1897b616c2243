"""Tests of the batch runner (``labkit run``) on tiny notebooks built in a temporary folder.

The notebooks really run, through papermill, on the ``python3`` kernel of the test
environment; each kernel start costs a second or two, so each test uses few notebooks.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from rich.console import Console

from labkit.batch import notebooks, parameters, report
from labkit.batch.command import register_cli
from labkit.batch.notebooks import default_notebooks
from labkit.batch.report import CHECKS_MIME, NotebookResult, render_summary
from labkit.batch.run import RunInterrupted, run_notebooks
from labkit.errors import LabError
from labkit.masking import find_webhook_urls

KERNEL = "python3"
# Shaped like a Slack webhook, but not a real one.
FAKE_WEBHOOK = "https://hooks.slack.com/services/T00000000/B00000000/abcdefghijklmnopqrstuvwx"


# ---------------------------------------------------------------------------------------------
# Building notebooks


def parameters_cell(source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def checks_cell(step: str, passed: int, failed: int = 0) -> nbformat.NotebookNode:
    """A cell that displays a checks bundle, the way the workbook's check cells do."""
    items = [{"ok": True, "text": f"check {i}", "hint": ""} for i in range(passed)]
    items += [{"ok": False, "text": "queue exists", "hint": "run the cell that creates it"}
              for _ in range(failed)]
    bundle = {"step": step, "passed": passed, "failed": failed, "items": items}
    return new_code_cell(
        "from IPython.display import display\n"
        f"display({{{CHECKS_MIME!r}: {bundle!r}, 'text/plain': 'checks'}}, raw=True)")


def failing_cell() -> nbformat.NotebookNode:
    return new_code_cell("class LabError(Exception):\n    pass\n\n"
                         "raise LabError('queue missing')")


def write_notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


DEFAULTS = 'target = "local"\nregion = "ap-northeast-2"\nstudent = ""'


def passing_notebook(path: Path) -> Path:
    """Two check cells (2 + 1 passed), so the runner must add them up."""
    return write_notebook(path, new_markdown_cell("# passing"), parameters_cell(DEFAULTS),
                          checks_cell("01", 2), checks_cell("01", 1))


def failing_notebook(path: Path) -> Path:
    """Cells: 0 parameters, 1 print, 2 raises LabError, 3 checks (never reached)."""
    return write_notebook(path, parameters_cell(DEFAULTS), new_code_cell("print('before')"),
                          failing_cell(), checks_cell("02", 1))


def echo_notebook(path: Path) -> Path:
    """Prints its parameters and working directory; defines no slack_channel parameter."""
    return write_notebook(
        path, parameters_cell(DEFAULTS),
        new_code_cell("import os\n"
                      "print(f'target={target} region={region} student={student}')\n"
                      "print(f'cwd={os.getcwd()}')"),
        checks_cell("10", 1))


def outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))


def injected_source(path: Path) -> str | None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            return cell.source
    return None


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit")
    register_cli(parser.add_subparsers(dest="command", required=True))
    return parser


def run_cli(*argv: str) -> int:
    args = make_parser().parse_args(["run", *argv])
    return args.func(args)


# ---------------------------------------------------------------------------------------------
# Running notebooks


def test_stops_at_first_failure_and_skips_the_rest(tmp_path, capsys):
    nbs = tmp_path / "notebooks"
    notebooks = [passing_notebook(nbs / "01_pass.ipynb"), failing_notebook(nbs / "02_fail.ipynb"),
                 passing_notebook(nbs / "03_later.ipynb")]
    out = tmp_path / "out"

    results = run_notebooks(notebooks, {}, out, kernel_name=KERNEL)

    assert [(r.notebook, r.status) for r in results] == [
        ("01_pass.ipynb", "passed"), ("02_fail.ipynb", "failed"), ("03_later.ipynb", "skipped")]
    first, failed, skipped = results
    assert first.seconds > 0 and failed.seconds > 0 and skipped.seconds == 0
    assert (first.checks_passed, first.checks_failed, first.checks) == (3, 0, "3/3")
    assert failed.checks == "–"
    assert (failed.failed_cell, failed.failed_exec_count) == (2, 3)
    assert failed.error == "LabError: queue missing"
    assert failed.location == "02_fail.ipynb, cell 2 [exec 3]"
    assert failed.output == out / "02_fail.ipynb" and failed.output.exists()
    assert not (out / "03_later.ipynb").exists()

    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] is False
    assert [n["status"] for n in summary["notebooks"]] == ["passed", "failed", "skipped"]
    assert summary["notebooks"][1]["failed_cell"] == 2

    # Not a terminal: one plain line per notebook instead of a live display.
    log = capsys.readouterr().out
    assert "[1/3] 01_pass.ipynb passed in" in log
    assert "[2/3] 02_fail.ipynb failed in" in log and "LabError: queue missing" in log
    assert "[3/3] 03_later.ipynb skipped" in log


def test_keep_going_runs_later_notebooks_and_failed_checks_fail(tmp_path):
    nbs = tmp_path / "notebooks"
    checks_fail = write_notebook(nbs / "03_checks.ipynb", parameters_cell(DEFAULTS),
                                 new_code_cell("x = 1"), checks_cell("03", 1, failed=1))
    notebooks = [failing_notebook(nbs / "02_fail.ipynb"), checks_fail]

    results = run_notebooks(notebooks, {}, tmp_path / "out", kernel_name=KERNEL,
                            progress=False, stop_on_failure=False)

    assert [r.status for r in results] == ["failed", "failed"]
    later = results[1]
    assert later.seconds > 0 and later.output is not None and later.output.exists()
    # A check that reports a failure without raising still fails the notebook, at its cell.
    assert (later.checks_passed, later.checks_failed, later.checks) == (1, 1, "1/2")
    assert (later.failed_cell, later.failed_exec_count) == (2, 3)
    assert later.error == "1 check(s) failed: queue exists"


def test_parameters_injected_only_when_given_and_only_if_defined(tmp_path):
    notebook = echo_notebook(tmp_path / "notebooks" / "10_echo.ipynb")

    [plain] = run_notebooks([notebook], {}, tmp_path / "plain", kernel_name=KERNEL,
                            progress=False)
    [given] = run_notebooks([notebook], {"region": "us-east-1", "slack_channel": "alerts"},
                            tmp_path / "given", kernel_name=KERNEL, progress=False)

    assert plain.status == given.status == "passed"
    # Nothing set: no injected cell, the notebook's defaults apply.
    assert injected_source(plain.output) is None
    assert "target=local region=ap-northeast-2 student=" in outputs_text(plain.output)
    # Set: injected, except slack_channel, which this notebook's parameters cell lacks.
    source = injected_source(given.output)
    assert 'region = "us-east-1"' in source and "slack_channel" not in source
    assert "target=local region=us-east-1 student=" in outputs_text(given.output)
    # The kernel works in the notebook's folder, where the notebooks keep their files.
    assert f"cwd={notebook.parent}" in outputs_text(plain.output)


def test_leaked_webhook_url_is_masked_in_the_copy(tmp_path):
    # The URL is assembled at run time, so only the output holds it whole.
    head, secret = FAKE_WEBHOOK.rsplit("/", 1)
    notebook = write_notebook(tmp_path / "notebooks" / "05_leak.ipynb",
                              new_code_cell(f"print({head + '/'!r} + {secret!r})"))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)

    [result] = run_notebooks([notebook], {}, tmp_path / "out", kernel_name=KERNEL,
                             console=console)

    text = result.output.read_text()
    assert find_webhook_urls(text) == []
    assert head + "/••••wx" in outputs_text(result.output)
    assert result.masked_urls == 1 and result.status == "passed"
    shown = screen.getvalue()
    assert "05_leak.ipynb printed a Slack webhook URL" in shown
    assert FAKE_WEBHOOK not in shown


def test_webhook_url_parameter_is_refused_before_running(tmp_path):
    notebook = echo_notebook(tmp_path / "notebooks" / "10_echo.ipynb")

    with pytest.raises(LabError) as refused:
        run_notebooks([notebook], {"student": FAKE_WEBHOOK}, tmp_path / "out",
                      kernel_name=KERNEL, progress=False)

    assert "webhook URL" in str(refused.value) and "--webhook-env" in str(refused.value)
    assert not (tmp_path / "out" / "10_echo.ipynb").exists()


def test_ctrl_c_stops_cleanly_with_the_results_so_far(tmp_path, monkeypatch):
    notebooks = [passing_notebook(tmp_path / f"0{n}_nb.ipynb") for n in (1, 2, 3)]
    calls = []

    def fake_execute(input_path, output_path, **kwargs):
        calls.append(input_path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        nbformat.write(nbformat.read(input_path, as_version=4), output_path)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)

    with pytest.raises(RunInterrupted) as stopped:
        run_notebooks(notebooks, {}, tmp_path / "out", progress=False)

    assert [r.status for r in stopped.value.results] == ["passed", "failed", "skipped"]
    assert "interrupted" in stopped.value.results[1].error
    assert len(calls) == 2
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["passed", "failed", "skipped"]


def copying_execute(calls: list, fail: str = "", summary: Path | None = None):
    """A stand-in for papermill: copies the notebook, or fails the one whose name has *fail*.

    Each call records the notebook's name and what *summary* held when it started."""
    def execute(input_path, output_path, **kwargs):
        held = json.loads(summary.read_text()) if summary and summary.exists() else None
        calls.append((Path(input_path).name, held))
        if fail and fail in Path(input_path).name:
            raise RuntimeError("kernel died")
        nbformat.write(nbformat.read(input_path, as_version=4), output_path)
    return execute


def test_the_summary_is_rewritten_after_every_notebook(tmp_path, monkeypatch):
    notebooks = [passing_notebook(tmp_path / f"0{n}_nb.ipynb") for n in (1, 2)]
    out = tmp_path / "out"
    calls = []
    monkeypatch.setattr(papermill, "execute_notebook",
                        copying_execute(calls, summary=out / "summary.json"))

    run_notebooks(notebooks, {}, out, progress=False)

    (first, before_first), (second, before_second) = calls
    assert before_first is None
    # While the run goes on: the notebooks so far, and no finishing time yet.
    assert before_second["finished"] is None
    assert [(n["notebook"], n["status"]) for n in before_second["notebooks"]] == [
        ("01_nb.ipynb", "passed")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] is not None
    assert [n["notebook"] for n in summary["notebooks"]] == [first, second]


def test_a_notebook_to_run_always_runs_after_a_failure(tmp_path, monkeypatch):
    notebooks = [passing_notebook(tmp_path / f"0{n}_nb.ipynb") for n in (1, 2, 3)]
    cleanup = passing_notebook(tmp_path / "07_cleanup.ipynb")
    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", copying_execute(calls, fail="02"))

    results = run_notebooks([*notebooks, cleanup], {}, tmp_path / "out", progress=False,
                            always_run=[cleanup])

    assert [(r.notebook, r.status) for r in results] == [
        ("01_nb.ipynb", "passed"), ("02_nb.ipynb", "failed"), ("03_nb.ipynb", "skipped"),
        ("07_cleanup.ipynb", "passed")]
    assert [name for name, _ in calls] == ["01_nb.ipynb", "02_nb.ipynb", "07_cleanup.ipynb"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["passed", "failed", "skipped",
                                                          "passed"]


# ---------------------------------------------------------------------------------------------
# Command line


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with two notebooks; the cwd is its notebooks/ folder."""
    nbs = tmp_path / "notebooks"
    echo_notebook(nbs / "01_echo.ipynb")
    failing_notebook(nbs / "02_fail.ipynb")
    monkeypatch.chdir(nbs)
    return tmp_path


def test_cli_passes_yaml_and_flags_and_exits_zero(project, capsys):
    params = project / "lab.yaml"
    params.write_text(yaml.safe_dump({"region": "eu-west-1", "student": "lee"}))

    code = run_cli("--only", "01", "--params", str(params), "--region", "us-west-2",
                   "--kernel", KERNEL, "-q")

    assert code == 0
    # Default folder: runs/<timestamp>/ under the folder that holds notebooks/.
    [run_dir] = (project / "runs").iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["passed"] is True
    assert not (run_dir / "02_fail.ipynb").exists()
    assert "region=us-west-2 student=lee" in outputs_text(run_dir / "01_echo.ipynb")
    out = capsys.readouterr().out
    assert "01_echo.ipynb" in out and "1/1" in out
    assert "1 passed, 0 failed, 0 skipped" in out


def test_cli_names_the_failing_cell_and_exits_one(project, capsys):
    code = run_cli("--only", "fail", "--out", str(project / "out"), "--kernel", KERNEL, "-q")

    assert code == 1
    out = capsys.readouterr().out
    assert "02_fail.ipynb, cell 2 [exec 3]: LabError: queue missing" in out
    assert f"executed copy: {project / 'out' / '02_fail.ipynb'}" in out
    assert "0 passed, 1 failed, 0 skipped" in out


def test_cli_refuses_webhook_url_parameters(project, capsys):
    assert run_cli("--student", FAKE_WEBHOOK, "--kernel", KERNEL) == 2
    params = project / "lab.yaml"
    params.write_text(yaml.safe_dump({"webhook_env": FAKE_WEBHOOK}))
    assert run_cli("--params", str(params), "--kernel", KERNEL) == 2

    out = capsys.readouterr().out
    assert out.count("looks like a Slack webhook URL") == 2
    assert "--webhook-env" in out
    assert FAKE_WEBHOOK not in out
    assert not (project / "runs").exists()


def test_cli_ctrl_c_prints_the_summary_and_exits_130(project, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)

    assert run_cli("--out", str(project / "out"), "-q") == 130
    out = capsys.readouterr().out
    assert "Interrupted" in out
    assert "0 passed, 1 failed, 1 skipped" in out


def test_flags_override_the_parameter_file(tmp_path):
    params = tmp_path / "lab.yaml"
    params.write_text("target: aws\nregion: eu-west-1\nslack-channel: alerts\n")
    args = make_parser().parse_args(["run", "--params", str(params), "--region", "us-west-2",
                                     "--student", "kim"])

    assert parameters.parameters_from_args(args) == {
        "target": "aws", "region": "us-west-2", "slack_channel": "alerts", "student": "kim"}
    # Nothing set: nothing passed, so the notebooks' defaults apply.
    assert parameters.parameters_from_args(make_parser().parse_args(["run"])) == {}


def test_parameter_file_with_unknown_name_is_refused(tmp_path):
    params = tmp_path / "lab.yaml"
    params.write_text("target: aws\nregoin: eu-west-1\n")

    with pytest.raises(LabError, match="regoin"):
        parameters.load_parameter_file(params)


def test_help_shows_examples_and_flags(capsys):
    with pytest.raises(SystemExit):
        make_parser().parse_args(["run", "--help"])
    text = capsys.readouterr().out
    for flag in ("--target", "--region", "--student", "--slack-channel", "--webhook-env",
                 "--params", "--only", "--out", "--kernel", "--keep-going", "--quiet"):
        assert flag in text
    assert "labkit run --only 01 02" in text


# ---------------------------------------------------------------------------------------------
# Selecting notebooks, reading checks, the summary


def test_default_notebooks_sorted_and_selected(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("02_sns_topic.ipynb", "00_overview.ipynb", "01_slack_webhook.ipynb",
                 "scratch.ipynb", "03_notes.md"):
        (nbs / name).write_text("{}")

    names = lambda paths: [p.name for p in paths]  # noqa: E731
    assert names(default_notebooks(tmp_path, None)) == [
        "00_overview.ipynb", "01_slack_webhook.ipynb", "02_sns_topic.ipynb"]
    assert default_notebooks(nbs, None) == default_notebooks(tmp_path, None)
    assert names(default_notebooks(tmp_path, ["02", "1"])) == [
        "01_slack_webhook.ipynb", "02_sns_topic.ipynb"]
    assert names(default_notebooks(tmp_path, ["sns_topic"])) == ["02_sns_topic.ipynb"]
    assert names(default_notebooks(tmp_path, ["00_overview.ipynb"])) == ["00_overview.ipynb"]
    with pytest.raises(LabError, match="'07'"):
        default_notebooks(tmp_path, ["07"])


def test_the_lesson_order_puts_the_cleanup_last_and_catch_up_skips_what_cleans_up_after_itself(
        tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for number in ("00_overview", "05_iam_policy", "06_cloudwatch_alarm", "07_cleanup",
                   "08_when_slack_misbehaves", "09_pipeline_as_code"):
        (nbs / f"{number}.ipynb").write_text("{}")

    numbers = lambda paths: [p.name[:2] for p in paths]  # noqa: E731
    assert numbers(default_notebooks(tmp_path, None)) == ["00", "05", "06", "08", "09", "07"]
    assert numbers(default_notebooks(tmp_path, ["07", "09"])) == ["09", "07"]
    # 08 and 09 delete what they make: nothing later needs them replayed, and never the cleanup.
    assert numbers(notebooks.notebooks_before(tmp_path, "09")) == ["00", "05", "06"]
    assert numbers(notebooks.notebooks_before(tmp_path, "07")) == ["00", "05", "06"]
    assert numbers(notebooks.notebooks_before(tmp_path, "06")) == ["00", "05"]


def test_a_language_picks_its_subfolder_and_english_never_does(tmp_path):
    nbs = tmp_path / "notebooks"
    (nbs / "ko").mkdir(parents=True)
    for name in ("00_overview.ipynb", "01_slack_webhook.ipynb"):
        (nbs / name).write_text("{}")
        (nbs / "ko" / name).write_text("{}")

    english = default_notebooks(tmp_path, None)
    assert english == [nbs / "00_overview.ipynb", nbs / "01_slack_webhook.ipynb"]
    assert default_notebooks(tmp_path, None, "en") == english
    assert default_notebooks(tmp_path, ["01"], "ko") == [nbs / "ko" / "01_slack_webhook.ipynb"]
    assert notebooks.notebooks_before(tmp_path, "01", "ko") == [nbs / "ko" / "00_overview.ipynb"]
    assert notebooks.notebooks_before(tmp_path, "01") == [nbs / "00_overview.ipynb"]


def test_a_language_without_its_subfolder_runs_the_folder_itself(tmp_path):
    # A student edition written in Korean holds the Korean notebooks in notebooks/ itself.
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "00_overview.ipynb").write_text("{}")
    assert default_notebooks(tmp_path, None, "ko") == [nbs / "00_overview.ipynb"]


@pytest.mark.parametrize("command, lang, expected", [
    (["run"], [], ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]),
    (["run"], ["--lang", "en"], ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]),
    (["run"], ["--lang", "ko"], ["ko/00_a.ipynb", "ko/01_b.ipynb", "ko/02_c.ipynb"]),
    (["catch-up", "02"], [], ["00_a.ipynb", "01_b.ipynb"]),
    (["catch-up", "02"], ["--lang", "ko"], ["ko/00_a.ipynb", "ko/01_b.ipynb"]),
])
def test_the_commands_run_the_notebooks_of_the_language(tmp_path, monkeypatch, command, lang,
                                                         expected):
    from labkit.batch import command as batch_command

    nbs = tmp_path / "notebooks"
    (nbs / "ko").mkdir(parents=True)
    for name in ("00_a.ipynb", "01_b.ipynb", "02_c.ipynb"):
        (nbs / name).write_text("{}")
        (nbs / "ko" / name).write_text("{}")
    ran = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(batch_command, "solutions_folder", lambda: tmp_path)
    monkeypatch.setattr(batch_command, "run_notebooks",
                        lambda notebooks, *args, **kwargs: ran.extend(notebooks) or [])
    args = make_parser().parse_args([*command, *lang, "--out", str(tmp_path / "out"), "-q"])
    assert args.func(args) == 0
    assert [p.relative_to(nbs).as_posix() for p in ran] == expected


def test_project_root_is_found_upward_from_the_cwd(tmp_path):
    (tmp_path / "notebooks" / "data").mkdir(parents=True)
    assert notebooks.find_project_root(tmp_path / "notebooks" / "data") == tmp_path
    assert notebooks.find_project_root(tmp_path) == tmp_path


def test_new_run_dirs_never_collide(tmp_path):
    first, second = notebooks.new_run_dir(tmp_path), notebooks.new_run_dir(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.parent == second.parent == tmp_path / "runs"


def test_read_checks_accepts_json_text_bundles():
    nb = new_notebook(cells=[new_code_cell("a"), new_code_cell("b")])
    nb.cells[0].outputs = [nbformat.v4.new_output(
        "display_data", data={CHECKS_MIME: json.dumps({"passed": 2, "failed": 0, "items": []})})]
    nb.cells[1].execution_count = 4
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", execution_count=4, data={
        CHECKS_MIME: {"passed": 1, "failed": 1,
                      "items": [{"ok": True, "text": "a"}, {"ok": False, "text": "b"}]}})]

    assert report.read_checks(nb) == (3, 1, 1, 4, "b")


def test_render_summary_has_a_row_per_notebook():
    results = [NotebookResult("01_a.ipynb", "passed", 2.34, checks_passed=3),
               NotebookResult("02_b.ipynb", "failed", 1.0, checks_passed=1, checks_failed=1),
               NotebookResult("03_c.ipynb", "skipped")]
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(render_summary(results))
    lines = console.export_text().splitlines()

    row = lambda name: next(line for line in lines if name in line)  # noqa: E731
    assert "✅" in row("01_a") and "2.3" in row("01_a") and "3/3" in row("01_a")
    assert "❌" in row("02_b") and "1/2" in row("02_b")
    assert "⏭" in row("03_c") and "–" in row("03_c")
