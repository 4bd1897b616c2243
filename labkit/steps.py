"""What each step of the lab must have achieved: the expectations behind every check cell.

One function per step, reading the target's real state (plus facts the notebook hands over,
such as the response of a test POST), so the notebook's check and any later command-line check
share one definition.
"""

from __future__ import annotations

import ssl
import urllib.request
from typing import TYPE_CHECKING, Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from .checks import CheckReport
from .errors import LabError
from .webhook import check_webhook_url

if TYPE_CHECKING:
    from .lab import Lab


def _step_00(lab: Lab, report: CheckReport, **_: Any) -> None:
    report.expect(bool(lab.account), f"boto3 reaches the {lab.config.target} target (STS knows "
                  "who you are)", "Re-run the set-up cell and read its message.")
    report.expect(lab.region == lab.config.region, f"Region {lab.region} is set for every client")
    if lab.is_local:
        state = lab.state
        up = False
        try:
            context = ssl.create_default_context(cafile=state.ca_bundle)
            with urllib.request.urlopen(state.slack_https_url + "/api/messages?after=0",
                                        timeout=5, context=context) as response:
                up = response.status == 200
        except OSError:
            pass
        report.expect(up, "The local Slack answers over HTTPS with a certificate this kernel "
                      "trusts", "Run `labkit local down`, then re-run this notebook.")


def _step_01(lab: Lab, report: CheckReport, webhook: Any = None, response: Any = None,
             bad_response: Any = None, text: str = "", **_: Any) -> None:
    valid = False
    if webhook is not None:
        try:
            check_webhook_url(webhook.reveal(), allow_local=lab.is_local)
            valid = True
        except LabError:
            pass
    report.expect(valid, "The webhook URL has the incoming-webhook shape",
                  "Run the cell that gets the webhook URL (`webhook = lab.webhook()`).")
    report.expect(response is not None and response.status_code == 200
                  and response.text == "ok", "Slack answered the test message with 200 ok",
                  "Run the test-message cell and read Slack's answer.")
    if lab.is_local:
        arrived = bool(text) and any(m["text"] == text for m in lab.slack_messages())
        report.expect(arrived, f"The test message is in #{lab.config.slack_channel}",
                      "Re-run the test-message cell.")
    report.expect(bad_response is not None and bad_response.status_code == 400,
                  "A malformed payload was refused with 400",
                  "Run the cell that sends a broken payload.")


def _topic_arn(lab: Lab) -> str | None:
    sns = lab.client("sns")
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == lab.names.topic:
                return topic["TopicArn"]
    return None


def _step_02(lab: Lab, report: CheckReport, message_id: str = "", received: Any = None,
             **_: Any) -> None:
    sns = lab.client("sns")
    arn = _topic_arn(lab)
    if not report.expect(arn is not None, f"Topic {lab.names.topic} exists",
                         "Run the create_topic cell."):
        return
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    report.expect(all(tags.get(k) == v for k, v in lab.tags.items()),
                  "The topic carries the lab's tags", "Pass Tags=lab.tag_list to create_topic.")
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    queue_subscribed = any(s["Protocol"] == "sqs" and s["Endpoint"].endswith(":" + lab.names.queue)
                           for s in subs)
    report.expect(queue_subscribed, f"Queue {lab.names.queue} is subscribed to the topic",
                  "Run the subscribe cell.")
    report.expect(bool(message_id) and received is not None
                  and received.get("MessageId") == message_id,
                  "The message published to the topic reached the subscriber",
                  "Run the publish and receive cells again.")


STEPS: dict[str, Callable[..., None]] = {"00": _step_00, "01": _step_01, "02": _step_02}


def run_checks(lab: Lab, step: str, **facts: Any) -> CheckReport:
    """Evaluate step *step*'s expectations against the lab's target; never raises for AWS."""
    if step not in STEPS:
        raise LabError(f"There is no step {step!r}.", f"Steps: {', '.join(STEPS)}.")
    report = CheckReport(step)
    try:
        STEPS[step](lab, report, **facts)
    except (ClientError, BotoCoreError, LabError) as exc:
        report.expect(False, f"The check could not read the target: {exc}",
                      "Re-run the notebook from the top.")
    return report
