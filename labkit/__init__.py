"""labkit: the helper package of the CloudWatch -> SNS -> Lambda -> Slack lab workbook.

A notebook needs little of it, and takes all of it from here (``import labkit`` or
``from labkit import …``, never a module inside)::

    import labkit
    lab = labkit.start(target="local")      # or "aws"; starts the local cloud when needed
    sns = lab.client("sns")                  # boto3 client for the target
    sns.create_topic(Name=lab.names.topic, Tags=lab.tag_list)
    lab.check("02", ...)                     # ✅/❌ per expectation; raises when wrong

Every public name, with the notebooks that use it (what ``lab`` does: see :class:`Lab`):

    start                 checks the parameters, reaches the target, returns the Lab (00-09)
    Lab                   what start returns: clients, names, tags, the Slack channel, checks
    LabError              what labkit raises: what went wrong and what to do about it (08)
                          (LabError.from_messages(key): a notebook's own, in the lab's language)
    SecretUrl             a webhook URL that prints masked, as lab.webhook() returns it
    show_pipeline         the pipeline picture, with the notebook's part highlighted (00-09)
                          (show_pipeline(..., lab=lab): in the learner's names and language)
    preview               a Slack-like rendering of a message's payload (01, 05, 06, 09)
    mask_secrets          a text with webhook URLs and secrets masked, to print it (05)
    first_message         the text notebook 01 posts to the channel (01)
    mission_slack_test    the source lab's Lambda test event, an alarm in an SNS record (03-05)
    sample_alarm          that event's alarm alone, to publish to a topic (05, 08, 09)
    SOURCE, HANDLER       the Lambda function's file, to zip, and its handler (03, 08)
    request_id            Lambda's request id of an invoke's answer (05)
    invocations           the log lines of given invocations, from a log group's events (05)
    ensure_local_bastion  local: the bastion instance in the local cloud, made once (06)
    LocalBastion          local: that instance's machine, its vCPUs, load and CPU agent (06, 09)
    launch_bastion        aws: launch a t3.micro for the lab, billable while it runs (06)
    choose_bastion        aws: the instance the alarm watches, among yours (06)
    run_stress_over_ssm   aws: run the CPU load on the instance over SSM Run Command (06)
    stress_command        aws: the command to run by hand where SSM cannot (06)
    wait_for_command      aws: wait until that SSM command has ended (06)
    watch_alarm           wait until the alarm is in a state, showing it live (06, 09)
    transitions           the state changes in an alarm's history (06)
    plot_alarm            the CPU, the threshold and the state changes as a figure (06)
    inventory_table       what lab.inventory() found, as a table (07, 09)
    flaky_names           the names of notebook 08's own pipeline (08)
    lint_template         cfn-lint's findings on a CloudFormation template (09)
    PipelineStack         the pipeline's template deployed as a stack: events, delete (09)
    delete_leftover_stacks  every stack carrying your tags, deleted, and the code bucket (07)
                          (lab.export_template(): the template, read from your pipeline)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .show.pipeline import show_pipeline
from .errors import LabError
from .lab import Lab, start
from .masking import mask_secrets
from .webhook import SecretUrl

if TYPE_CHECKING:  # what the names in _LAZY are, for editors and type checkers
    from .bastion import (LocalBastion, choose_bastion, ensure_local_bastion, launch_bastion,
                          run_stress_over_ssm, stress_command, wait_for_command)
    from .events import first_message, mission_slack_test, sample_alarm
    from .function_log import invocations, request_id
    from .functions import HANDLER, SOURCE
    from .inventory import inventory_table
    from .names import flaky_names
    from .show.alarm_watch import watch_alarm
    from .show.plots import plot_alarm, transitions
    from .stack.deploy import PipelineStack, delete_leftover_stacks
    from .stack.lint import lint_template

__version__ = "0.1.0"

# Names loaded on first use (PEP 562), so that `import labkit` does not load what only one
# notebook needs (the bastion's machinery, the plots): name -> the module defining it.
_LAZY = {
    "first_message": ".events", "mission_slack_test": ".events", "sample_alarm": ".events",
    "HANDLER": ".functions", "SOURCE": ".functions",
    "invocations": ".function_log", "request_id": ".function_log",
    "LocalBastion": ".bastion", "choose_bastion": ".bastion",
    "ensure_local_bastion": ".bastion", "launch_bastion": ".bastion",
    "run_stress_over_ssm": ".bastion", "stress_command": ".bastion",
    "wait_for_command": ".bastion",
    "watch_alarm": ".show.alarm_watch",
    "plot_alarm": ".show.plots", "transitions": ".show.plots",
    "inventory_table": ".inventory",
    "flaky_names": ".names",
    "lint_template": ".stack.lint", "PipelineStack": ".stack.deploy",
    "delete_leftover_stacks": ".stack.deploy",
}

__all__ = ["start", "Lab", "LabError", "SecretUrl", "show_pipeline", "preview", "mask_secrets",
           "first_message", "mission_slack_test", "sample_alarm", "SOURCE", "HANDLER",
           "request_id", "invocations", "ensure_local_bastion", "LocalBastion", "launch_bastion",
           "choose_bastion", "run_stress_over_ssm", "stress_command", "wait_for_command",
           "watch_alarm", "transitions", "plot_alarm", "inventory_table", "flaky_names",
           "lint_template", "PipelineStack", "delete_leftover_stacks"]


def preview(payload: dict):  # noqa: ANN201 (a display object)
    """A Slack-like rendering of a webhook *payload*, shown inline in a notebook."""
    from .show.slack_preview import SlackPreview

    return SlackPreview(payload)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not kept here once found: the defining module stays the one place to look it up (and to
    # replace it in a test).
    return getattr(import_module(_LAZY[name], __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
