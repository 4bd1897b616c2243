"""Telling the local Slack to misbehave: fault plans per webhook, from a notebook or the CLI.

In a notebook (target ``local``)::

    lab.slack_faults.add("429", count=2, retry_after=1)   # rate limited twice, then fine
    lab.slack_faults.add("500", always=True)              # down until cleared
    lab.slack_faults.add("delay", delay_ms=1500)          # one slow answer
    lab.slack_faults.add("drop")                          # one connection closed, no answer
    lab.slack_faults.pending()                            # what is still to come
    lab.slack_faults.clear()

From a terminal: ``labkit local fault 429 --count 2 --retry-after 1``, ``labkit local fault
list``, ``labkit local fault clear`` (see ``labkit local fault --help``).

The faults themselves (what each answers, how a plan is used up) are described in
:mod:`labkit.local.slack.fault_plans`; this module is the client side.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .defaults import DEFAULT_SLACK_CHANNEL
from .errors import LabError
from .i18n import t
from .local import cloud
from .local.slack import api as slack_api
from .local.slack.fault_plans import KINDS, Fault, FaultSpecError, parse_fault

if TYPE_CHECKING:
    from .lab import Lab


def fault_request(kind: str, count: int | None = 1, *, always: bool = False,
                  retry_after: int | None = None, delay_ms: int | None = None,
                  channel: str = DEFAULT_SLACK_CHANNEL) -> dict[str, Any]:
    """The JSON body that plans one fault, checked here first; LabError says what to change."""
    body: dict[str, Any] = {"channel": channel.removeprefix("#"), "kind": str(kind)}
    if always:
        body["always"] = True
    elif count is not None:
        body["count"] = count
    if retry_after is not None:
        body["retry_after"] = retry_after
    if delay_ms is not None:
        body["delay_ms"] = delay_ms
    try:
        parse_fault(body)  # checked in the kernel, so its message is in the lab's language
    except FaultSpecError as exc:
        raise LabError(t("faults.cannot_plan.what", error=exc),
                       t("faults.cannot_plan.todo", kinds=", ".join(KINDS),
                         examples=t("faults.examples"))) from None
    return body


class SlackFaults:
    """Fault plans of one local Slack; *channel* is the default webhook they apply to."""

    def __init__(self, slack_http_url: str, channel: str = DEFAULT_SLACK_CHANNEL) -> None:
        self.slack_http_url = slack_http_url
        self.channel = channel.removeprefix("#")

    @classmethod
    def for_lab(cls, lab: Lab) -> SlackFaults:
        """The fault plans of the lab's local Slack, for the lab's channel by default."""
        if not lab.is_local or lab.state is None:
            raise LabError(t("faults.needs_local.what"), t("faults.needs_local.todo"))
        return cls(lab.state.slack_http_url, lab.config.slack_channel)

    @classmethod
    def for_running_cloud(cls, home: Path | None = None,
                          channel: str = DEFAULT_SLACK_CHANNEL) -> SlackFaults:
        """The fault plans of the local cloud running for *home* (the CLI's way in)."""
        found = cloud.find(home)
        if found.state is None:
            raise LabError(((found.note + " ") if found.note else "")
                           + t("faults.not_running.what"), t("faults.not_running.todo"))
        return cls(found.state.slack_http_url, channel)

    def add(self, kind: str, count: int | None = 1, *, always: bool = False,
            retry_after: int | None = None, delay_ms: int | None = None,
            channel: str | None = None) -> list[dict]:
        """Plan a fault for the next *count* requests (every request with ``always=True``) to
        the channel's webhook, after the faults already planned; returns the channel's plan.

        *kind*: ``"429"`` (with ``retry_after`` seconds, default 1), ``"500"``, ``"delay"``
        (``delay_ms``, default 1000) or ``"drop"`` (the connection closes without an answer).
        """
        body = fault_request(kind, count, always=always, retry_after=retry_after,
                             delay_ms=delay_ms, channel=channel or self.channel)
        return self._call("POST", slack_api.FAULTS_PATH, body)["faults"]

    def pending(self, channel: str | None = None, *, every_channel: bool = False) -> list[dict]:
        """The faults still to come for the channel (for all channels with *every_channel*),
        in the order requests will meet them; each has a ``description`` for people."""
        query = "" if every_channel else "?" + urllib.parse.urlencode(
            {"channel": (channel or self.channel).removeprefix("#")})
        faults = self._call("GET", slack_api.FAULTS_PATH + query)["faults"]
        # The local Slack describes them in its own language (English): say it in the lab's.
        return [{**fault, "description": Fault.from_json(fault).describe()} for fault in faults]

    def clear(self, channel: str | None = None, *, every_channel: bool = False) -> int:
        """Forget the channel's planned faults (every channel's with *every_channel*); returns
        how many were still to come."""
        query = "" if every_channel else "?" + urllib.parse.urlencode(
            {"channel": (channel or self.channel).removeprefix("#")})
        return self._call("DELETE", slack_api.FAULTS_PATH + query)["cleared"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            return slack_api.call(self.slack_http_url, method, path, body)
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read()).get("error", "")
            except ValueError:
                error = ""
            if exc.code == 404:
                raise LabError(t("faults.old_slack.what"), t("faults.old_slack.todo")) from None
            # The local Slack's own words (English): faults are checked here before they are
            # sent, so what it still refuses is rare (a channel name it does not accept).
            raise LabError(t("faults.refused.what", error=error or exc.reason),
                           t("faults.examples")) from None
        except OSError as exc:
            raise LabError(t("faults.no_answer.what"), t("faults.not_running.todo")) from exc


# --------------------------------------------------------------------------------------------
# The command line: labkit local fault ...

_FAULT_HELP = {
    "429": "answer 429 rate_limited with Retry-After, as Slack does when you post too fast",
    "500": "answer 500 internal_error, as during a Slack outage",
    "delay": "wait before answering (a slow Slack); the message is still posted",
    "drop": "close the connection without any answer (a network failure)",
}

_EPILOG = """\
examples:
  labkit local fault 429 --count 3 --retry-after 1    rate limited 3 times, then fine
  labkit local fault 500 --always                     down until cleared (dead-letter case)
  labkit local fault delay --ms 1500 --count 2        two slow answers
  labkit local fault drop --channel project           one dropped connection on #project
  labkit local fault list                             what is still to come, every channel
  labkit local fault clear                            back to normal, every channel

Faults queue up per channel (one webhook per channel): each request to the webhook takes the
first fault; when its count is used up, the next one starts.
"""


def register_cli(local_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``labkit local fault ...`` to the ``labkit local`` sub-commands."""
    parser = local_subparsers.add_parser(
        "fault", help="make the local Slack misbehave: 429, 500, delay, dropped connections",
        description="Plan faults on the local Slack's webhooks, to watch the function's "
                    "retries, Lambda's retries and the dead-letter queue at work.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="fault_action", required=True, metavar="KIND|list|clear")

    for kind, help_text in _FAULT_HELP.items():
        sub = actions.add_parser(kind, help=help_text, description=help_text[0].upper()
                                 + help_text[1:] + ".")
        how_long = sub.add_mutually_exclusive_group()
        how_long.add_argument("--count", type=int, default=1, metavar="N",
                              help="for the next N requests (default: 1)")
        how_long.add_argument("--always", action="store_true",
                              help="for every request, until `labkit local fault clear`")
        if kind == "429":
            sub.add_argument("--retry-after", type=int, default=None, metavar="SECONDS",
                             help="the Retry-After header, in whole seconds (default: 1)")
        if kind == "delay":
            sub.add_argument("--ms", type=int, default=None, metavar="MS",
                             help="milliseconds to wait before answering (default: 1000)")
        sub.add_argument("--channel", default=DEFAULT_SLACK_CHANNEL,
                         help="the channel whose webhook misbehaves (default: "
                              f"{DEFAULT_SLACK_CHANNEL})")
        sub.set_defaults(func=cmd_fault, kind=kind)

    listing = actions.add_parser("list", help="the faults still to come")
    listing.add_argument("--channel", default=None, help="one channel only (default: all)")
    listing.add_argument("--json", action="store_true", help="machine-readable")
    listing.set_defaults(func=cmd_fault_list)
    clearing = actions.add_parser("clear", help="forget planned faults: back to normal")
    clearing.add_argument("--channel", default=None, help="one channel only (default: all)")
    clearing.set_defaults(func=cmd_fault_clear)
    return parser


def cmd_fault(args: argparse.Namespace) -> int:
    """``labkit local fault 429|500|delay|drop``: plan one fault, print the channel's plan."""
    faults = SlackFaults.for_running_cloud(channel=args.channel)
    faults.add(args.kind, None if args.always else args.count, always=args.always,
               retry_after=getattr(args, "retry_after", None), delay_ms=getattr(args, "ms", None))
    _print_plan(faults.pending(), f"#{faults.channel}")
    return 0


def cmd_fault_list(args: argparse.Namespace) -> int:
    """``labkit local fault list``: the faults still to come."""
    faults = SlackFaults.for_running_cloud(channel=args.channel or DEFAULT_SLACK_CHANNEL)
    pending = faults.pending(every_channel=args.channel is None)
    if args.json:
        print(json.dumps(pending, indent=2))
    else:
        _print_plan(pending, f"#{faults.channel}" if args.channel else t("faults.any_channel"))
    return 0


def cmd_fault_clear(args: argparse.Namespace) -> int:
    """``labkit local fault clear``: forget planned faults."""
    faults = SlackFaults.for_running_cloud(channel=args.channel or DEFAULT_SLACK_CHANNEL)
    cleared = faults.clear(every_channel=args.channel is None)
    where = f"#{faults.channel}" if args.channel else t("faults.every_channel")
    print(t("faults.cleared", count=cleared, where=where))
    return 0


def _print_plan(pending: list[dict], where: str) -> None:
    """Print the faults still to come (from :meth:`SlackFaults.pending`), or that none are."""
    if not pending:
        print(t("faults.none_planned", where=where))
        return
    print(t("faults.planned"))
    for fault in pending:
        print(f"  #{fault['channel']}: {fault['description']}")
