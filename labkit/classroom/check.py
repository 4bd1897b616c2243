"""``labkit check``: where each learner is, read from the target without changing anything.

It runs the same step checks as the notebooks' check cells (:mod:`labkit.checks.steps`) for one
learner or a whole roster, shows a learner × step table and writes CSV and Markdown reports.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence

from .. import i18n
from ..aws import Target
from ..checks.report import CheckReport
from ..config import LabConfig
from ..defaults import DEFAULT_LANG
from ..errors import LabError
from ..lab import Lab
from ..local import cloud
from ..local import state as st
from ..parameters import DEFAULTS, add_flag
from .roster import Learner, load_roster
from ..checks.steps import STEPS, run_checks

DEFAULT_STEPS = ("00", "01", "02", "03", "04", "05", "06")
#: The notebook parameters every learner of a ``labkit check`` shares (set by its flags).
CLASS_PARAMETERS = ("target", "region", "webhook_env", "expected_account_id")
ICONS = {"passed": "✅", "failed": "❌", "none": "–"}


def parse_steps(text: str) -> list[str]:
    """``"00-03,06"`` → ``["00", "01", "02", "03", "06"]``; every step must exist."""
    steps: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise LabError(i18n.t("classroom.steps.bad", steps=text),
                           i18n.t("classroom.steps.bad.hint")) from None
        for number in range(first, last + 1):
            step = f"{number:02d}"
            if step not in STEPS:
                raise LabError(i18n.t("check.no_such_step", step=step),
                               i18n.t("check.no_such_step.hint", steps=", ".join(STEPS)))
            if step not in steps:
                steps.append(step)
    if not steps:
        raise LabError(i18n.t("classroom.steps.bad", steps=text),
                       i18n.t("classroom.steps.bad.hint"))
    return steps


@dataclass
class LearnerProgress:
    """The checks of one learner, step by step."""

    student: str
    reports: dict[str, CheckReport] = field(default_factory=dict)
    error: str = ""

    def status(self, step: str) -> str:
        """``passed``, ``failed`` or ``none`` (nothing this target can show for the step)."""
        report = self.reports.get(step)
        if report is None or not report.items:
            return "failed" if self.error else "none"
        return "passed" if report.ok else "failed"

    def done_up_to(self, steps: Sequence[str]) -> str:
        """The last step of the unbroken run of passed steps from the first ('' if none)."""
        last = ""
        for step in steps:
            if self.status(step) == "failed":
                break
            if self.status(step) == "passed":
                last = step
        return last


def observer_lab(config: LabConfig) -> Lab:
    """A Lab that only reads: it never starts a local cloud nor records progress."""
    home = st.labkit_home()
    if config.target == "local":
        found = cloud.find(home)
        if found.state is None:
            raise LabError(i18n.t("classroom.no_local_cloud"),
                           i18n.t("classroom.no_local_cloud.hint"))
        return Lab(config, Target("local", config.region, found.state.endpoint_url), home,
                   found.state, [])
    return Lab(config, Target("aws", config.region), home, None, [])


def check_learner(config: LabConfig, steps: Sequence[str]) -> LearnerProgress:
    """Run *steps*' checks for the learner of *config*."""
    progress = LearnerProgress(config.student)
    try:
        lab = observer_lab(config)
    except LabError as exc:
        progress.error = str(exc)
        return progress
    for step in steps:
        progress.reports[step] = run_checks(lab, step)
    return progress


def table_rows(results: Sequence[LearnerProgress], steps: Sequence[str]) -> list[list[str]]:
    """One row per learner: id, one icon per step, the step they are done up to."""
    return [[r.student or "(none)"] + [ICONS[r.status(s)] for s in steps]
            + [r.done_up_to(steps) or "–"] for r in results]


