"""The notebook parameters, each declared once: name, default, choices, help, which notebooks.

Every notebook starts with a cell tagged ``parameters`` (papermill's convention) that sets
them; ``labkit run`` replaces their values in a batch run. Everything else that names them is
derived from :data:`PARAMETERS`: the defaults of :class:`labkit.config.LabConfig` and of
:func:`labkit.start`, the flags of ``labkit run``, ``labkit catch-up`` and ``labkit check``, the
keys of a ``--params`` YAML file, and the command line a class rehearsal gives each learner.
A test holds the notebooks' parameters cells to this declaration.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import i18n
from .defaults import (DEFAULT_LANG, DEFAULT_REGION, DEFAULT_SLACK_CHANNEL, DEFAULT_TARGET,
                       DEFAULT_WEBHOOK_ENV)
from .errors import LabError
from .i18n import t

#: Where the lab can run: this machine, or a real AWS account.
TARGETS = ("local", "aws")


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter.

    Its type is its default's (``str``, ``int`` or ``bool``). *only_in* lists the notebooks
    (by number, "06") whose parameters cell sets it; empty: every notebook. *help* describes
    it on the command line; ``{default}`` in it shows the default. *flag*: whether ``labkit
    run`` has a flag for it (the others are set in a ``--params`` file).
    """

    name: str
    default: str | int | bool
    help: str
    only_in: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    flag: bool = True

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def option(self) -> str:
        """Its command-line spelling: ``slack_channel`` -> ``--slack-channel``."""
        return "--" + self.name.replace("_", "-")

    @property
    def description(self) -> str:
        """The help text, with its default filled in."""
        return self.help.format(default=self.default)

    def taken_by(self, notebook: str) -> bool:
        """Whether notebook *notebook* ("06") has this parameter in its parameters cell."""
        return not self.only_in or notebook in self.only_in


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("target", DEFAULT_TARGET, choices=TARGETS,
              help="where the lab runs: this machine or a real AWS account"),
    Parameter("region", DEFAULT_REGION,
              help="AWS region code (notebooks default to {default})"),
    Parameter("student", "",
              help="your name, used in AWS resource names (e.g. kim)"),
    Parameter("slack_channel", DEFAULT_SLACK_CHANNEL, metavar="CHANNEL",
              help="Slack channel to post to (notebooks default to '{default}')"),
    Parameter("webhook_env", DEFAULT_WEBHOOK_ENV, metavar="VAR",
              help="NAME of the environment variable holding the Slack webhook URL "
                   "(notebooks default to {default})"),
    Parameter("expected_account_id", "", metavar="ID",
              help="aws: refuse to run in any other account than this 12-digit id"),
    Parameter("bastion_instance_id", "", only_in=("06",), flag=False,
              help="aws: the instance to watch (empty: your only running one)"),
    Parameter("bastion_launch", False, only_in=("06",), flag=False,
              help="aws: true launches a t3.micro for the lab (billable; notebook 07 "
                   "terminates it)"),
    Parameter("bastion_vcpus", 2, only_in=("06",), metavar="N",
              help="local: the bastion's vCPUs (notebook default {default}, as a t3.micro)"),
    Parameter("bastion_cpu", "measured", only_in=("06",), choices=("measured", "scripted"),
              help="local: 'measured' runs a real load on the bastion and measures it "
                   "(notebook default); 'scripted' publishes the same figures on any "
                   "computer, in the least time"),
    Parameter("alarm_quick_test", False, only_in=("06",),
              help="aws: set the alarm to ALARM by hand instead of waiting for the load "
                   "(a test of its actions)"),
    Parameter("alarm_period", 0, only_in=("06",), flag=False,
              help="the alarm's period in seconds; 0: 10 locally (high resolution), 60 on "
                   "AWS as in the source lab"),
    Parameter("lang", DEFAULT_LANG, choices=tuple(i18n.LANGUAGES),
              help="language of labkit's messages in the notebooks: en (English) or ko "
                   "(Korean)"),
)

#: Every parameter's name, in the order of the notebooks' parameters cells.
NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)
BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
#: The name -> default of every parameter.
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMETERS}
#: The parameters every notebook takes: the ones :class:`labkit.config.LabConfig` holds.
SHARED: tuple[str, ...] = tuple(p.name for p in PARAMETERS if not p.only_in)


def check_known(names: Iterable[str], where: str, also: Iterable[str] = ()) -> None:
    """Raise a LabError if a name in *names* is not a declared parameter (nor in *also*).

    It names the nearest valid one for each ("did you mean 'student'?"), and lists the valid
    ones when nothing is close. *where* says where the names were written (``labkit.start()``,
    a file's path).
    """
    valid = [*NAMES, *also]
    unknown = [name for name in names if name not in valid]
    if not unknown:
        return
    hints, lost = [], False
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        if close:
            hints.append(t("config.unknown.close", name=name, close=close[0]))
        else:
            lost = True
    if lost:
        hints.append(t("config.unknown.known", known=", ".join(valid)))
    raise LabError(t("config.unknown.what", where=where,
                     names=", ".join(repr(name) for name in unknown)), " ".join(hints))


def add_flag(parser: argparse._ActionsContainer, name: str,
             help: str | None = None) -> None:
    """Add parameter *name*'s flag to *parser* (or an argument group), with *help* if given.

    The default is None, so that only what the user set counts: everything else keeps the
    notebook's (or the command's) own default. A ``bool`` parameter is a switch that sets it
    to true.
    """
    parameter = BY_NAME[name]
    options: dict[str, Any] = {"dest": name, "help": help or parameter.description}
    if parameter.type is bool:
        options.update(action="store_const", const=True)
    else:
        if parameter.type is not str:
            options["type"] = parameter.type
        if parameter.choices:
            options["choices"] = parameter.choices
        if parameter.metavar:
            options["metavar"] = parameter.metavar
    parser.add_argument(parameter.option, **options)


def as_flags(parameters: Mapping[str, Any]) -> list[str]:
    """The command-line form of *parameters* (``--region us-east-1 ...``), in declaration order.

    The inverse of the flags :func:`add_flag` adds: unset (None) values are left out, and so is
    a false switch (its default). ValueError for a parameter that has no flag.
    """
    flags: list[str] = []
    for parameter in PARAMETERS:
        value = parameters.get(parameter.name)
        if value is None:
            continue
        if not parameter.flag:
            raise ValueError(f"{parameter.name} has no command-line flag")
        if parameter.type is bool:
            flags += [parameter.option] if value else []
        else:
            flags += [parameter.option, str(value)]
    unknown = set(parameters) - set(NAMES)
    if unknown:
        raise ValueError(f"not notebook parameters: {', '.join(sorted(unknown))}")
    return flags
