"""The notebook-facing facade: ``lab = labkit.start(...)`` and what a notebook does with ``lab``.

It hides plumbing (where the cloud is, how to wait, how to show things) and none of the AWS API:
notebooks make their boto3 calls themselves with clients from :meth:`Lab.client`.
"""

from __future__ import annotations

import html
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, TypeVar

from . import consistency, i18n, inventory
from .checks import passed_steps as progress
from .aws import Target, check_account
from .config import LabConfig, check_lang
from .errors import LabError, check_ours, read_tags, tags_as_dict
from .inventory import Leftover
from .slack_faults import SlackFaults
from .local import cloud
from .local.slack import api as slack_api
from .local import state as st
from .local.terminal_env import cloud_env
from .show.pipeline import Table
from .i18n import t
from .names import (LOCAL_ONLY, Names, kms_tag_list, names_for, plan, standard_tags,
                    tag_list)
from .parameters import DEFAULTS, SHARED, as_flags, check_known
from .webhook import SecretUrl, check_webhook_url

# What this kernel's environment held before the variables of the local target replaced it
# (see _point_kernel_at): restored on a switch to aws.
_saved_env: dict[str, str | None] = {}

T = TypeVar("T")


class Lab:
    """One learner's lab on one target. Made by :func:`start`."""

    def __init__(self, config: LabConfig, target: Target, home: Path,
                 state: st.CloudState | None, notes: list[str], step: str = "") -> None:
        self.config = config
        self.step = step
        self.target = target
        self.home = home
        self.state = state
        self.notes = notes
        self.names: Names = names_for(config.prefix)
        self.tags: dict[str, str] = standard_tags(config.student)
        self.identity = target.identity()
        # How until_consistent() waits; tests replace it so that nothing really sleeps.
        self._sleep: Callable[[float], None] = time.sleep
        if target.name == "aws":
            # Before anything is created: the wrong account stops here.
            check_account(self.identity, config.expected_account_id)
            if not config.expected_account_id:
                self.notes.append(t("lab.note.no_expected_account", account=self.account))

    # -- AWS ---------------------------------------------------------------------------------
    @property
    def region(self) -> str:
        return self.config.region

    @property
    def account(self) -> str:
        return self.identity.account

    @property
    def is_local(self) -> bool:
        return self.config.target == "local"

    @property
    def tag_list(self) -> list[dict[str, str]]:
        """The standard tags as ``[{"Key": ..., "Value": ...}]``."""
        return tag_list(self.tags)

    @property
    def kms_tag_list(self) -> list[dict[str, str]]:
        """The standard tags in KMS's shape, ``[{"TagKey": ..., "TagValue": ...}]``."""
        return kms_tag_list(self.tags)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for *service* on the lab's target and region."""
        return self.target.client(service, **kwargs)

    def until_consistent(self, call: Callable[[], T], *, retry_on: tuple[str, ...] = (),
                         retry_if: Callable[[T], bool] | None = None, attempts: int = 10,
                         delay: float = 2.0) -> T:
        """``call()``, retried while AWS has not caught up with a change made a moment ago.

        *retry_on*: error codes to retry, optionally with a piece of the message
        (``"InvalidParameterValueException: cannot be assumed"``). *retry_if*: a test of the
        result that says "not yet" (for an error returned in an invocation's payload). At most
        *attempts* calls, *delay* seconds apart, one short line per wait. On the local target
        the call runs once: the local cloud is consistent at once.
        """
        if self.is_local:
            return call()
        return consistency.until_consistent(call, retry_on=retry_on, retry_if=retry_if,
                                            attempts=attempts, delay=delay, sleep=self._sleep)

    def ensure_ours(self, kind: str, name: str, tags: Any) -> None:
        """Raise a LabError unless the existing resource carries this learner's lab tags.

        *kind* names it for the learner ("IAM role"); *tags* are its tags in any AWS shape
        (dict, ``[{"Key", "Value"}]``, KMS's ``[{"TagKey", "TagValue"}]``, or None), or a
        function that reads them (``lambda: lam.list_tags(Resource=arn)["Tags"]``): then a
        read AWS denies becomes a LabError naming the permission to add (``lambda:ListTags``).
        Call it when a create call finds the name taken, before changing the resource.
        """
        label = inventory.kind_label(kind)
        if callable(tags):
            tags = read_tags(kind, name, tags, label)
        check_ours(label, name, tags, self.tags)

    def is_ours(self, tags: Any) -> bool:
        """Whether *tags* (in any AWS shape, as for :meth:`ensure_ours`) are this learner's lab
        tags: for a cleanup that must leave everyone else's resources alone."""
        found = tags_as_dict(tags)
        return all(found.get(key) == value for key, value in self.tags.items())

    def inventory(self) -> list[Leftover]:
        """Everything still carrying this learner's lab tags on the target, each confirmed with
        its own service (see :mod:`labkit.inventory`); ``labkit.inventory_table`` shows it."""
        return inventory.inventory(self)

    def export_template(self) -> str:
        """The CloudFormation template (YAML) of the pipeline notebooks 02-06 built, read from
        the live resources (notebook 09; ``labkit export cloudformation`` on the command line).

        Names carry ``${NamePrefix}``; the encrypted webhook, the instance and the function's
        code location are parameters: the text holds no secret and nothing of the account.
        """
        # Loaded here: only notebook 09 and the export command need the template's code.
        from .stack.export import export_template

        return export_template(self)

    # -- Slack -------------------------------------------------------------------------------
    def webhook(self, channel: str | None = None) -> SecretUrl:
        """The channel's incoming-webhook URL, masked in every output.

        local: the local Slack makes one for the channel (the same one every time); *channel*
        (default: the lab's) picks another channel.
        aws: read from the environment variable named by ``webhook_env``, and checked.
        """
        if self.is_local:
            answer = self._slack_api("POST", slack_api.WEBHOOKS_PATH,
                                     {"channel": channel or self.config.slack_channel})
            return SecretUrl(self.state.slack_https_url + answer["path"])  # type: ignore[union-attr]
        name = self.config.webhook_env
        value = os.environ.get(name, "")
        if not value:
            raise LabError(t("lab.webhook_env_unset.what", name=name),
                           t("lab.webhook_env_unset.todo", name=name))
        return SecretUrl(check_webhook_url(value, allow_local=False))

    def slack_messages(self, after: int = 0, channel: str | None = None) -> list[dict]:
        """Messages the local Slack received in the lab's channel (id greater than *after*)."""
        self._need_local(t("lab.local_only.reading"))
        query = urllib.parse.urlencode({"channel": channel or self.config.slack_channel,
                                        "after": after})
        return self._slack_api("GET", f"{slack_api.MESSAGES_PATH}?{query}")["messages"]

    def channel_page_url(self, channel: str | None = None) -> str:
        """The address of the local Slack's page for the lab's channel (or *channel*).

        Open it in a browser tab: it shows the channel's messages as Slack does, and new ones
        appear there as they arrive. Plain http, so the browser needs no certificate.
        """
        from .local.slack.channel_page import page_url

        self._need_local(t("lab.local_only.reading"))
        return page_url(self.state.slack_http_url,  # type: ignore[union-attr]
                        channel or self.config.slack_channel)

    def last_slack_message_id(self) -> int:
        """The id of the newest message so far (0 if none): wait for ones after it."""
        messages = self.slack_messages()
        return messages[-1]["id"] if messages else 0

    def wait_for_slack_message(self, after: int = 0, timeout: float = 20.0,
                               match: Callable[[dict], bool] | None = None,
                               channel: str | None = None) -> dict:
        """The first message after id *after* (that *match* accepts), waiting up to *timeout* s."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.slack_messages(after, channel):
                if match is None or match(message):
                    return message
            if time.monotonic() >= deadline:
                raise LabError(t("lab.no_message.what",
                                 channel=channel or self.config.slack_channel, seconds=timeout),
                               t("lab.no_message.todo"))
            time.sleep(0.2)

    def _slack_api(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            return slack_api.call(self.state.slack_http_url, method, path,  # type: ignore[union-attr]
                                  body)
        except OSError as exc:
            raise LabError(t("lab.slack_down.what"), t("lab.slack_down.todo")) from exc

    @property
    def slack_faults(self) -> SlackFaults:
        """Fault plans of the local Slack (429, 500, delay, drop), for the lab's channel by
        default: see :mod:`labkit.slack_faults`. Target local only."""
        return SlackFaults.for_lab(self)

    def _need_local(self, what: str) -> None:
        if not self.is_local:
            raise LabError(t("lab.local_only.what", what=what), t("lab.local_only.todo"))

    # -- progress and checks -----------------------------------------------------------------
    def catch_up(self, step: str | None = None) -> None:
        """Run the notebooks before *step* (default: this notebook's) in batch, with this lab's
        parameters, so this notebook can go on from a learner's broken or missing state."""
        import subprocess
        import sys

        step = step or self.step
        if not step:
            raise LabError(t("lab.catch_up.no_step.what"), t("lab.catch_up.no_step.todo"))
        # Every parameter this lab holds; the empty ones (no student, no account) left out.
        parameters = {name: getattr(self.config, name) or None for name in SHARED}
        command = [sys.executable, "-m", "labkit", "catch-up", step, "-q",
                   *as_flags(parameters)]
        done = subprocess.run(command, capture_output=True, text=True)
        print(done.stdout[-3000:])
        if done.returncode != 0:
            raise LabError(t("lab.catch_up.failed.what", step=step),
                           t("lab.catch_up.failed.todo"))


    def check(self, step: str, **facts: Any) -> None:
        """Run the step's checks, show ✅/❌ per expectation, and raise if any failed."""
        # Loaded at the first check, not with labkit: `import labkit` stays quick.
        from .checks.report import show_and_raise
        from .checks.steps import run_checks

        report = run_checks(self, step, **facts)
        if report.ok and self.state is not None:
            progress.mark_done(self.home, self.config.student, self.state.cloud_id, step)
        show_and_raise(report)

    # -- display -----------------------------------------------------------------------------
    def plan(self) -> Table:
        """What the lab will create, notebook by notebook, with this learner's names."""
        rows = [(nb, what, name) for nb, what, name in plan(self.names, self.account, self.region)
                if self.is_local or nb not in LOCAL_ONLY]
        rows[0] = (rows[0][0], rows[0][1], "#" + self.config.slack_channel)
        return Table((t("lab.plan.notebook"), t("lab.plan.creates"), t("lab.plan.name")), rows)

    def _creates_here(self) -> list[tuple[str, str]]:
        """(what, name) for everything this notebook (``step``) creates, from :func:`plan`."""
        rows = []
        for number, what, name in plan(self.names, self.account, self.region):
            if number != self.step or (number in LOCAL_ONLY and not self.is_local):
                continue
            if number == "01":
                name = "#" + self.config.slack_channel
            if name == self.names.bastion and not self.is_local:
                what = t("lab.creates.bastion_aws")
            rows.append((what, name))
        return rows

    def _cost(self) -> str:
        """What this notebook may cost on the target, in one line.

        Kept qualitative on purpose: prices vary by region and change; the checklist in docs/
        points to the pricing pages. Only the KMS key and a launched instance cost money; the
        rest stays, at the lab's size, within the monthly amounts AWS does not charge for.
        """
        if self.is_local:
            return t("lab.cost.local")
        names = [name for _, name in self._creates_here()]
        billable = []
        if self.names.kms_alias in names:
            billable.append(t("lab.cost.kms"))
        if self.names.bastion in names:
            billable.append(t("lab.cost.bastion"))
        if self.step == "09":
            billable.append(t("lab.cost.stack_kms"))
        if billable:
            return t("lab.cost.billable", billable="; ".join(billable), free=t("lab.cost.free"))
        if names:
            return t("lab.cost.nothing_billable", free=t("lab.cost.free"))
        return t("lab.cost.nothing")

    def summary(self) -> dict[str, str]:
        """The rows shown at the top of every notebook: where the lab runs, as whom, and what
        this notebook will create there (values may span lines). Labels and values are in the
        current language."""
        account = self.account
        if not self.is_local and self.config.expected_account_id:
            account = t("lab.summary.account_expected", account=account)
        rows = {
            t("lab.summary.target"): self.config.target,
            t("lab.summary.region"): self.region,
            t("lab.summary.account"): account,
            t("lab.summary.caller"): self.identity.arn,
            t("lab.summary.student"): self.config.student or t("lab.summary.no_student"),
        }
        if self.state is not None:
            rows[t("lab.summary.local_cloud")] = t(
                "lab.summary.local_cloud_value", endpoint=self.state.endpoint_url,
                pid=self.state.pid, seconds=self.state.uptime_seconds)
        if self.step:
            creates = self._creates_here()
            rows[t("lab.summary.creates")] = ("\n".join(f"{what}: {name}" for what, name in creates)
                                              or t("lab.summary.creates_nothing"))
            rows[t("lab.summary.cost")] = self._cost()
        return rows

    def __repr__(self) -> str:
        lines = [f"{key:>12}: " + value.replace("\n", "\n" + " " * 14)
                 for key, value in self.summary().items()]
        return "\n".join(lines + [f"⚠️ {note}" for note in self.notes])

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:right;vertical-align:top'>"
                       f"{html.escape(k)}</th><td style='text-align:left'>"
                       + "<br>".join(f"<code>{html.escape(line)}</code>"
                                     for line in v.split("\n")) + "</td></tr>"
                       for k, v in self.summary().items())
        notes = "".join(f"<div style='background:#fff4e5;border-left:4px solid #ecb22e;"
                        f"padding:4px 8px;margin-top:6px'>⚠️ {html.escape(n)}</div>"
                        for n in self.notes)
        return f"<table>{rows}</table>{notes}"


