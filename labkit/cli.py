"""The labkit command: run the lab in batch, manage the local cloud, and run a class.

    labkit run                 run every notebook in order (papermill), print a summary
    labkit local up            start the local cloud (notebooks also start it when needed)
    labkit local status        what it is, where it listens, what it holds  (--json for scripts)
    labkit local down          stop it (everything it held is gone)
    labkit local fault ...     make the local Slack misbehave: 429, 500, delay, drop
    labkit local env           variables for a terminal: eval "$(labkit local env)"
    labkit check               each learner's progress, step by step (changes nothing)
    labkit student-edition     the notebooks with the exercises blanked out, for learners
    labkit diagram --out F     the pipeline picture as an SVG or PNG file, for slides
    labkit export cloudformation   the pipeline you built, as a CloudFormation template
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .defaults import DEFAULT_SLACK_CHANNEL
from .errors import explain
from .local import cloud
from .local import state as st
from .local.slack.channel_page import page_url
from .masking import mask_secrets


def _fmt_uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def cmd_up(args: argparse.Namespace) -> int:
    state, started, note = cloud.up(rate_limit=not args.no_rate_limit)
    if note:
        print(note)
    verb = "Started" if started else "Already running:"
    print(f"{verb} local cloud {state.cloud_id} (pid {state.pid})\n"
          f"  AWS endpoint  {state.endpoint_url}\n"
          f"  local Slack   {state.slack_https_url} (https), {state.slack_http_url} (http)\n"
          f"  state folder  {st.labkit_home()}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    print(cloud.down())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    found = cloud.find()
    if found.state is None:
        if args.json:
            print(json.dumps({"running": False, "note": found.note}))
        else:
            print((found.note + "\n" if found.note else "") +
                  "No local cloud is running. Start one with `labkit local up`.")
        return 1
    status = cloud.fetch_status(found.state)
    if args.json:
        status["running"] = True
        # Scripts need the clear local URL to post to it; it only works on this machine.
        from .local.terminal_env import local_webhook_url

        status["slack_webhook_url"] = local_webhook_url(found.state, args.channel)
        status["channel_page_url"] = page_url(found.state.slack_http_url, args.channel)
        print(json.dumps(status, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"local cloud {status['cloud_id']}", show_header=False)
    table.add_row("pid", str(status["pid"]))
    table.add_row("uptime", _fmt_uptime(status["uptime_seconds"]))
    table.add_row("AWS endpoint", status["endpoint_url"])
    table.add_row("local Slack", f"https :{status['slack_https_port']}  "
                                 f"http :{status['slack_http_port']}")
    table.add_row("CA certificate", status["ca_cert"])
    holds = ", ".join(f"{n} {k}" for k, n in status["holds"].items() if n) or "nothing yet"
    table.add_row("holds", holds)
    hooks = ", ".join("#" + w["channel"] for w in status["slack"]["webhooks"]) or "none"
    table.add_row("Slack", f"{status['slack']['messages']} messages; webhooks: {hooks}")
    # Where a person reads the channel: messages appear there live, as Slack shows them.
    table.add_row("channel page", page_url(found.state.slack_http_url, args.channel))
    Console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = sub.add_parser("local", help="start, inspect or stop the local cloud",
                           description="The local cloud: moto and a local Slack on 127.0.0.1. "
                           "Its state folder is $LABKIT_HOME (default ~/.labkit).")
    local_sub = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = local_sub.add_parser("up", help="start it unless it runs already")
    up.add_argument("--no-rate-limit", action="store_true",
                    help="let the local Slack accept bursts beyond one message a second")
    up.set_defaults(func=cmd_up)
    down = local_sub.add_parser("down", help="stop it; everything it held is gone")
    down.set_defaults(func=cmd_down)
    status = local_sub.add_parser("status", help="pid, ports, uptime and what it holds")
    status.add_argument("--json", action="store_true",
                        help="machine-readable, with the AWS endpoint and the local webhook URL")
    status.add_argument("--channel", default=DEFAULT_SLACK_CHANNEL,
                        help="channel whose page status shows, and whose local webhook URL "
                             f"--json reports (default: {DEFAULT_SLACK_CHANNEL})")
    status.set_defaults(func=cmd_status)
    from . import slack_faults as faults

    faults.register_cli(local_sub)
    from .local import terminal_env

    terminal_env.register_cli(local_sub)

    from .classroom import check as class_check
    from .batch import command as batch_command
    from .classroom import student_edition
    from .show import diagram_command
    from .stack import command as export_command

    batch_command.register_cli(sub)
    class_check.register_cli(sub)
    student_edition.register_cli(sub)
    diagram_command.register_cli(sub)
    export_command.register_cli(sub)
    return parser


def skip_the_iri_grammar() -> None:
    """Keep jsonschema from building its IRI grammar in this process.

    The commands that run notebooks load nbformat, which loads jsonschema, whose check of the
    "iri" format builds a grammar for most of a second when rfc3987-syntax is installed
    (JupyterLab's server needs it). No notebook schema uses that format.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # None: `import` raises ImportError


def main(argv: Sequence[str] | None = None) -> int:
    skip_the_iri_grammar()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - turn known errors into two readable lines
        explained = explain(exc)
        if explained is None:
            raise
        what, todo = explained
        print(mask_secrets(f"error: {what}" + (f"\n→ {todo}" if todo else "")), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
