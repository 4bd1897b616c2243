"""``labkit run`` and ``labkit catch-up``: the command line of a batch run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..defaults import DEFAULT_LANG, DEFAULT_SLACK_CHANNEL, DEFAULT_WEBHOOK_ENV
from ..errors import LabError
from ..parameters import PARAMETERS
from .notebooks import (default_notebooks, find_project_root, new_run_dir, notebooks_before,
                        notebooks_folder, solutions_folder, with_cleanup_last)
from .parameters import add_parameter_flags, parameters_from_args
from .report import print_report
from .run import RunInterrupted, run_notebooks


_DESCRIPTION = """\
Execute the workbook's notebooks in order with papermill and one parameter set.

Executed copies go to a new folder per run (runs/<YYYYmmdd-HHMMSS>/ under the project
root, git-ignored) together with summary.json. Only the parameters you set (flags or a
YAML file; flags win) are injected, so the notebooks' own defaults apply otherwise.
With --lang ko the Korean notebooks (notebooks/ko/) run instead of the English ones.
The exit code is 1 if any notebook fails, 0 otherwise.
"""


_FILE_ONLY = [p.name for p in PARAMETERS if not p.flag]

_EXAMPLES = f"""\
examples:
  labkit run                                  run every notebook on the local target
  labkit run --only 01 02                     run notebooks 01 and 02 only
  labkit run --target aws --student kim       run against a real AWS account
  labkit run --params lab.yaml --region us-east-1
                                              YAML values, with the region overridden
  labkit run --keep-going -q                  run all even after a failure, no progress
  labkit run --lang ko                        run the Korean notebooks (notebooks/ko/)

A parameter file holds the same names, e.g.:
  target: aws
  student: kim
  webhook_env: {DEFAULT_WEBHOOK_ENV}
and it can set the parameters that have no flag:
  {", ".join(_FILE_ONLY)}

The webhook URL itself is never a parameter (papermill copies parameters into every
executed notebook): export it in a variable and pass the variable's name with
--webhook-env.
"""


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
                    "repeat: every notebook only creates what is missing. With --lang ko it "
                    "runs the Korean notebooks (notebooks/ko/).",
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
        # The notebooks in the language of the run's messages: --lang ko runs notebooks/ko/.
        lang = parameters.get("lang")
        if getattr(args, "step", None) is not None:
            # The solutions labkit carries, even from a handout: catching up needs the
            # solutions, not the exercises, and a handout has no solutions beside it. They are
            # the English notebooks; the lang parameter makes their messages Korean.
            notebooks = notebooks_before(solutions_folder(), args.step, lang)
        else:
            notebooks = default_notebooks(root, args.only, lang)
        if args.cleanup == "always":
            notebooks = with_cleanup_last(notebooks, root, lang)
    except LabError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    if not notebooks:
        folder = escape(str(notebooks_folder(root, lang)))
        console.print(f"[red]error:[/] no NN_name.ipynb notebooks in {folder}", highlight=False)
        return 2

    if args.out:
        out_dir = Path(args.out).resolve()
    else:
        out_dir = new_run_dir(root)
    if getattr(args, "students", None):
        return _rehearse(args, parameters, out_dir, console)
    interrupted = False
    try:
        # Even after a failure: what the earlier notebooks made must not be left behind.
        cleanup = [p for p in notebooks if "cleanup" in p.stem] if args.cleanup == "always" else []
        results = run_notebooks(notebooks, parameters, out_dir, kernel_name=args.kernel,
                                progress=not args.quiet, stop_on_failure=not args.keep_going,
                                always_run=cleanup, console=console)
    except RunInterrupted as exc:
        results, interrupted = exc.results, True

    print_report(console, results, out_dir)
    if interrupted:
        console.print("[yellow]Interrupted:[/] the run stopped; the remaining notebooks were "
                      "skipped.", highlight=False)
        return 130  # the shell's code for Ctrl-C
    return 1 if any(r.status == "failed" for r in results) else 0


def _rehearse(args: argparse.Namespace, parameters: dict[str, Any], out_dir: Path,
              console: Console) -> int:
    """``labkit run --students``: hand over to :mod:`labkit.classroom.rehearsal` with the
    parameters set and the run's own options."""
    from .. import i18n
    from ..classroom.rehearsal import rehearsal_command
    from ..classroom.roster import load_roster

    i18n.set_language(args.lang or DEFAULT_LANG)

    options: list[str] = ["--cleanup", args.cleanup]
    if args.kernel:
        options += ["--kernel", args.kernel]
    if args.only:
        options += ["--only", *args.only]
    if args.keep_going:
        options.append("--keep-going")
    try:
        if args.student or args.params:
            raise LabError("--students runs the roster's learners; --student and --params do "
                           "not go with it.", "Leave them out, or run one learner without "
                           "--students.")
        if args.workers is not None and args.workers < 1:
            raise LabError("--workers must be 1 or more.", "Leave it out to use one per core.")
        shared = dict(parameters)
        # The roster's learners without a channel of their own post to this one.
        channel = shared.pop("slack_channel", DEFAULT_SLACK_CHANNEL)
        learners = load_roster(Path(args.students), default_channel=channel)
        return rehearsal_command(args, learners, out_dir, shared, options)
    except LabError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