def _point_kernel_at(state: st.CloudState | None, region: str) -> None:
    """Set (local) or restore (aws) the variables that aim SDKs and CLIs at the local cloud."""
    if state is None:
        for key, value in _saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _saved_env.clear()
        return
    for key, value in cloud_env(state, region).items():
        _saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def start(target: str = DEFAULTS["target"], region: str = DEFAULTS["region"],
          student: str = DEFAULTS["student"], slack_channel: str = DEFAULTS["slack_channel"],
          webhook_env: str = DEFAULTS["webhook_env"], step: str = "",
          expected_account_id: str = DEFAULTS["expected_account_id"],
          lang: str = DEFAULTS["lang"], **notebook_parameters: Any) -> Lab:
    """Check the parameters, reach the target (starting the local cloud if needed), return a Lab.

    The keywords are the parameters every notebook takes (see :mod:`labkit.parameters`, where
    their defaults are declared). *step* is the calling notebook's number ("03"): the summary
    lists what it creates, and ``lab.catch_up()`` runs the notebooks before it.
    *expected_account_id* (target aws): refuse any other account; ignored on the local target.
    *lang* ('en' or 'ko') is the language of every message labkit shows from now on.

    A notebook's own parameters (``bastion_cpu``, ...) are accepted too and left to the
    notebook, so it can pass its whole parameters cell; a name that is no notebook parameter
    at all is a LabError that names the nearest one.
    """
    from .show.tracebacks import install_error_display

    install_error_display()
    # Before any other check, so that a mistake in the other parameters is already explained
    # in the learner's language.
    lang = i18n.set_language(check_lang(lang))
    check_known(notebook_parameters, "labkit.start()", also=["step"])
    config = LabConfig(target=target, region=region, student=student,
                       slack_channel=slack_channel, webhook_env=webhook_env,
                       expected_account_id=expected_account_id, lang=lang)
    home = st.labkit_home()
    notes: list[str] = []
    state = None
    if config.target == "local":
        state, started, note = cloud.up(home)
        if note:
            notes.append(note)
        if started:
            notes.append(t("lab.note.started", pid=state.pid))
        elif state.labkit_dir != st.this_labkit_dir():
            notes.append(t("lab.note.other_copy"))
        lost = progress.start_on(home, config.student, state.cloud_id)
        if lost:
            notes.append(t("lab.note.restarted", steps=", ".join(lost)))
        _point_kernel_at(state, config.region)
        lab_target = Target("local", config.region, state.endpoint_url)
    else:
        _point_kernel_at(None, config.region)
        lab_target = Target("aws", config.region)
    return Lab(config, lab_target, home, state, notes, step)
