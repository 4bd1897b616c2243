"""Executing notebooks with papermill, one after another, into a run folder.

Every notebook runs with the same parameter set, and its executed copy is written to a fresh
run folder (``runs/<YYYYmmdd-HHMMSS>/``, git-ignored), so the whole workbook can be verified in
one command or in CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from rich.console import Console

from ..masking import mask_secrets
from .parameters import check_parameters, notebook_parameters
from .progress import Reporter, reporter_for
from .report import NotebookResult, mask_notebook_file, one_line, read_checks, write_summary_json


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; carries the results so far (the rest are marked skipped)."""

    def __init__(self, results: list[NotebookResult]) -> None:
        super().__init__("run interrupted")
        self.results = results



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
             reporter: Reporter) -> NotebookResult:
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
                parameters=notebook_parameters(path, parameters),
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
        result.error = one_line(exc.ename, exc.evalue)
    except Exception as exc:  # the kernel died or could not start: still a failed notebook
        result.status = "failed"
        result.error = one_line(type(exc).__name__, str(exc))
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


def run_notebooks(notebooks: list[Path], parameters: dict[str, Any], out_dir: Path, *,
                  kernel_name: str | None = None, progress: bool = True,
                  stop_on_failure: bool = True, always_run: Sequence[Path] = (),
                  console: Console | None = None) -> list[NotebookResult]:
    """Execute *notebooks* in order with *parameters*, writing executed copies to *out_dir*.

    Only the parameters a notebook's ``parameters`` cell defines are injected into it. With
    *stop_on_failure* the notebooks after the first failure are marked ``skipped``, except
    those in *always_run* (the cleanup notebook, so nothing is left behind).
    ``summary.json`` in *out_dir* is rewritten after every notebook (see
    :func:`~labkit.batch.report.write_summary_json`). Raises :class:`LabError` if a parameter
    value looks like a webhook URL, and :class:`RunInterrupted` (with the results so far) on
    Ctrl-C.
    """
    check_parameters(parameters)
    console = console or Console()
    # papermill changes the working directory while it runs, so relative paths would move.
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    notebooks = [Path(p).resolve() for p in notebooks]
    always_run = {Path(p).resolve() for p in always_run}
    # Kernels inherit it: nothing renders widgets in a batch run, so labkit prints instead.
    os.environ["LABKIT_BATCH"] = "1"

    results: list[NotebookResult] = []
    total = len(notebooks)
    try:
        with reporter_for(console, progress) as reporter:
            for number, path in enumerate(notebooks, start=1):
                if (stop_on_failure and path not in always_run
                        and any(r.status == "failed" for r in results)):
                    result = NotebookResult(notebook=path.name, status="skipped")
                else:
                    reporter.start_notebook(number, total, path.name)
                    result = _run_one(path, parameters, out_dir, kernel_name, reporter)
                results.append(result)
                reporter.finished(number, total, result)
                write_summary_json(out_dir, results, parameters, finished=False)
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
