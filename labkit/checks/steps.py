"""What each step of the lab must have achieved: the one definition behind every check.

One function per step records its expectations (resource exists, configured as the step asks,
message delivered) in a :class:`~labkit.checks.report.CheckReport`. The same functions serve the
notebook's check cell and ``labkit check``:

* the notebook hands over *facts* it holds (the answer to a test POST, an invocation's result),
  which add the expectations only those facts can show;
* without facts (``labkit check``) every expectation is read from the target's state, and
  nothing is created or changed: only describe/list/get calls, ``kms:Decrypt`` and reading logs.

Each expectation's wording is in the message catalogues under ``check.<step>.<name>`` (and
``.hint``), in English and Korean.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from .. import i18n
from .report import CheckReport, expect
from ..errors import LabError
from ..events import first_message
from ..functions import HANDLER
from ..local.slack import api as slack_api
from ..lookups import find_topic_arn, sns_may_invoke, statements
from .step_08 import step_08
from .step_09 import step_09
from ..webhook import check_webhook_url

if TYPE_CHECKING:
    from ..lab import Lab

#: Default of the facts only a notebook hands over: "not given" differs from "given as None".
NOT_GIVEN: Any = object()


# ---------------------------------------------------------------------------------------------
# Reading the target (read-only)


def _local_slack_get(lab: Lab, path: str) -> dict | None:
    """GET a local-Slack API path over HTTPS, trusting the local CA; None when it does not answer."""
    try:
        return slack_api.call(lab.state.slack_https_url, "GET", path,
                              cafile=lab.state.ca_bundle)
    except (OSError, ValueError):
        return None


def _channel_has_webhook(lab: Lab) -> bool:
    answer = _local_slack_get(lab, slack_api.WEBHOOKS_PATH) or {"webhooks": []}
    return any(w["channel"] == lab.config.slack_channel for w in answer["webhooks"])


def _known_webhook(lab: Lab) -> str | None:
    """The webhook URL without looking it up in a way that creates one; None if not known."""
    if lab.is_local:
        return lab.webhook().without_scheme if _channel_has_webhook(lab) else None
    value = os.environ.get(lab.config.webhook_env, "")
    return value.split("://", 1)[-1] if value else None


def _function(lab: Lab) -> dict | None:
    lam = lab.client("lambda")
    try:
        return lam.get_function_configuration(FunctionName=lab.names.function)
    except lam.exceptions.ResourceNotFoundException:
        return None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _log_lines(lab: Lab) -> list[str]:
    """Every line in the function's log group ([] when there is none)."""
    logs = lab.client("logs")
    lines: list[str] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=lab.names.log_group):
            lines += [event["message"].rstrip() for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return lines


def delivered_notifications(lines: Iterable[str]) -> list[dict]:
    """The function's own log records of notifications it delivered to Slack.

    The notifier writes one JSON line per notification (``"message": "notification"``, with
    ``alarm``, ``state`` and ``outcome``); this keeps those whose outcome is ``delivered``.
    """
    found = []
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if (isinstance(record, dict) and record.get("message") == "notification"
                and record.get("outcome") == "delivered"):
            found.append(record)
    return found


def _was_delivered(lab: Lab, match: Callable[[dict], bool], wait: float = 0.0) -> bool:
    """Whether the function logged delivering a notification *match* accepts.

    *wait*: seconds to keep looking, for a check that runs the moment Slack received the message
    (the log line lands when the invocation ends, a moment later).
    """
    return _eventually(lab, lambda: any(
        match(r) for r in delivered_notifications(_log_lines(lab))), wait)


# How the checks wait; tests replace them, so that nothing really sleeps.
_clock = time.monotonic
_sleep = time.sleep
# How long a check waits on AWS for what the notebook changed a moment ago to show in reads.
_AWS_SETTLE = 60.0


def _eventually(lab: Lab, read: Callable[[], Any], wait: float) -> Any:
    """``read()``, asked again until it answers something true or *wait* s have passed; its
    last answer. The local cloud is asked often; AWS every few seconds, since reads such as
    FilterLogEvents have a request quota that a class in one account shares."""
    deadline = _clock() + wait
    while True:
        answer = read()
        if answer or _clock() >= deadline:
            return answer
        _sleep(0.25 if lab.is_local else 3.0)


# ---------------------------------------------------------------------------------------------
# The steps


def _step_00(lab: Lab, report: CheckReport, **_: Any) -> None:
    expect(report, lab.account, "00.reaches_target", target=lab.config.target)
    expect(report, lab.target.region == lab.config.region, "00.region", region=lab.region)
    if lab.is_local:
        expect(report, _local_slack_get(lab, slack_api.MESSAGES_PATH + "?after=0") is not None,
               "00.local_slack")


def _step_01(lab: Lab, report: CheckReport, webhook: Any = None, response: Any = None,
             bad_response: Any = None, text: str = "", **_: Any) -> None:
    channel = lab.config.slack_channel
    if webhook is not None:
        try:
            check_webhook_url(webhook.reveal(), allow_local=lab.is_local)
            valid = True
        except LabError:
            valid = False
        expect(report, valid, "01.webhook_shape")
    elif lab.is_local:
        expect(report, _channel_has_webhook(lab), "01.webhook_exists", channel=channel)
    if response is not None or webhook is not None:
        expect(report, response is not None and response.status_code == 200
               and response.text == "ok", "01.answered_ok")
    if lab.is_local:
        text = text or first_message(lab.config.student)
        messages = _local_slack_get(lab, slack_api.MESSAGES_PATH + "?" + urllib.parse.urlencode(
            {"channel": channel, "after": 0})) or {"messages": []}
        expect(report, any(m["text"] == text for m in messages["messages"]),
               "01.message_arrived", channel=channel)
    if response is not None or webhook is not None:
        expect(report, bad_response is not None and bad_response.status_code == 400,
               "01.bad_payload_refused")


def _step_02(lab: Lab, report: CheckReport, message_id: str = "", received: Any = NOT_GIVEN,
             **_: Any) -> None:
    sns = lab.client("sns")
    arn = find_topic_arn(lab)
    if not expect(report, arn is not None, "02.topic_exists", topic=lab.names.topic):
        return
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    expect(report, all(tags.get(k) == v for k, v in lab.tags.items()), "02.topic_tagged")
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    expect(report, any(s["Protocol"] == "sqs" and s["Endpoint"].endswith(":" + lab.names.queue)
                       for s in subs), "02.queue_subscribed", queue=lab.names.queue)
    if received is not NOT_GIVEN:
        expect(report, bool(message_id) and isinstance(received, dict)
               and received.get("MessageId") == message_id, "02.message_received")


BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def _step_03(lab: Lab, report: CheckReport, invoke_answer: Any = None,
             invoke_failure: Any = None, **_: Any) -> None:
    iam, lam = lab.client("iam"), lab.client("lambda")
    try:
        role = iam.get_role(RoleName=lab.names.role)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = None
    if expect(report, role is not None, "03.role_exists", role=lab.names.role):
        trusted = any(s.get("Effect") == "Allow" and "lambda.amazonaws.com" in
                      _as_list(s.get("Principal", {}).get("Service", []))
                      for s in statements(role["AssumeRolePolicyDocument"]))
        expect(report, trusted, "03.role_trusts_lambda")
        attached = [p["PolicyArn"] for p in
                    iam.list_attached_role_policies(RoleName=lab.names.role)["AttachedPolicies"]]
        expect(report, BASIC_EXECUTION in attached, "03.basic_execution")
    config = _function(lab)
    if not expect(report, config is not None, "03.function_exists",
                  function=lab.names.function):
        return
    variables = config.get("Environment", {}).get("Variables", {})
    expect(report, config["Runtime"].startswith("python3") and config["Handler"] == HANDLER
           and role is not None and config["Role"] == role["Arn"], "03.function_configured")
    expect(report, variables.get("slackChannel") == lab.config.slack_channel
           and "kmsEncryptedHookUrl" in variables, "03.function_variables")
    topic = find_topic_arn(lab)
    subs = (lab.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            if topic else [])
    expect(report, any(s["Protocol"] == "lambda" and s["Endpoint"] == config["FunctionArn"]
                       for s in subs), "03.function_subscribed", topic=lab.names.topic)
    try:
        policy = json.loads(lam.get_policy(FunctionName=lab.names.function)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        policy = {}
    expect(report, sns_may_invoke(policy, topic), "03.sns_may_invoke")
    if invoke_answer is not None:
        ran = bool(invoke_answer.get("FunctionError")) and "kmsEncryptedHookUrl" in str(
            (invoke_failure or {}).get("errorMessage", ""))
        expect(report, ran, "03.ran_with_placeholder")
    else:
        expect(report, any(line.startswith("REPORT") for line in _log_lines(lab)),
               "03.function_ran", log_group=lab.names.log_group)


def _step_04(lab: Lab, report: CheckReport, context_error: Any = NOT_GIVEN,
             invoke_failure: Any = None, **_: Any) -> None:
    kms = lab.client("kms")
    try:
        key = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        key = None
    if not expect(report, key is not None and key["KeyState"] == "Enabled", "04.key_enabled",
                  alias=lab.names.kms_alias):
        return
    config = _function(lab)
    stored = (config or {}).get("Environment", {}).get("Variables", {}).get(
        "kmsEncryptedHookUrl", "")
    decrypted = ""
    try:
        decrypted = kms.decrypt(CiphertextBlob=base64.b64decode(stored), EncryptionContext={
            "LambdaFunctionName": lab.names.function})["Plaintext"].decode()
    except (ClientError, ValueError):
        pass
    known = _known_webhook(lab)
    if known is not None:
        ok = bool(decrypted) and decrypted == known
    else:  # an instructor checking someone else's work does not hold their URL: check its shape
        try:
            ok = bool(decrypted) and bool(check_webhook_url("https://" + decrypted,
                                                            allow_local=lab.is_local))
        except LabError:
            ok = False
    expect(report, ok, "04.ciphertext_decrypts")
    expect(report, (config or {}).get("KMSKeyArn") == key["Arn"], "04.function_key",
           alias=lab.names.kms_alias)
    if context_error is not NOT_GIVEN:
        expect(report, context_error == "InvalidCiphertextException", "04.context_required")
    if invoke_failure is not None:
        message = str(invoke_failure.get("errorMessage", ""))
        expect(report, "kms:Decrypt" in message or not invoke_failure.get("errorType"),
               "04.function_reached_kms")


CONTEXT_KEY = "kms:EncryptionContext:LambdaFunctionName"


def _names_function(statement: dict, function: str) -> bool:
    """Whether *statement*'s condition requires the encryption context to name *function*."""
    for operator, conditions in (statement.get("Condition") or {}).items():
        if operator != "StringEquals" or not isinstance(conditions, dict):
            continue
        for key, value in conditions.items():
            # IAM reads condition keys without regard to case; the value must be exact.
            if key.lower() == CONTEXT_KEY.lower() and _as_list(value) == [function]:
                return True
    return False


def decrypt_policy_expectations(report: CheckReport, document: Any, key_arn: str | None,
                                function: str) -> None:
    """Step 05's expectations on the policy *document*: ``kms:Decrypt`` on the key *key_arn*
    only (not ``*``), and only when the encryption context names *function*.

    Without the condition the role could decrypt any ciphertext made with the lab's key, for
    whichever function it was meant.
    """
    grants = [s for s in statements(document) if s.get("Effect") == "Allow"
              and "kms:Decrypt" in _as_list(s.get("Action", []))]
    expect(report, key_arn and grants and all(_as_list(s.get("Resource")) == [key_arn]
                                              for s in grants), "05.decrypt_on_key_only")
    expect(report, grants and all(_names_function(s, function) for s in grants),
           "05.decrypt_needs_context", function=function)


def _step_05(lab: Lab, report: CheckReport, invoke_answer: Any = None, invoke_result: Any = None,
             via_sns: Any = NOT_GIVEN, **_: Any) -> None:
    iam, kms = lab.client("iam"), lab.client("kms")
    policy_arn = f"arn:aws:iam::{lab.account}:policy/{lab.names.kms_policy}"
    # On AWS a read right after a change may not show it yet (IAM is eventually consistent, and
    # log lines arrive seconds after the invocation): right after the notebook made them, the
    # check waits for them, bounded. Without the notebook's facts (labkit check) it reads once.
    settle = 0.0 if lab.is_local or invoke_answer is None else _AWS_SETTLE

    def read_policy() -> Any:
        try:
            policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
            return iam.get_policy_version(PolicyArn=policy_arn, VersionId=policy[
                "DefaultVersionId"])["PolicyVersion"]["Document"]
        except iam.exceptions.NoSuchEntityException:
            return None

    def attached() -> bool:
        try:
            return policy_arn in [p["PolicyArn"] for p in iam.list_attached_role_policies(
                RoleName=lab.names.role)["AttachedPolicies"]]
        except iam.exceptions.NoSuchEntityException:
            return False

    document = _eventually(lab, read_policy, settle)
    if not expect(report, document is not None, "05.policy_exists", policy=lab.names.kms_policy):
        return
    try:
        key_arn = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        key_arn = None
    decrypt_policy_expectations(report, document, key_arn, lab.names.function)
    expect(report, _eventually(lab, attached, settle), "05.policy_attached",
           role=lab.names.role)
    if invoke_answer is not None:
        delivered = isinstance(invoke_result, dict) and invoke_result.get("delivered", 0) >= 1
        expect(report, not invoke_answer.get("FunctionError") and delivered,
               "05.test_event_delivered")
    if via_sns is not NOT_GIVEN and lab.is_local:
        expect(report, via_sns, "05.published_reached_slack")
    # Locally the log line lands a moment after Slack got the message the notebook hands over.
    arrived = via_sns not in (None, NOT_GIVEN)
    expect(report, _was_delivered(lab, lambda r: True, wait=settle or (5.0 if arrived else 0.0)),
           "05.delivery_logged", log_group=lab.names.log_group)


def _step_06(lab: Lab, report: CheckReport, fired: Any = None, recovered: Any = None,
             alarm_message: Any = NOT_GIVEN, ok_message: Any = NOT_GIVEN, **_: Any) -> None:
    cloudwatch = lab.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNames=[lab.names.alarm])["MetricAlarms"]
    if not expect(report, alarms, "06.alarm_exists", alarm=lab.names.alarm):
        return
    alarm = alarms[0]
    expect(report, alarm["Namespace"] == "AWS/EC2" and alarm["MetricName"] == "CPUUtilization"
           and alarm.get("Statistic") == "Average" and alarm["Threshold"] == 50.0
           and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
           and alarm["EvaluationPeriods"] == 1, "06.alarm_configured")
    topic = find_topic_arn(lab)
    expect(report, topic is not None and topic in alarm.get("AlarmActions", [])
           and topic in alarm.get("OKActions", []), "06.alarm_actions", topic=lab.names.topic)
    # On AWS the history lags the state a little: wait for what the notebook saw to show.
    wanted = {s for s, w in (("ALARM", fired), ("OK", recovered))
              if w is not None and w.state == s}
    changes = _state_changes(lab, cloudwatch, wanted, wait=0.0 if lab.is_local else _AWS_SETTLE)
    reached = {new for new, _ in changes}
    to_alarm = [by_load for new, by_load in changes if new == "ALARM"]
    went = fired.state == "ALARM" if fired is not None else bool(to_alarm)
    # A state set with set_alarm_state carries no evaluated datapoints: the load did not do it.
    if went and to_alarm and not to_alarm[-1]:
        expect(report, True, "06.fired_by_hand")
    else:
        expect(report, went, "06.fired")
    expect(report, recovered.state == "OK" if recovered is not None else "OK" in reached,
           "06.recovered")
    if lab.is_local and alarm_message is not NOT_GIVEN:
        expect(report, alarm_message is not None and ok_message not in (None, NOT_GIVEN),
               "06.slack_received")
    wait = 5.0 if ok_message not in (None, NOT_GIVEN) else 0.0
    if not lab.is_local and (fired is not None or recovered is not None):
        wait = _AWS_SETTLE  # the function's log reaches CloudWatch Logs seconds after it ran
    for state in ("ALARM", "OK"):
        expect(report, _was_delivered(
            lab, lambda r, s=state: r.get("alarm") == lab.names.alarm and r.get("state") == s,
            wait=wait), "06.delivery_logged", state=state)


def alarm_state_changes(cloudwatch: Any, alarm: str) -> list[tuple[str, bool]]:
    """(new state, set by an evaluation) of *alarm*'s state changes, oldest first.

    A change ``set_alarm_state`` made by hand carries no ``stateReasonData``; one an
    evaluation made carries the datapoints it saw.
    """
    pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
        AlarmName=alarm, HistoryItemType="StateUpdate")
    history = [item for page in pages for item in page["AlarmHistoryItems"]]
    changes = []
    for item in sorted(history, key=lambda h: h["Timestamp"]):
        new = json.loads(item.get("HistoryData") or "{}").get("newState", {})
        changes.append((new.get("stateValue"), "stateReasonData" in new))
    return changes


