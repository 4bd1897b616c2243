"""Batch runner: execute the lab notebooks in order with papermill (``labkit run``).

Every notebook runs with the same parameter set, and its executed copy is written to a fresh
run folder (``runs/<YYYYmmdd-HHMMSS>/``, git-ignored). The runner shows progress, reads the
checks each notebook displays at its end, prints a summary table and tells which notebook and
which cell failed, so the whole workbook can be verified in one command or in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..errors import LabError
from ..masking import find_webhook_urls, mask_secrets

if TYPE_CHECKING:
    # Imported where used: with jsonschema's format checkers they take about a second to load,
    # which every `labkit` command would pay, `labkit --help` included.
    import nbformat

#: MIME type of the bundle a notebook's check cell displays.
CHECKS_MIME = "application/vnd.labkit.checks+json"

#: The parameters the notebooks share (see the cell tagged ``parameters`` in each notebook).
PARAMETER_NAMES = ("target", "region", "student", "slack_channel", "webhook_env",
                   "expected_account_id", "bastion_instance_id", "bastion_launch",
                   "bastion_vcpus", "bastion_cpu", "alarm_quick_test", "alarm_period", "lang")

_NOTEBOOK_NAME = re.compile(r"^(\d{2})_.+\.ipynb$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STATUS_ICONS = {"passed": "✅", "failed": "❌", "skipped": "⏭"}


@dataclass
class NotebookResult:
    """The outcome of one notebook in a run.

    ``failed_cell`` is papermill's 0-based index of the failing cell in the executed copy
    (it counts the injected-parameters cell); ``failed_exec_count`` is the ``[n]`` Jupyter
    shows next to it, when the cell got that far.
    """

    notebook: str
    status: str  # "passed", "failed" or "skipped"
    seconds: float = 0.0
    checks_passed: int = 0
    checks_failed: int = 0
    failed_cell: int | None = None
    failed_exec_count: int | None = None
    error: str = ""
    output: Path | None = None
    masked_urls: int = 0

    @property
    def checks(self) -> str:
        """``passed/total`` for the summary, or an en dash when the notebook showed no checks."""
        total = self.checks_passed + self.checks_failed
        return f"{self.checks_passed}/{total}" if total else "–"

    @property
    def location(self) -> str:
        """Where it failed, e.g. ``02_sns_topic.ipynb, cell 7 [exec 5]``."""
        if self.failed_cell is None:
            return self.notebook
        where = f"{self.notebook}, cell {self.failed_cell}"
        if self.failed_exec_count is not None:
            where += f" [exec {self.failed_exec_count}]"
        return where


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; carries the results so far (the rest are marked skipped)."""

    def __init__(self, results: list[NotebookResult]) -> None:
        super().__init__("run interrupted")
        self.results = results


# ---------------------------------------------------------------------------------------------
# Finding notebooks and folders


def find_project_root(start: Path | None = None) -> Path:
    """The folder that holds ``notebooks/``: *start* (default: the cwd) or a parent of it.

    Falls back to the folder next to the installed package, which is the project checkout.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir():
            return folder
    return Path(__file__).resolve().parent.parent


def solution_root() -> Path:
    """The workbook checkout this labkit comes from (its ``notebooks/`` are the solutions)."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "notebooks").is_dir() else find_project_root()


def default_notebooks(root: Path, only: list[str] | None = None) -> list[Path]:
    """The workbook's ``NN_name.ipynb`` notebooks, sorted, optionally narrowed by *only*.

    *root* is the project root (its ``notebooks/`` folder is used) or the notebooks folder
    itself. Each *only* item selects by number (``01`` or ``1``), by name (``slack_webhook``)
    or by file name (``01_slack_webhook`` / ``01_slack_webhook.ipynb``). An item that matches
    nothing raises :class:`LabError`, so a typo never silently runs fewer notebooks.
    """
    folder = root / "notebooks" if (root / "notebooks").is_dir() else root
    notebooks = sorted(p for p in folder.glob("*.ipynb") if _NOTEBOOK_NAME.match(p.name))
    if not only:
        return notebooks

    def matches(path: Path, item: str) -> bool:
        number = _NOTEBOOK_NAME.match(path.name).group(1)  # type: ignore[union-attr]
        if item.isdigit():
            return int(item) == int(number)
        return item in (path.name, path.stem, path.stem[3:])

    for item in only:
        if not any(matches(p, item) for p in notebooks):
            names = ", ".join(p.stem for p in notebooks) or "none"
            raise LabError(f"No notebook matches {item!r} in {folder}.",
                           f"Use a number or a name; available: {names}.")
    return [p for p in notebooks if any(matches(p, item) for item in only)]