def write_csv(path: Path, results: Sequence[LearnerProgress], steps: Sequence[str]) -> None:
    """One line per learner and step: status, counts, and the first failed check with its hint."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "step", "status", "passed", "failed", "first_failure",
                         "hint"])
        for result in results:
            for step in steps:
                report = result.reports.get(step) or CheckReport(step)
                first = next((i for i in report.items if not i.ok), None)
                writer.writerow([result.student, step, result.status(step), report.passed,
                                 report.failed, first.text if first else result.error,
                                 first.hint if first else ""])


def markdown(results: Sequence[LearnerProgress], steps: Sequence[str], title: str) -> str:
    """The table plus, per learner, the checks that failed and what to do about them."""
    head = [i18n.t("classroom.column.student"), *steps, i18n.t("classroom.column.done_up_to")]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results, steps)]
    for result in results:
        failures = [(step, item) for step in steps
                    for item in (result.reports.get(step) or CheckReport(step)).items
                    if not item.ok]
        if not failures and not result.error:
            continue
        lines += ["", f"## {result.student or '(none)'}", ""]
        if result.error:
            lines.append(f"- {result.error}")
        lines += [f"- {step} ❌ {item.text}" + (f" → {item.hint}" if item.hint else "")
                  for step, item in failures]
    return "\n".join(lines) + "\n"


def _print_table(results: Sequence[LearnerProgress], steps: Sequence[str], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column(i18n.t("classroom.column.student"))
    for step in steps:
        table.add_column(step, justify="center")
    table.add_column(i18n.t("classroom.column.done_up_to"), justify="center")
    for row in table_rows(results, steps):
        table.add_row(*row)
    Console().print(table)


def check_command(args: argparse.Namespace) -> int:
    """Carry out ``labkit check``; 0 when every required step passed for every learner."""
    i18n.set_language(args.lang or DEFAULT_LANG)
    steps = parse_steps(args.steps)
    required = parse_steps(args.required) if args.required else steps
    channel = args.slack_channel or DEFAULTS["slack_channel"]
    # The parameters the learners share: what was given, the rest as in the notebooks.
    given = {name: getattr(args, name) for name in CLASS_PARAMETERS
             if getattr(args, name) is not None}
    if args.students:
        learners = load_roster(Path(args.students), default_channel=channel)
    else:
        learners = [Learner(args.student or "", channel)]
    from rich.progress import Progress

    results = []
    # A class takes a while (about half a second a learner): show who is being checked.
    with Progress(transient=True) as shown:
        task = shown.add_task("", total=len(learners))
        for learner in learners:
            shown.update(task, description=learner.student or "(none)")
            config = LabConfig(**given, student=learner.student,
                               slack_channel=learner.slack_channel, lang=i18n.language())
            results.append(check_learner(config, steps))
            shown.advance(task)
    title = i18n.t("classroom.check.title", target=args.target or DEFAULTS["target"],
                   time=datetime.now().strftime("%Y-%m-%d %H:%M"))
    _print_table(results, steps, title)
    if not args.no_report:
        from ..batch.notebooks import find_project_root

        out = Path(args.out) if args.out else find_project_root() / "runs" / (
            "check-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "check.csv", results, steps)
        (out / "check.md").write_text(markdown(results, steps, title), encoding="utf-8")
        print(i18n.t("classroom.check.reports", folder=str(out)))
    failing = [r.student or "(none)" for r in results
               if any(r.status(s) == "failed" for s in required)]
    if failing:
        print(i18n.t("classroom.check.failing", count=len(failing), students=", ".join(failing),
                     steps=", ".join(required)))
        return 1
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``labkit check`` to the command line."""
    parser = subparsers.add_parser(
        "check", help="show each learner's progress, step by step (changes nothing)",
        description="Run the notebooks' check cells from the command line, for one learner or "
                    "a class roster, reading the target only: nothing is created or changed. "
                    "Prints a learner × step table (✅ passed, ❌ failed, – nothing to "
                    "check on this target) and writes check.csv and check.md.",
        epilog="examples:\n"
               "  labkit check --student kim                  one learner, steps 00-06\n"
               "  labkit check --students class.csv --required 00-03\n"
               "  labkit check --students class.csv --steps 07   after the cleanup notebook\n\n"
               "A roster is one student id per line, or a CSV file with a 'student' column\n"
               "(and optionally 'slack_channel'). Exit status: 0 when every required step\n"
               "passed for everyone, 1 otherwise, 2 on a usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    who = parser.add_mutually_exclusive_group()
    add_flag(who, "student", help="the learner's id (default: none, as in the notebooks)")
    who.add_argument("--students", metavar="FILE", help="a class roster (see below)")
    parser.add_argument("--steps", default=f"{DEFAULT_STEPS[0]}-{DEFAULT_STEPS[-1]}",
                        help="steps to check, e.g. 00-06 (default), 07 after the cleanup, or "
                             "08")
    parser.add_argument("--required", metavar="STEPS",
                        help="steps that must pass for exit status 0 (default: all checked)")
    # The notebook parameters it takes, with what each means here.
    add_flag(parser, "target", help=f"default: {DEFAULTS['target']}")
    add_flag(parser, "region", help=f"default: {DEFAULTS['region']}")
    add_flag(parser, "slack_channel", help="the channel of learners without one in the roster "
                                          f"(default: {DEFAULTS['slack_channel']})")
    add_flag(parser, "webhook_env", help="aws: NAME of the variable with the webhook URL, to "
                                        "compare the decrypted one with (optional)")
    add_flag(parser, "expected_account_id", help="aws: refuse any other account")
    add_flag(parser, "lang", help=f"{DEFAULTS['lang']} (default) or "
                                  + " or ".join(code for code in i18n.LANGUAGES
                                                if code != DEFAULTS["lang"]))
    parser.add_argument("--out", metavar="DIR",
                        help="folder for check.csv and check.md (default: runs/check-<time>/)")
    parser.add_argument("--no-report", action="store_true", help="print the table only")
    parser.set_defaults(func=check_command)
