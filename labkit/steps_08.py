"""Step 08, "when Slack misbehaves": its resource names and the expectations of its check.

The notebook builds a pipeline of its own (names below), makes the local Slack misbehave, and
deletes everything at its end. Its check reads what it can from the target (the channel's
messages, the faults still planned, what is left) and takes the rest from facts the notebook
hands over: the function's log lines of each scene and the dead-lettered message. Without
those facts (``labkit check``) only what is left is checked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .checks import CheckReport

if TYPE_CHECKING:
    from .lab import Lab

# Codes meaning "no such resource" for the calls below.
_GONE = {"ResourceNotFoundException", "NoSuchEntity", "ParameterNotFound", "NotFound",
         "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True)
class FlakyNames:
    """Names of notebook 08's own pipeline; a channel of its own keeps faults off #project."""

    channel: str
    parameter: str
    queue: str
    role: str
    function: str
    log_group: str
    topic: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def flaky_names(prefix: str = "") -> FlakyNames:
    """Notebook 08's names with the learner's *prefix* ('' or 'kim-') in front."""
    function = f"{prefix}mission-flaky-lambda"
    return FlakyNames(channel=f"{prefix}mission-flaky",
                      parameter=f"{prefix}mission-flaky-webhook",
                      queue=f"{prefix}mission-flaky-dlq", role=f"{prefix}mission-flaky-role",
                      function=function, log_group=f"/aws/lambda/{function}",
                      topic=f"{prefix}mission-flaky-sns")


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
    probes = {
        f"Lambda function {names.function}":
            lambda: lab.client("lambda").get_function_configuration(FunctionName=names.function),
        f"IAM role {names.role}": lambda: lab.client("iam").get_role(RoleName=names.role),
        f"SQS queue {names.queue}": lambda: lab.client("sqs").get_queue_url(QueueName=names.queue),
        f"SSM parameter {names.parameter}":
            lambda: lab.client("ssm").get_parameter(Name=names.parameter),
        f"SNS topic {names.topic}": lambda: lab.client("sns").get_topic_attributes(
            TopicArn=f"arn:aws:sns:{lab.region}:{lab.account}:{names.topic}"),
    }
    left = []
    for what, probe in probes.items():
        try:
            probe()
            left.append(what)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _GONE:
                raise
    groups = lab.client("logs").describe_log_groups(logGroupNamePrefix=names.log_group)
    left += [f"Log group {g['logGroupName']}" for g in groups["logGroups"]
             if g["logGroupName"] == names.log_group]
    return left


def step_08(lab: Lab, report: CheckReport, rate_limited: list[dict] | None = None,
            outage: list[dict] | None = None, flaky_network: list[dict] | None = None,
            dead_letter: dict | None = None, labels: list[str] | None = None,
            after_id: int = 0, **_: Any) -> None:
    """The expectations of notebook 08 (facts: the log lines of each scene, the dead-lettered
    message, the alarms' labels and the channel's last message id before the first one)."""
    names = flaky_names(lab.config.prefix)
    if lab.is_local and rate_limited is not None:
        report.expect(retried_within_one_invocation(rate_limited),
                      "Rate limited (429), the function waited as Retry-After asked and "
                      "delivered in the same invocation",
                      "Run the 429 cell again and read the function's log lines.")
    if lab.is_local and outage is not None:
        report.expect(retried_by_lambda(outage),
                      "When 500s outlasted one invocation, Lambda retried it and the alarm "
                      "was delivered", "Run the 500 cell again; it waits for Lambda's retry.")
    if lab.is_local and flaky_network is not None:
        report.expect(retried_within_one_invocation(flaky_network),
                      "A dropped connection and a slow answer were retried and delivered",
                      "Run the drop-and-delay cell again.")
    if lab.is_local and dead_letter is not None:
        attributes = dead_letter.get("MessageAttributes", {})
        report.expect(bool(attributes.get("ErrorMessage")) and "down-for-good"
                      in dead_letter.get("Body", ""),
                      "With Slack down for good, the alarm landed in the dead-letter queue, "
                      "with the function's error", "Run the dead-letter cells again.")
    if lab.is_local and labels:
        messages = lab.slack_messages(after=after_id, channel=names.channel)
        counts = {label: sum(label in json.dumps(m["payload"]) for m in messages)
                  for label in labels}
        report.expect(all(count == 1 for count in counts.values()),
                      f"Every alarm of this notebook reached #{names.channel} exactly once "
                      "(the dead-lettered one after its redrive)",
                      "Counts per alarm: " + ", ".join(f"{k} {v}" for k, v in counts.items())
                      + ". Run the notebook again from the top.")
    if lab.is_local:
        report.expect(not lab.slack_faults.pending(names.channel),
                      f"No fault is left planned on #{names.channel}",
                      "Run lab.slack_faults.clear(channel) (the cleanup cell does).")
    left = leftovers(lab)
    report.expect(not left, "Nothing of this notebook's pipeline is left" if lab.is_local
                  else "Nothing was created on AWS: fault injection needs the local Slack",
                  "Still there: " + ", ".join(left) + ". Run the cleanup cells.")