def new_run_dir(root: Path) -> Path:
    """A new, empty ``runs/<YYYYmmdd-HHMMSS>`` folder under *root*."""
    base = root / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, n = base, 1
    while folder.exists():  # two runs in the same second must not mix their copies
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder


# ---------------------------------------------------------------------------------------------
# Parameters


def check_parameters(parameters: dict[str, Any]) -> None:
    """Refuse a parameter value that holds a Slack webhook URL.

    papermill copies parameters into every executed notebook, so a URL passed this way would
    be written to disk; the URL belongs in the environment variable named by ``webhook_env``.
    """
    for name, value in parameters.items():
        if find_webhook_urls(str(value)):
            raise LabError(
                f"The value of {name!r} looks like a Slack webhook URL; it must not be a "
                "parameter (papermill copies parameters into every executed notebook).",
                "Put the URL in an environment variable (export SLACK_WEBHOOK_URL=...) and "
                "pass that variable's NAME with --webhook-env.")


def load_parameter_file(path: Path) -> dict[str, Any]:
    """Read a YAML parameter file: a mapping of the parameters in :data:`PARAMETER_NAMES`.

    Keys may be written ``slack_channel`` or ``slack-channel``.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"Cannot read the parameter file {path}: {exc.strerror}.",
                       "Check the path given to --params.") from exc
    except yaml.YAMLError as exc:
        raise LabError(f"{path} is not valid YAML: {exc}",
                       "Write one 'name: value' per line, e.g. 'target: aws'.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LabError(f"{path} must hold a mapping such as 'target: aws', not a "
                       f"{type(data).__name__}.", "Write one 'name: value' per line.")
    parameters = {str(key).replace("-", "_"): value for key, value in data.items()}
    unknown = sorted(set(parameters) - set(PARAMETER_NAMES))
    if unknown:
        raise LabError(f"Unknown parameter(s) in {path}: {', '.join(unknown)}.",
                       f"Known parameters: {', '.join(PARAMETER_NAMES)}.")
    return parameters


def parameters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The parameters the user set: the ``--params`` file, overridden by explicit flags.

    Parameters nobody set are left out, so each notebook's own defaults apply.
    """
    parameters = load_parameter_file(Path(args.params)) if args.params else {}
    for name in PARAMETER_NAMES:
        value = getattr(args, name, None)
        if value is not None:
            parameters[name] = value
    check_parameters(parameters)
    return parameters