def _state_changes(lab: Lab, cloudwatch: Any, wanted: set[str], wait: float
                   ) -> list[tuple[str, bool]]:
    """:func:`alarm_state_changes` of the lab's alarm, waiting up to *wait* seconds until
    every state in *wanted* shows in the history."""
    changes: list[tuple[str, bool]] = []

    def read() -> bool:
        changes[:] = alarm_state_changes(cloudwatch, lab.names.alarm)
        return wanted <= {new for new, _ in changes}

    _eventually(lab, read, wait)
    return changes


def _step_07(lab: Lab, report: CheckReport, leftovers: Any = None, scheduled: Any = None,
             **_: Any) -> None:
    from datetime import datetime, timezone

    from ..inventory import inventory

    leftovers = inventory(lab) if leftovers is None else leftovers
    extra = [x for x in leftovers if not x.expected]
    expect(report, not extra, "07.nothing_left",
           left=", ".join(f"{x.kind} {x.name}" for x in extra))
    kms = lab.client("kms")
    try:
        kms.describe_key(KeyId=lab.names.kms_alias)
        alias_left = True
    except kms.exceptions.NotFoundException:
        alias_left = False
    expect(report, not alias_left, "07.alias_deleted", alias=lab.names.kms_alias)
    keys = [x for x in leftovers if x.kind == "KMS key" and x.expected]
    if not keys:
        expect(report, not any(x.kind == "KMS key" for x in extra), "07.no_key_left")
        return
    # The window shows in schedule_key_deletion's answer only; a key scheduled by an earlier
    # run still counts while its deletion date is ahead.
    answers = [a for a in (scheduled or []) if a]
    windows_ok = all(a.get("PendingWindowInDays", 0) >= 7 for a in answers)
    now = datetime.now(timezone.utc)
    ahead = all(kms.describe_key(KeyId=x.name)["KeyMetadata"]["DeletionDate"] > now for x in keys)
    expect(report, windows_ok and ahead, "07.key_pending_deletion")


STEPS: dict[str, Callable[..., None]] = {"00": _step_00, "01": _step_01, "02": _step_02,
                                         "03": _step_03, "04": _step_04, "05": _step_05,
                                         "06": _step_06, "07": _step_07, "08": step_08,
                                         "09": step_09}


def run_checks(lab: Lab, step: str, **facts: Any) -> CheckReport:
    """Evaluate step *step*'s expectations against the lab's target; never raises for AWS.

    *facts* are what a notebook holds (see each step); without them, everything is read from
    the target, and nothing there is changed.
    """
    if step not in STEPS:
        raise LabError(i18n.t("check.no_such_step", step=step),
                       i18n.t("check.no_such_step.hint", steps=", ".join(STEPS)))
    report = CheckReport(step)
    try:
        STEPS[step](lab, report, **facts)
    except (ClientError, BotoCoreError, LabError) as exc:
        expect(report, False, "could_not_read", error=str(exc))
    return report
