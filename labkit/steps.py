"""What each step of the lab must have achieved: the expectations behind every check cell.

One function per step, reading the target's real state (plus facts the notebook hands over,
such as the response of a test POST), so the notebook's check and any later command-line check
share one definition.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from .checks import CheckReport
from .errors import LabError
from .functions import HANDLER
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


BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def _statements(document: Any) -> list[dict]:
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _function(lab: Lab) -> dict | None:
    lam = lab.client("lambda")
    try:
        return lam.get_function_configuration(FunctionName=lab.names.function)
    except lam.exceptions.ResourceNotFoundException:
        return None


def _step_03(lab: Lab, report: CheckReport, invoke_answer: Any = None,
             invoke_failure: Any = None, **_: Any) -> None:
    iam, lam = lab.client("iam"), lab.client("lambda")
    try:
        role = iam.get_role(RoleName=lab.names.role)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = None
    if report.expect(role is not None, f"Role {lab.names.role} exists",
                     "Run the execution-role cell."):
        trusted = any(s.get("Effect") == "Allow" and "lambda.amazonaws.com" in
                      _as_list(s.get("Principal", {}).get("Service", []))
                      for s in _statements(role["AssumeRolePolicyDocument"]))
        report.expect(trusted, "Its trust policy lets Lambda assume it",
                      "The trust policy needs Principal {'Service': 'lambda.amazonaws.com'}.")
        attached = [p["PolicyArn"] for p in
                    iam.list_attached_role_policies(RoleName=lab.names.role)["AttachedPolicies"]]
        report.expect(BASIC_EXECUTION in attached, "AWSLambdaBasicExecutionRole is attached",
                      "Run attach_role_policy with the basic execution policy's ARN.")
    config = _function(lab)
    if not report.expect(config is not None, f"Function {lab.names.function} exists",
                         "Run the create_function cell."):
        return
    variables = config.get("Environment", {}).get("Variables", {})
    report.expect(config["Runtime"].startswith("python3") and config["Handler"] == HANDLER
                  and role is not None and config["Role"] == role["Arn"],
                  "It runs the notifier's handler on Python with the execution role",
                  "Re-run the create_function cell; it updates the configuration.")
    report.expect(variables.get("slackChannel") == lab.config.slack_channel
                  and "kmsEncryptedHookUrl" in variables,
                  "Its variables hold slackChannel and kmsEncryptedHookUrl",
                  "Pass Environment={'Variables': {...}} as in the create_function cell.")
    topic = _topic_arn(lab)
    subs = lab.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if topic else []
    report.expect(any(s["Protocol"] == "lambda" and s["Endpoint"] == config["FunctionArn"]
                      for s in subs), f"The function is subscribed to {lab.names.topic}",
                  "Run the SNS trigger cell (and notebook 02 if the topic is missing).")
    try:
        policy = json.loads(lam.get_policy(FunctionName=lab.names.function)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        policy = {}
    allowed = any(
        s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
        and topic and topic in json.dumps(s.get("Condition", {}))
        for s in _statements(policy)) if policy else False
    report.expect(allowed, "SNS may invoke it, for this topic only",
                  "Run add_permission with Principal='sns.amazonaws.com' and SourceArn=topic_arn.")
    if invoke_answer is not None:
        ran = bool(invoke_answer.get("FunctionError")) and "kmsEncryptedHookUrl" in str(
            (invoke_failure or {}).get("errorMessage", ""))
        report.expect(ran, "The function ran and explained that the webhook is still a "
                      "placeholder", "Run the invoke cell.")


def _step_04(lab: Lab, report: CheckReport, ciphertext: str = "", context_error: Any = None,
             invoke_failure: Any = None, **_: Any) -> None:
    kms = lab.client("kms")
    try:
        key = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        key = None
    if not report.expect(key is not None and key["KeyState"] == "Enabled",
                         f"Key {lab.names.kms_alias} exists and is enabled",
                         "Run the create_key cell."):
        return
    config = _function(lab)
    stored = (config or {}).get("Environment", {}).get("Variables", {}).get("kmsEncryptedHookUrl", "")
    decrypted = ""
    try:
        decrypted = kms.decrypt(CiphertextBlob=base64.b64decode(stored), EncryptionContext={
            "LambdaFunctionName": lab.names.function})["Plaintext"].decode()
    except (ClientError, ValueError):
        pass
    report.expect(decrypted == lab.webhook().without_scheme,
                  "The function's kmsEncryptedHookUrl decrypts, with its encryption context, "
                  "to the webhook URL", "Run the encrypt cell, then the update cell.")
    report.expect(context_error == "InvalidCiphertextException",
                  "A ciphertext made without the encryption context does not decrypt with it",
                  "Run the cell that encrypts without the context.")
    if invoke_failure is not None:
        message = str(invoke_failure.get("errorMessage", ""))
        report.expect("kms:Decrypt" in message or not invoke_failure.get("errorType"),
                      "The function reached KMS (denied until notebook 05 allows kms:Decrypt)",
                      "Run the invoke cell and read its message.")


def _step_05(lab: Lab, report: CheckReport, invoke_answer: Any = None, invoke_result: Any = None,
             via_sns: Any = None, **_: Any) -> None:
    iam, kms = lab.client("iam"), lab.client("kms")
    policy_arn = f"arn:aws:iam::{lab.account}:policy/{lab.names.kms_policy}"
    try:
        policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
        document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=policy[
            "DefaultVersionId"])["PolicyVersion"]["Document"]
    except iam.exceptions.NoSuchEntityException:
        document = None
    if not report.expect(document is not None, f"Policy {lab.names.kms_policy} exists",
                         "Run the create_policy cell."):
        return
    key_arn = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["Arn"]
    grants = [s for s in _statements(document) if s.get("Effect") == "Allow"
              and "kms:Decrypt" in _as_list(s.get("Action", []))]
    report.expect(bool(grants) and all(_as_list(s.get("Resource")) == [key_arn] for s in grants),
                  "It allows kms:Decrypt on the lab's key only (its ARN, not '*')",
                  "Set Resource to key_arn in the policy document.")
    attached = [p["PolicyArn"] for p in
                iam.list_attached_role_policies(RoleName=lab.names.role)["AttachedPolicies"]]
    report.expect(policy_arn in attached, f"It is attached to {lab.names.role}",
                  "Run attach_role_policy.")
    if invoke_answer is not None:
        delivered = isinstance(invoke_result, dict) and invoke_result.get("delivered", 0) >= 1
        report.expect(not invoke_answer.get("FunctionError") and delivered,
                      "The test event was delivered to Slack", "Run the invoke cell again.")
    if lab.is_local:
        report.expect(bool(via_sns), "A message published to the topic reached Slack",
                      "Run the publish cell.")
    events = lab.client("logs").filter_log_events(logGroupName=lab.names.log_group)["events"]
    report.expect(any(e["message"].startswith("REPORT") for e in events),
                  f"The function's runs are logged in {lab.names.log_group}",
                  "Invoke the function, then look again.")


def _step_06(lab: Lab, report: CheckReport, fired: Any = None, recovered: Any = None,
             alarm_message: Any = None, ok_message: Any = None, **_: Any) -> None:
    cloudwatch = lab.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNames=[lab.names.alarm])["MetricAlarms"]
    if not report.expect(bool(alarms), f"Alarm {lab.names.alarm} exists",
                         "Run the put_metric_alarm cell."):
        return
    alarm = alarms[0]
    report.expect(alarm["Namespace"] == "AWS/EC2" and alarm["MetricName"] == "CPUUtilization"
                  and alarm.get("Statistic") == "Average" and alarm["Threshold"] == 50.0
                  and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
                  and alarm["EvaluationPeriods"] == 1,
                  "It watches the Average CPUUtilization against 50 % (≥) over one period",
                  "Re-run the put_metric_alarm cell as written.")
    topic = _topic_arn(lab)
    report.expect(topic is not None and topic in alarm.get("AlarmActions", [])
                  and topic in alarm.get("OKActions", []),
                  f"Its ALARM and OK actions notify {lab.names.topic}",
                  "Pass AlarmActions=[topic_arn] and OKActions=[topic_arn].")
    if fired is not None:
        report.expect(fired.state == "ALARM", "The load drove it to ALARM",
                      "Run the load cell again; it waits for the alarm.")
    if recovered is not None:
        report.expect(recovered.state == "OK", "It returned to OK after the load stopped",
                      "Run the recovery cell again.")
    if lab.is_local:
        report.expect(alarm_message is not None and ok_message is not None,
                      "Slack received the ALARM message and the recovery (OK) message",
                      "Run the Slack cells; if nothing arrived, check notebooks 03-05.")
    history = cloudwatch.describe_alarm_history(AlarmName=lab.names.alarm,
                                                HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    report.expect(len(history) >= 2, "Its history records the state changes",
                  "Run the load and recovery cells.")


def _step_07(lab: Lab, report: CheckReport, leftovers: Any = None, scheduled: Any = None,
             **_: Any) -> None:
    from datetime import datetime, timezone

    from .inventory import inventory

    leftovers = inventory(lab) if leftovers is None else leftovers
    extra = [x for x in leftovers if not x.expected]
    report.expect(not extra, "Nothing tagged for you is left, apart from a KMS key pending "
                  "deletion (tagging API, IAM and the function's log group)",
                  "Still there: " + ", ".join(f"{x.kind} {x.name}" for x in extra)
                  + ". Re-run the cells that delete them, then the inventory.")
    kms = lab.client("kms")
    try:
        kms.describe_key(KeyId=lab.names.kms_alias)
        alias_left = True
    except kms.exceptions.NotFoundException:
        alias_left = False
    report.expect(not alias_left, f"The alias {lab.names.kms_alias} is deleted",
                  "Run the delete_alias cell.")
    keys = [x for x in leftovers if x.kind == "KMS key" and x.expected]
    if not keys:
        report.expect(not any(x.kind == "KMS key" for x in extra),
                      "No KMS key of yours is left to schedule for deletion")
        return
    # The window shows in schedule_key_deletion's answer only; a key scheduled by an earlier
    # run still counts while its deletion date is ahead.
    answers = [a for a in (scheduled or []) if a]
    windows_ok = all(a.get("PendingWindowInDays", 0) >= 7 for a in answers)
    now = datetime.now(timezone.utc)
    ahead = all(kms.describe_key(KeyId=x.name)["KeyMetadata"]["DeletionDate"] > now for x in keys)
    report.expect(windows_ok and ahead, "The KMS key is pending deletion, with a waiting period "
                  "of at least 7 days (it can still be cancelled until then)",
                  "Run the schedule_key_deletion cell with PendingWindowInDays=7.")


STEPS: dict[str, Callable[..., None]] = {"00": _step_00, "01": _step_01, "02": _step_02,
                                         "03": _step_03, "04": _step_04, "05": _step_05,
                                         "06": _step_06, "07": _step_07}


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
