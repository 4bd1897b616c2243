"""Step 09, "the same pipeline as code": the expectations of its check.

The notebook exports the hand-made pipeline as a template, lints it, deploys it as a stack
beside the hand-made one (names: :func:`labkit.names.stack_names`), sends a test alarm and the
stack's own alarm through it, and deletes the stack. Its check takes what only the notebook saw
as facts (the lint findings, the Slack messages, the alarm's state) and reads the rest from the
target: the stack is gone, nothing of it is left but its key pending deletion, and the
hand-made pipeline is untouched. Without facts (``labkit check``) only the target is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .probes import log_group_left, still_there
from .report import CheckReport, expect
from ..i18n import t
from ..names import StackNames, stack_names
from ..stack.deploy import describe_stack

if TYPE_CHECKING:
    from ..lab import Lab

# Codes meaning "no such resource" for the probes below (S3's HeadBucket answers a bare 404).
_GONE = {"ResourceNotFoundException", "NoSuchEntity", "NotFound", "NotFoundException",
         "NoSuchBucket", "404"}


def stack_leftovers(lab: Lab, names: StackNames) -> list[str]:
    """What of the stack named by *names* still exists on the target, as "kind name". A key
    pending deletion is gone for this purpose: KMS deletes keys only after a wait."""
    stack = names.resources
    arn = f"arn:aws:%s:{lab.region}:{lab.account}:%s"
    probes = {
        f"{t('inventory.kind.lambda_function')} {stack.function}":
            lambda: lab.client("lambda").get_function_configuration(FunctionName=stack.function),
        f"{t('inventory.kind.iam_role')} {stack.role}":
            lambda: lab.client("iam").get_role(RoleName=stack.role),
        f"{t('inventory.kind.iam_policy')} {stack.kms_policy}":
            lambda: lab.client("iam").get_policy(
                PolicyArn=f"arn:aws:iam::{lab.account}:policy/{stack.kms_policy}"),
        f"{t('inventory.kind.sns_topic')} {stack.topic}":
            lambda: lab.client("sns").get_topic_attributes(TopicArn=arn % ("sns", stack.topic)),
        f"{t('inventory.kind.kms_alias')} {stack.kms_alias}":
            lambda: lab.client("kms").describe_key(KeyId=stack.kms_alias),
    }
    if names.artifact_bucket:
        probes[f"{t('inventory.kind.s3_bucket')} {names.artifact_bucket}"] = (
            lambda: lab.client("s3").head_bucket(Bucket=names.artifact_bucket))
    left = still_there(probes, _GONE)
    alarms = lab.client("cloudwatch").describe_alarms(AlarmNames=[stack.alarm])["MetricAlarms"]
    left += [f"{t('inventory.kind.cloudwatch_alarm')} {a['AlarmName']}" for a in alarms]
    left += log_group_left(lab, stack.log_group)
    return left


def _stack_status(lab: Lab, name: str) -> str | None:
    """The stack's status, or None when there is no stack of that name (or it is deleted)."""
    stack = describe_stack(lab.client("cloudformation"), name)
    return stack["StackStatus"] if stack else None


def _deployed(lab: Lab, names: StackNames) -> bool:
    """Whether the stack stands complete and its function has the encrypted webhook (both
    phases of the deploy done)."""
    if _stack_status(lab, names.stack) not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return False
    try:
        config = lab.client("lambda").get_function_configuration(
            FunctionName=names.resources.function)
    except ClientError:
        return False
    return bool(config.get("Environment", {}).get("Variables", {}).get("kmsEncryptedHookUrl"))


def step_09(lab: Lab, report: CheckReport, findings: list | None = None,
            outputs: dict | None = None, test_message: Any = None, fired: Any = None,
            alarm_message: Any = None, **_: Any) -> None:
    """The expectations of notebook 09 (facts: cfn-lint's findings, the deploy's outputs, the
    test alarm's and the stack alarm's Slack messages, the stack alarm's watch). The outputs
    are given right after the deploy (the class's test): then the stack must stand; the
    check at the notebook's end, after the delete, leaves them out."""
    names = stack_names(lab.config.prefix, lab.account, lab.region)
    if outputs is not None:
        expect(report, bool(outputs) and _deployed(lab, names), "09.stack_deployed",
               stack=names.stack)
    if findings is not None:
        errors = [f for f in findings if getattr(f, "is_error", False)]
        expect(report, not errors, "09.lint_clean",
               errors="; ".join(f"{f.rule} {f.path}: {f.message}" for f in errors))
    if lab.is_local and test_message is not None:
        expect(report, bool(test_message), "09.test_delivered", topic=names.resources.topic)
    if fired is not None:
        expect(report, fired.state == "ALARM", "09.alarm_fired", alarm=names.resources.alarm)
    if lab.is_local and alarm_message is not None:
        expect(report, bool(alarm_message), "09.alarm_delivered", alarm=names.resources.alarm)
    status = _stack_status(lab, names.stack)
    expect(report, status in (None, "DELETE_COMPLETE"), "09.stack_deleted", stack=names.stack,
           status=status)
    left = stack_leftovers(lab, names)
    expect(report, not left, "09.nothing_left", left=", ".join(left))
    try:
        lab.client("lambda").get_function_configuration(FunctionName=lab.names.function)
        intact = True
    except ClientError:
        intact = False
    expect(report, intact, "09.hand_made_intact", function=lab.names.function)
