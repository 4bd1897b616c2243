"""Step 08, "when Slack misbehaves": the expectations of its check.

The notebook builds a pipeline of its own (names: :func:`labkit.names.flaky_names`), makes
the local Slack misbehave, and deletes everything at its end. Its check reads what it can from
the target (the channel's messages, the faults still planned, what is left) and takes the rest
from facts the notebook hands over: the function's log lines of each scene and the
dead-lettered message. Without those facts (``labkit check``) only what is left is checked.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .probes import log_group_left, still_there
from .report import CheckReport, expect
from ..i18n import t
from ..names import flaky_names

if TYPE_CHECKING:
    from ..lab import Lab

# Codes meaning "no such resource" for the calls below.
_GONE = {"ResourceNotFoundException", "NoSuchEntity", "ParameterNotFound", "NotFound",
         "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def notification_lines(lines: list[dict] | None) -> list[dict]:
    """The function's per-record log lines (``"message": "notification"``), in order."""
    return [line for line in lines or [] if line.get("message") == "notification"]


def retried_within_one_invocation(lines: list[dict] | None) -> bool:
    """Delivered by a single invocation that needed more than one attempt."""
    records = notification_lines(lines)
    return (len(records) == 1 and records[0].get("outcome") == "delivered"
            and records[0].get("attempts", 0) >= 2)


def retried_by_lambda(lines: list[dict] | None) -> bool:
    """A failed invocation, then a later one that delivered (Lambda's asynchronous retry)."""
    outcomes = [line.get("outcome") for line in notification_lines(lines)]
    return len(outcomes) >= 2 and outcomes[0] == "failed" and outcomes[-1] == "delivered"


def leftovers(lab: Lab) -> list[str]:
    """What of notebook 08's pipeline still exists on the target, as "kind name"."""
    names = flaky_names(lab.config.prefix)
    # The kinds are said as the inventory says them, in the current language.
    probes = {
        f"{t('inventory.kind.lambda_function')} {names.function}":
            lambda: lab.client("lambda").get_function_configuration(FunctionName=names.function),
        f"{t('inventory.kind.iam_role')} {names.role}":
            lambda: lab.client("iam").get_role(RoleName=names.role),
        f"{t('inventory.kind.sqs_queue')} {names.queue}":
            lambda: lab.client("sqs").get_queue_url(QueueName=names.queue),
        f"{t('faults.ssm_parameter')} {names.parameter}":
            lambda: lab.client("ssm").get_parameter(Name=names.parameter),
        f"{t('inventory.kind.sns_topic')} {names.topic}":
            lambda: lab.client("sns").get_topic_attributes(
                TopicArn=f"arn:aws:sns:{lab.region}:{lab.account}:{names.topic}"),
    }
    left = still_there(probes, _GONE)
    left += log_group_left(lab, names.log_group)
    return left


def step_08(lab: Lab, report: CheckReport, rate_limited: list[dict] | None = None,
            outage: list[dict] | None = None, flaky_network: list[dict] | None = None,
            dead_letter: dict | None = None, labels: list[str] | None = None,
            after_id: int = 0, **_: Any) -> None:
    """The expectations of notebook 08 (facts: the log lines of each scene, the dead-lettered
    message, the alarms' labels and the channel's last message id before the first one)."""
    names = flaky_names(lab.config.prefix)
    if lab.is_local and rate_limited is not None:
        expect(report, retried_within_one_invocation(rate_limited), "08.rate_limited")
    if lab.is_local and outage is not None:
        expect(report, retried_by_lambda(outage), "08.outage")
    if lab.is_local and flaky_network is not None:
        expect(report, retried_within_one_invocation(flaky_network), "08.flaky_network")
    if lab.is_local and dead_letter is not None:
        attributes = dead_letter.get("MessageAttributes", {})
        expect(report, bool(attributes.get("ErrorMessage"))
               and "down-for-good" in dead_letter.get("Body", ""), "08.dead_letter")
    if lab.is_local and labels:
        messages = lab.slack_messages(after=after_id, channel=names.channel)
        counts = {label: sum(label in json.dumps(m["payload"]) for m in messages)
                  for label in labels}
        expect(report, all(count == 1 for count in counts.values()), "08.each_alarm_once",
               channel=names.channel,
               counts=", ".join(f"{label} {count}" for label, count in counts.items()))
    if lab.is_local:
        expect(report, not lab.slack_faults.pending(names.channel), "08.no_fault_left",
               channel=names.channel)
    left = ", ".join(leftovers(lab))
    # On aws the notebook creates nothing, so "nothing left" is said as what it means there.
    expect(report, not left, "08.nothing_left" if lab.is_local else "08.nothing_on_aws",
           left=left)
