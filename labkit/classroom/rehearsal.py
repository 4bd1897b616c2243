"""Class rehearsal: the whole lab for every learner of a roster, on one local cloud.

``labkit run --students FILE`` starts one ``labkit run --student ID`` per learner, at most
*workers* at a time. Each learner's executed notebooks, ``summary.json`` and ``run.log`` (what
the run printed) land in ``<run folder>/<id>/``; the rehearsal follows each learner's
``summary.json``, which the run rewrites after every notebook, to show the class's progress,
and adds ``rehearsal.csv`` and ``rehearsal.md`` (learner × notebook) next to them.

Notebooks that load the machine's CPU (06) take a machine-wide lock in ``labkit run``, so
one learner's load never keeps another learner's alarm up.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import i18n
from ..batch.report import read_summary_json
from ..errors import LabError
from ..local.slack import api as slack_api
from ..parameters import as_flags
from .roster import Learner

ICONS = {"passed": "✅", "failed": "❌", "skipped": "⏭"}


@dataclass
class LearnerRun:
    """One learner's run: where it went, how it ended, and each notebook's outcome."""

    learner: Learner
    folder: Path
    exit_code: int | None = None
    notebooks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def learner_command(learner: Learner, folder: Path, flags: Sequence[str]) -> list[str]:
    """The ``labkit run`` command line for one learner (*flags*: the shared options)."""
    own = as_flags({"student": learner.student, "slack_channel": learner.slack_channel})
    return [sys.executable, "-m", "labkit", "run", *own, "--out", str(folder), *flags]


def run_learner(learner: Learner, folder: Path, flags: Sequence[str],
                on_notebook: Callable[[Learner, str, str], None],
                poll_seconds: float = 0.5) -> LearnerRun:
    """Run the lab for *learner* in a child process; *on_notebook* hears each finished one.

    The outcomes are read from the ``summary.json`` the child rewrites in *folder* after every
    notebook; what it prints goes to ``run.log``, for people.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").unlink(missing_ok=True)  # an earlier run's outcomes do not count
    run = LearnerRun(learner, folder)
    env = dict(os.environ, COLUMNS="200")  # one progress line per notebook in the log
    heard = 0
    with open(folder / "run.log", "w", encoding="utf-8") as log:
        child = subprocess.Popen(learner_command(learner, folder, flags), stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
        while True:
            exit_code = child.poll()  # before reading: once it has ended, the summary is whole
            summary = read_summary_json(folder)
            if summary is not None:
                run.notebooks = summary["notebooks"]
            for entry in run.notebooks[heard:]:
                on_notebook(learner, entry["notebook"], entry["status"])
            heard = max(heard, len(run.notebooks))
            if exit_code is not None:
                break
            time.sleep(poll_seconds)
    run.exit_code = exit_code
    return run


def write_reports(folder: Path, runs: Sequence[LearnerRun]) -> tuple[Path, Path]:
    """``rehearsal.csv`` (one line per learner and notebook) and ``rehearsal.md`` (a table)."""
    notebooks = sorted({nb["notebook"] for run in runs for nb in run.notebooks})
    csv_path, md_path = folder / "rehearsal.csv", folder / "rehearsal.md"
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "slack_channel", "notebook", "status", "seconds", "checks",
                         "error"])
        for run in runs:
            for nb in run.notebooks:
                writer.writerow([run.learner.student, run.learner.slack_channel, nb["notebook"],
                                 nb["status"], nb["seconds"], nb["checks"], nb["error"]])
    head = ["learner", *(name[:2] for name in notebooks), "seconds", "result"]
    lines = ["# Class rehearsal", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        by_name = {nb["notebook"]: nb for nb in run.notebooks}
        icons = [ICONS.get(by_name[n]["status"], "–") if n in by_name else "–"
                 for n in notebooks]
        seconds = sum(nb["seconds"] for nb in run.notebooks)
        lines.append("| " + " | ".join([run.learner.student, *icons, f"{seconds:.0f}",
                                        "passed" if run.passed else "failed"]) + " |")
    failures = [(run, nb) for run in runs for nb in run.notebooks if nb["error"]]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {run.learner.student}, {nb['notebook']}: {nb['error']}"
                  for run, nb in failures]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path