def _notebook_parameters(path: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The subset of *parameters* that *path*'s parameters cell defines.

    papermill warns about (and still injects) unknown parameters; a notebook that does not
    use, say, ``slack_channel`` simply does not get it.
    """
    if not parameters:
        return {}
    import papermill

    try:
        defined = papermill.inspect_notebook(str(path))
    except ValueError:
        # No kernelspec in the notebook: papermill cannot tell its parameters. Pass them all
        # rather than silently running with defaults the user meant to override.
        return dict(parameters)
    return {name: value for name, value in parameters.items() if name in defined}


# ---------------------------------------------------------------------------------------------
# Reading an executed notebook


def read_checks(nb: nbformat.NotebookNode) -> tuple[int, int, int | None, int | None, str]:
    """Sum the check bundles an executed notebook displayed.

    Returns ``(passed, failed, cell_index, exec_count, first_failure)`` where the last three
    describe the first check cell that reported a failure (``None``/``""`` if none did).
    """
    passed = failed = 0
    fail_index = fail_exec = None
    first_failure = ""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            bundle = output.get("data", {}).get(CHECKS_MIME)
            if bundle is None:
                continue
            if isinstance(bundle, str):  # a JSON string instead of an object is still valid
                bundle = json.loads(bundle)
            passed += int(bundle.get("passed", 0))
            cell_failed = int(bundle.get("failed", 0))
            failed += cell_failed
            if cell_failed and fail_index is None:
                fail_index, fail_exec = index, cell.get("execution_count")
                bad = [item for item in bundle.get("items", []) if not item.get("ok")]
                first_failure = str(bad[0].get("text", "")) if bad else ""
    return passed, failed, fail_index, fail_exec, first_failure


def _mask_strings(value: Any) -> Any:
    """*value* with :func:`mask_secrets` applied to every string in it, at any depth."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list):
        return [_mask_strings(item) for item in value]
    if isinstance(value, dict):
        return {key: _mask_strings(item) for key, item in value.items()}
    return value


def mask_notebook_file(path: Path) -> int:
    """Mask every webhook URL in the notebook file *path*; return how many distinct URLs.

    The notebooks should never print a URL; this is the safety net for the copies on disk.
    Every string is masked (outputs, and sources too in case a URL was pasted into a cell).
    """
    text = path.read_text(encoding="utf-8")
    urls = set(find_webhook_urls(text))
    if urls:
        data = _mask_strings(json.loads(text))
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(urls)


def _one_line(ename: str, evalue: str, limit: int = 300) -> str:
    """``Name: message`` on one line, without colour codes or secrets.

    The lines of the message are joined, so a LabError's "what" and "→ next step" both show.
    """
    lines = [line.strip() for line in _ANSI.sub("", evalue or "").splitlines() if line.strip()]
    # Mask before cutting: a cut URL would no longer be recognised as one.
    message = mask_secrets(f"{ename}: {' '.join(lines)}" if lines else ename)
    return message if len(message) <= limit else message[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Progress


class _Reporter:
    """Progress that shows nothing (``progress=False``); the base of the two visible kinds."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> _Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start_notebook(self, number: int, total: int, name: str) -> None:
        pass

    def kernel_ready(self, cells: int) -> None:
        pass

    def cell_started(self, index: int) -> None:
        pass

    def finished(self, number: int, total: int, result: NotebookResult) -> None:
        pass

    def warn(self, message: str) -> None:
        # Warnings show even when progress is off: they are about secrets.
        self.console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


class _PlainReporter(_Reporter):
    """One line per notebook start and end, for logs that are not a terminal (CI)."""

    def start_notebook(self, number: int, total: int, name: str) -> None:
        self.console.print(f"[{number}/{total}] {name} ...", markup=False, highlight=False,
                           soft_wrap=True)

    def finished(self, number: int, total: int, result: NotebookResult) -> None:
        line = f"[{number}/{total}] {result.notebook} {result.status}"
        if result.status != "skipped":
            line += f" in {result.seconds:.1f} s, checks {result.checks}"
        if result.error:
            line += f" - {result.error}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class _LiveReporter(_Reporter):
    """A live rich display: the run's notebooks, plus the cells of the current notebook."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.overall: TaskID | None = None
        self.cells: TaskID | None = None
        self.name = ""

    def __enter__(self) -> _LiveReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start_notebook(self, number: int, total: int, name: str) -> None:
        if self.overall is None:
            self.overall = self.progress.add_task("notebooks", total=total)
        if self.cells is not None:
            self.progress.remove_task(self.cells)
        self.name = name
        # Total unknown until the kernel is up and the parameters cell injected.
        self.cells = self.progress.add_task(f"  {name}: starting kernel", total=None)

    def kernel_ready(self, cells: int) -> None:
        if self.cells is not None:
            self.progress.update(self.cells, total=cells, completed=0,
                                 description=f"  {self.name}: cells")

    def cell_started(self, index: int) -> None:
        if self.cells is not None:
            self.progress.update(self.cells, completed=index)

    def finished(self, number: int, total: int, result: NotebookResult) -> None:
        if self.overall is not None:
            self.progress.advance(self.overall)
        icon = _STATUS_ICONS[result.status]
        line = f"{icon} {result.notebook}"
        if result.status != "skipped":
            line += f"  {result.seconds:.1f} s  checks {result.checks}"
        self.progress.console.print(line, markup=False, highlight=False)

    def warn(self, message: str) -> None:
        self.progress.console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def _reporter(console: Console, progress: bool) -> _Reporter:
    if not progress:
        return _Reporter(console)
    return _LiveReporter(console) if console.is_terminal else _PlainReporter(console)


# ---------------------------------------------------------------------------------------------
# Running


@contextlib.contextmanager
def _stderr_into(log: Path) -> Iterator[None]:
    """Send this process's standard error (file descriptor 2) to *log* for a while.

    Kernels inherit the descriptor, so their start-up warnings and shutdown chatter land in the
    run folder instead of between the progress lines; the errors that matter are in the
    executed notebook and the summary.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as target:
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def needs_machine_cpu(path: Path) -> bool:
    """Whether notebook *path* loads this machine's CPU (metadata ``labkit.uses_machine_cpu``)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False
    return bool(metadata.get("labkit", {}).get("uses_machine_cpu"))


@contextlib.contextmanager
def machine_cpu(path: Path, parameters: dict[str, Any] | None = None) -> Iterator[None]:
    """Hold the machine-wide CPU lock while notebook *path* runs, if it needs the CPU.

    Each learner's local bastion counts only its own processes, but its stress run needs
    two free cores of this computer: runs in parallel (a class rehearsal, two terminals) take
    turns for such notebooks, so that one learner's load never starves another's bastion. With
    ``bastion_cpu = "scripted"`` nothing burns and nobody waits.
    """
    if not needs_machine_cpu(path) or (parameters or {}).get("bastion_cpu") == "scripted":
        yield
        return
    from filelock import FileLock

    from ..local.state import labkit_home

    home = labkit_home()
    home.mkdir(parents=True, exist_ok=True)
    # Waits as long as the other run needs the CPU; a run that dies frees it with its process.
    with FileLock(home / "machine-cpu.lock"):
        yield


def _run_one(path: Path, parameters: dict[str, Any], out_dir: Path, kernel_name: str | None,
             reporter: _Reporter) -> NotebookResult:
    """Execute one notebook into *out_dir* and describe the outcome."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from . import kernels

    output = out_dir / path.name
    result = NotebookResult(notebook=path.name, status="passed")
    start = time.perf_counter()
    try:
        with _stderr_into(out_dir / "kernels.log"), machine_cpu(path, parameters):
            papermill.execute_notebook(
                str(path),
                str(output),
                parameters=_notebook_parameters(path, parameters),
                kernel_name=kernel_name,
                progress_bar=False,
                cwd=str(path.parent),  # notebooks open files relative to notebooks/
                # nbclient hooks, passed through by papermill: they drive the per-cell progress.
                on_notebook_start=lambda notebook, **_: reporter.kernel_ready(len(notebook.cells)),
                on_cell_start=lambda cell_index, **_: reporter.cell_started(cell_index),
                **kernels.papermill_options(),
            )
    except PapermillExecutionError as exc:
        result.status = "failed"
        result.failed_cell = exc.cell_index
        result.failed_exec_count = exc.exec_count
        result.error = _one_line(exc.ename, exc.evalue)
    except Exception as exc:  # the kernel died or could not start: still a failed notebook
        result.status = "failed"
        result.error = _one_line(type(exc).__name__, str(exc))
    finally:
        result.seconds = time.perf_counter() - start

    if output.exists():
        result.output = output
        result.masked_urls = mask_notebook_file(output)
        if result.masked_urls:
            reporter.warn(f"{path.name} printed a Slack webhook URL; it is masked in the "
                          "executed copy. A notebook should never show the URL.")
        passed, failed, cell, exec_count, first = read_checks(nbformat.read(output, as_version=4))
        result.checks_passed, result.checks_failed = passed, failed
        if failed and result.status == "passed":
            # A check that failed without raising still means the step did not work.
            result.status = "failed"
            result.failed_cell, result.failed_exec_count = cell, exec_count
            detail = f": {first}" if first else ""
            result.error = mask_secrets(f"{failed} check(s) failed{detail}")
    return result


def write_summary_json(out_dir: Path, results: list[NotebookResult],
                       parameters: dict[str, Any]) -> Path:
    """Write ``summary.json`` (parameters and one entry per notebook) into *out_dir*."""
    notebooks = []
    for result in results:
        entry = asdict(result)
        entry["output"] = result.output.name if result.output else None
        entry["seconds"] = round(result.seconds, 2)
        entry["checks"] = result.checks
        notebooks.append(entry)
    summary = {
        "finished": datetime.now().isoformat(timespec="seconds"),
        "parameters": parameters,
        "passed": all(r.status != "failed" for r in results),
        "notebooks": notebooks,
    }
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run_notebooks(notebooks: list[Path], parameters: dict[str, Any], out_dir: Path, *,
                  kernel_name: str | None = None, progress: bool = True,
                  stop_on_failure: bool = True,
                  console: Console | None = None) -> list[NotebookResult]:
    """Execute *notebooks* in order with *parameters*, writing executed copies to *out_dir*.

    Only the parameters a notebook's ``parameters`` cell defines are injected into it. With
    *stop_on_failure* the notebooks after the first failure are marked ``skipped``.
    ``summary.json`` is written to *out_dir*. Raises :class:`LabError` if a parameter value
    looks like a webhook URL, and :class:`RunInterrupted` (with the results so far) on Ctrl-C.
    """
    check_parameters(parameters)
    console = console or Console()
    # papermill changes the working directory while it runs, so relative paths would move.
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    notebooks = [Path(p).resolve() for p in notebooks]
    # Kernels inherit it: nothing renders widgets in a batch run, so labkit prints instead.
    os.environ["LABKIT_BATCH"] = "1"

    results: list[NotebookResult] = []
    total = len(notebooks)
    try:
        with _reporter(console, progress) as reporter:
            for number, path in enumerate(notebooks, start=1):
                if stop_on_failure and any(r.status == "failed" for r in results):
                    result = NotebookResult(notebook=path.name, status="skipped")
                else:
                    reporter.start_notebook(number, total, path.name)
                    result = _run_one(path, parameters, out_dir, kernel_name, reporter)
                results.append(result)
                reporter.finished(number, total, result)
    except KeyboardInterrupt:
        current = len(results)
        if current < total:
            output = out_dir / notebooks[current].name
            results.append(NotebookResult(notebook=notebooks[current].name, status="failed",
                                          error="KeyboardInterrupt: interrupted by the user",
                                          output=output if output.exists() else None))
        results += [NotebookResult(notebook=p.name, status="skipped")
                    for p in notebooks[len(results):]]
        write_summary_json(out_dir, results, parameters)
        raise RunInterrupted(results) from None
    write_summary_json(out_dir, results, parameters)
    return results


# ---------------------------------------------------------------------------------------------
# Reporting


def render_summary(results: list[NotebookResult]) -> Table:
    """A rich table with one row per notebook: status, seconds and checks."""
    table = Table(title="labkit run")
    table.add_column("notebook")
    table.add_column("status", justify="center")
    table.add_column("seconds", justify="right")
    table.add_column("checks", justify="right")
    for result in results:
        seconds = f"{result.seconds:.1f}" if result.status != "skipped" else "–"
        table.add_row(result.notebook, f"{_STATUS_ICONS[result.status]} {result.status}",
                      seconds, result.checks)
    return table


def _shown(path: Path) -> str:
    """*path* relative to the cwd when it is below it: shorter to read and to copy."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_report(console: Console, results: list[NotebookResult], out_dir: Path) -> None:
    """Print the summary table, each failure's location and copy, a total line and the folder."""
    console.print(render_summary(results))
    for result in results:
        if result.status == "failed":
            # soft_wrap: keep each failure on one line, so logs stay greppable
            console.print(f"[red]✗[/] {escape(result.location)}: {escape(result.error)}",
                          highlight=False, soft_wrap=True)
            if result.output:
                console.print(f"  executed copy: {_shown(result.output)}", markup=False,
                              highlight=False, soft_wrap=True)
    counts = {status: sum(r.status == status for r in results)
              for status in ("passed", "failed", "skipped")}
    seconds = sum(r.seconds for r in results)
    checks_passed = sum(r.checks_passed for r in results)
    checks_total = checks_passed + sum(r.checks_failed for r in results)
    console.print(f"{counts['passed']} passed, {counts['failed']} failed, "
                  f"{counts['skipped']} skipped in {seconds:.1f} s; "
                  f"checks {checks_passed}/{checks_total}", highlight=False, soft_wrap=True)
    console.print(f"Run folder: {_shown(out_dir)}", markup=False, highlight=False,
                  soft_wrap=True)


# ---------------------------------------------------------------------------------------------
# Command line

_DESCRIPTION = """\
Execute the workbook's notebooks in order with papermill and one parameter set.

Executed copies go to a new folder per run (runs/<YYYYmmdd-HHMMSS>/ under the project
root, git-ignored) together with summary.json. Only the parameters you set (flags or a
YAML file; flags win) are injected, so the notebooks' own defaults apply otherwise.
The exit code is 1 if any notebook fails, 0 otherwise.
"""

_EXAMPLES = """\
examples:
  labkit run                                  run every notebook on the local target
  labkit run --only 01 02                     run notebooks 01 and 02 only
  labkit run --target aws --student kim       run against a real AWS account
  labkit run --params lab.yaml --region us-east-1
                                              YAML values, with the region overridden
  labkit run --keep-going -q                  run all even after a failure, no progress

A parameter file holds the same names, e.g.:
  target: aws
  student: kim
  webhook_env: SLACK_WEBHOOK_URL

The webhook URL itself is never a parameter (papermill copies parameters into every
executed notebook): export it in a variable and pass the variable's name with
--webhook-env.
"""


def add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """The notebook-parameter flags shared by ``labkit run`` and ``labkit catch-up``."""
    params = parser.add_argument_group("notebook parameters (default: each notebook's own)")
    # Defaults are None so that only what the user set is passed to the notebooks.
    params.add_argument("--target", choices=("local", "aws"),
                        help="where the lab runs: this machine or a real AWS account")
    params.add_argument("--region", help="AWS region code (notebooks default to ap-northeast-2)")
    params.add_argument("--student", help="your name, used in AWS resource names (e.g. kim)")
    params.add_argument("--slack-channel", dest="slack_channel", metavar="CHANNEL",
                        help="Slack channel to post to (notebooks default to 'project')")
    params.add_argument("--webhook-env", dest="webhook_env", metavar="VAR",
                        help="NAME of the environment variable holding the Slack webhook URL "
                             "(notebooks default to SLACK_WEBHOOK_URL)")
    params.add_argument("--expected-account-id", dest="expected_account_id", metavar="ID",
                        help="aws: refuse to run in any other account than this 12-digit id")
    params.add_argument("--bastion-cpu", dest="bastion_cpu", choices=("measured", "scripted"),
                        help="local: 'measured' runs a real load on the bastion and measures it "
                             "(notebook default); 'scripted' publishes the same figures on any "
                             "computer, in the least time")
    params.add_argument("--bastion-vcpus", dest="bastion_vcpus", type=int, metavar="N",
                        help="local: the bastion's vCPUs (notebook default 2, as a t3.micro)")
    params.add_argument("--alarm-quick-test", dest="alarm_quick_test", action="store_const",
                        const=True, help="aws: set the alarm to ALARM by hand instead of "
                                         "waiting for the load (a test of its actions)")
    params.add_argument("--lang", choices=("en", "ko"),
                        help="language of labkit's messages in the notebooks: en (English) or "
                             "ko (Korean)")
    params.add_argument("--params", metavar="FILE.yaml",
                        help="YAML file with parameters; flags override its values")


def notebooks_before(root: Path, step: str) -> list[Path]:
    """The notebooks that come before *step* (a number like ``05``): what catch-up runs."""
    if not step.isdigit():
        raise LabError(f"{step!r} is not a step number.", "Give the notebook's number, e.g. 05.")
    return [p for p in default_notebooks(root) if int(p.name[:2]) < int(step)]


def with_cleanup_last(notebooks: list[Path], root: Path) -> list[Path]:
    """*notebooks* with the cleanup notebook moved (or added) to the end."""
    cleanup = [p for p in default_notebooks(root) if "cleanup" in p.stem]
    return [p for p in notebooks if p not in cleanup] + cleanup


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``run`` and ``catch-up`` sub-commands to an argparse *subparsers* object.

    The sub-command's ``func`` takes the parsed arguments and returns the exit code.
    """
    parser = subparsers.add_parser(
        "run", help="execute the notebooks in order and summarise the checks",
        description=_DESCRIPTION, epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_parameter_flags(parser)
    parser.add_argument("--cleanup", choices=("always", "never"), default="never",
                        help="'always': run the cleanup notebook last even after a failure, "
                             "so nothing is left behind (default: never, i.e. only in order)")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="run only these notebooks, by number (01) or name (sns_topic)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for the executed copies (default: runs/<timestamp>/)")
    parser.add_argument("--kernel", metavar="NAME",
                        help="Jupyter kernel to use (default: the one each notebook names)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the remaining notebooks after a failure "
                             "(default: stop and mark them skipped)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress display, only the summary")
    classroom = parser.add_argument_group("class rehearsal (local target)")
    classroom.add_argument("--students", metavar="FILE",
                           help="run the whole lab for every learner of this roster (one id "
                                "per line, or CSV with a 'student' column) on one local cloud; "
                                "writes rehearsal.md and rehearsal.csv")
    classroom.add_argument("--workers", type=int, metavar="N",
                           help="learners at a time (default: the number of CPU cores)")
    parser.set_defaults(func=run_command)

    catch_up = subparsers.add_parser(
        "catch-up", help="bring your resources to the state a step starts from",
        description="Run the notebooks before STEP in batch, with the same parameters as "
                    "`labkit run`, so that notebook STEP can be opened next: after skipping "
                    "notebooks, breaking something, or a restart of the local cloud. Safe to "
                    "repeat: every notebook only creates what is missing.",
        epilog="example:\n  labkit catch-up 05 --student kim     make 00-04's resources, then "
               "open 05", formatter_class=argparse.RawDescriptionHelpFormatter)
    catch_up.add_argument("step", help="the notebook you want to open next, e.g. 05")
    add_parameter_flags(catch_up)
    catch_up.add_argument("--out", metavar="DIR",
                          help="folder for the executed copies (default: runs/<timestamp>/)")
    catch_up.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    catch_up.set_defaults(func=run_command, only=None, kernel=None, keep_going=False,
                          cleanup="never")
    return parser


def run_command(args: argparse.Namespace) -> int:
    """Carry out ``labkit run`` for parsed *args*; return the exit code."""
    console = Console()
    try:
        parameters = parameters_from_args(args)
        root = find_project_root()
        if getattr(args, "step", None) is not None:
            # The workbook's own notebooks, even from a student edition: catching up needs
            # the solutions, not the exercises.
            notebooks = notebooks_before(solution_root(), args.step)
        else:
            notebooks = default_notebooks(root, args.only)
        if args.cleanup == "always":
            notebooks = with_cleanup_last(notebooks, root)
    except LabError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    if not notebooks:
        folder = escape(str(root / "notebooks"))
        console.print(f"[red]error:[/] no NN_name.ipynb notebooks in {folder}", highlight=False)
        return 2

    if args.out:
        out_dir = Path(args.out).resolve()
    else:
        out_dir = new_run_dir(root)
    if getattr(args, "students", None):
        return _rehearse(args, out_dir, console)
    interrupted = False
    try:
        cleanup = [p for p in notebooks if "cleanup" in p.stem] if args.cleanup == "always" else []
        results = run_notebooks([p for p in notebooks if p not in cleanup], parameters, out_dir,
                                kernel_name=args.kernel, progress=not args.quiet,
                                stop_on_failure=not args.keep_going, console=console)
        if cleanup:
            # Even after a failure: what the earlier notebooks made must not be left behind.
            results += run_notebooks(cleanup, parameters, out_dir, kernel_name=args.kernel,
                                     progress=not args.quiet, console=console)
            write_summary_json(out_dir, results, parameters)
    except RunInterrupted as exc:
        results, interrupted = exc.results, True

    print_report(console, results, out_dir)
    if interrupted:
        console.print("[yellow]Interrupted:[/] the run stopped; the remaining notebooks were "
                      "skipped.", highlight=False)
        return 130  # the shell's code for Ctrl-C
    return 1 if any(r.status == "failed" for r in results) else 0


def _rehearse(args: argparse.Namespace, out_dir: Path, console: Console) -> int:
    """``labkit run --students``: hand over to :mod:`labkit.classroom.rehearsal` with the shared flags."""
    from .. import i18n
    from ..classroom.rehearsal import rehearsal_command
    from ..classroom.roster import load_roster

    i18n.set_language(args.lang or "en")

    # The children always report progress: the rehearsal reads it to show the class's.
    flags: list[str] = ["--cleanup", args.cleanup]
    for name in ("region", "webhook_env", "lang", "kernel"):
        value = getattr(args, name, None)
        if value:
            flags += ["--" + name.replace("_", "-"), str(value)]
    if args.only:
        flags += ["--only", *args.only]
    if args.keep_going:
        flags.append("--keep-going")
    try:
        if args.student or args.params:
            raise LabError("--students runs the roster's learners; --student and --params do "
                           "not go with it.", "Leave them out, or run one learner without "
                           "--students.")
        if args.workers is not None and args.workers < 1:
            raise LabError("--workers must be 1 or more.", "Leave it out to use one per core.")
        learners = load_roster(Path(args.students), default_channel=args.slack_channel
                               or "project")
        return rehearsal_command(args, learners, out_dir, flags)
    except LabError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