def _slack_rate_limit(state: Any, value: bool | None = None) -> bool:
    """The local Slack's rate-limit switch: read it, or set it to *value*; returns it."""
    if value is None:
        answer = slack_api.call(state.slack_http_url, "GET", slack_api.SETTINGS_PATH)
    else:
        answer = slack_api.call(state.slack_http_url, "POST", slack_api.SETTINGS_PATH,
                                {"rate_limit": value})
    return bool(answer["rate_limit"])


def rehearse(learners: Sequence[Learner], out_dir: Path, flags: Sequence[str], *,
             workers: int, progress: bool = True) -> list[LearnerRun]:
    """Run the lab for every learner, *workers* at a time; returns the runs in roster order."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    from ..local import cloud
    from ..batch.notebooks import default_notebooks, find_project_root

    console = Console()
    state, _, _ = cloud.up()
    per_learner = len(default_notebooks(find_project_root()))
    console.print(i18n.t("classroom.rehearsal.start", count=len(learners), workers=workers),
                  highlight=False)
    shared = [c for c in {l.slack_channel for l in learners}
              if sum(l.slack_channel == c for l in learners) > 1]
    was_limited = _slack_rate_limit(state)
    if shared and was_limited:
        console.print(i18n.t("classroom.rehearsal.rate_limit_off", channel=shared[0],
                             count=sum(l.slack_channel in shared for l in learners)),
                      highlight=False)
        _slack_rate_limit(state, False)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, disable=not progress)
    lock = threading.Lock()
    try:
        with bar:
            task = bar.add_task("notebooks", total=len(learners) * per_learner)

            def heard(learner: Learner, notebook: str, status: str) -> None:
                with lock:
                    bar.advance(task)
                    line = f"{ICONS.get(status, '?')} {learner.student:<20} {notebook}"
                    if progress:
                        bar.console.print(line, markup=False, highlight=False)

            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(run_learner, learner, out_dir / learner.student, flags,
                                       heard) for learner in learners]
                runs = [future.result() for future in futures]
    finally:
        if shared and was_limited:
            _slack_rate_limit(state, True)
    return runs


def rehearsal_command(args: Any, learners: Sequence[Learner], out_dir: Path,
                      parameters: dict[str, Any], options: Sequence[str]) -> int:
    """``labkit run --students``: rehearse, write the reports, return the exit status.

    *parameters*: the notebook parameters every learner gets (not ``student`` nor
    ``slack_channel``, which are each learner's own); *options*: the other ``labkit run``
    options for each learner's run.
    """
    if parameters.get("target", "local") != "local":
        raise LabError("A class rehearsal runs on the local cloud only.",
                       "Leave out --target aws; to see a class's progress on AWS use "
                       "`labkit check --students FILE --target aws`.")
    workers = args.workers or os.cpu_count() or 1
    if "bastion_cpu" not in parameters:
        # A rehearsal is about the class, not the CPU: learners get the same result on any
        # computer and run notebook 06 side by side instead of taking turns for the cores.
        parameters = {**parameters, "bastion_cpu": "scripted"}
        print(i18n.t("classroom.rehearsal.scripted_cpu"))
    flags = [*as_flags(parameters), *options]
    runs = rehearse(learners, out_dir, flags, workers=workers, progress=not args.quiet)
    csv_path, md_path = write_reports(out_dir, runs)
    print(md_path.read_text(encoding="utf-8"))
    print(i18n.t("classroom.rehearsal.report", path=str(md_path)))
    failed = [run.learner.student for run in runs if not run.passed]
    if failed:
        print(i18n.t("classroom.rehearsal.failed", count=len(failed),
                     students=", ".join(failed), folder=str(out_dir)))
        return 1
    print(i18n.t("classroom.rehearsal.passed"))
    return 0
