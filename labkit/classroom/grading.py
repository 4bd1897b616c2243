"""What nbgrader's autograder tests call: has the learner's own code built what the exercise asks?

Each exercise of the workbook has a locked test cell right after it (see
:mod:`labkit.classroom.course`). It runs in the submission's kernel, after the learner's cells,
so ``lab`` is the learner's: their ``student`` parameter, their resources. The test reads the
cloud through the step's own check (:mod:`labkit.checks.steps`), keeping only the expectations
that show this exercise was done, and fails with their hints when any of them did not pass.

Where no step check shows an exercise, a function of its own reads what the exercise leaves:
notebook 07's cleanup (what existed before it and is gone after, :mod:`.removals`), notebook
08's role policy and redrive, notebook 06's alarm state set by hand.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..checks.report import CheckReport
from ..i18n import t
from ..checks.steps import alarm_state_changes, decrypt_policy_expectations, run_checks
from ..local.iam.policy import evaluate
from ..names import flaky_names
from . import removals

if TYPE_CHECKING:
    from ..lab import Lab


def require_passed(report: CheckReport, keys: tuple[str, ...]) -> None:
    """Raise AssertionError, naming what failed and its hint, unless *report*'s expectations
    *keys* all passed (an expectation that could not be read counts as failed)."""
    mine = [item for item in report.items if item.key in keys or item.key == "could_not_read"]
    failed = [item for item in mine if not item.ok]
    if not mine:
        # The check stopped before them (no topic, so no subscription to look at): what stopped
        # it is the learner's problem to fix. Or none applies here: nothing shows the work.
        failed = [item for item in report.items if not item.ok]
        if not failed:
            raise AssertionError(t("grading.nothing_to_check", step=report.step,
                                   keys=", ".join(keys)))
    if failed:
        raise AssertionError("\n".join(f"❌ {item.text}" + (f"\n   → {item.hint}" if item.hint
                                                             else "") for item in failed))


def assert_step(lab: Lab, step: str, keys: tuple[str, ...] | list[str], **facts: Any) -> None:
    """Raise AssertionError unless every expectation *keys* of step *step*'s check passes.

    *facts* are what the learner's kernel holds (``response=...``), as the notebook's check
    cell hands them over. Expectations the check does not record here (a local-only one on AWS)
    are left out; when none of *keys* is recorded, the test fails: nothing shows the work.
    """
    require_passed(run_checks(lab, step, **facts), tuple(keys))


def assert_decrypts(lab: Lab, blob: Any) -> None:
    """Raise AssertionError unless *blob* is a ciphertext of the lab's key that decrypts with
    the encryption context naming the learner's function (exercise 04's encrypt call)."""
    if isinstance(blob, str):
        blob = base64.b64decode(blob)
    if not isinstance(blob, bytes) or not blob:
        raise AssertionError(t("grading.no_ciphertext"))
    kms = lab.client("kms")
    try:
        answer = kms.decrypt(CiphertextBlob=blob,
                             EncryptionContext={"LambdaFunctionName": lab.names.function})
    except ClientError as exc:
        raise AssertionError(t("grading.wrong_context", error=str(exc))) from None
    key = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["Arn"]
    if answer.get("KeyId") != key or not answer.get("Plaintext"):
        raise AssertionError(t("grading.wrong_key"))


def assert_policy_document(lab: Lab, document: Any) -> None:
    """Raise AssertionError unless *document* allows ``kms:Decrypt`` on the lab's key only,
    and only when the encryption context names the learner's function (exercise 05.1)."""
    if not isinstance(document, (dict, str)):
        raise AssertionError(t("grading.no_policy_document"))
    key = lab.client("kms").describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["Arn"]
    report = CheckReport("05")
    decrypt_policy_expectations(report, document, key, lab.names.function)
    require_passed(report, ("05.decrypt_on_key_only", "05.decrypt_needs_context"))


# -- notebook 07: the cleanup -----------------------------------------------------------------
def record_before_cleanup(lab: Lab) -> dict[str, frozenset[str]]:
    """What notebook 07's cleanup exercises remove, as it exists before them: the course's
    locked cell after ``labkit.start`` keeps it for :func:`assert_removed`."""
    return removals.present(lab)


def _what(lab: Lab, thing: str) -> str:
    """*thing* of :data:`.removals.THINGS` as the learner reads it: ``CloudWatch alarm x``."""
    names = {"alarm": lab.names.alarm, "topic": lab.names.topic,
             "function": lab.names.function, "role": lab.names.role,
             "role_policies": lab.names.role}
    kind = "role" if thing == "role_policies" else thing
    return t(f"grading.thing.{kind}", name=names[thing])


def assert_removed(lab: Lab, before: Any, thing: str) -> None:
    """Raise AssertionError unless *thing* (one of :data:`.removals.THINGS`) existed *before*
    the cleanup (:func:`record_before_cleanup`) and is gone now, read back from the cloud.

    Nothing to remove is no pass: a learner who never built the alarm did not delete it.
    "Gone" is, for the function role's policies, detached; for the KMS keys, pending deletion.
    """
    if not isinstance(before, dict) or thing not in before:
        raise AssertionError(t("grading.removed.no_record"))
    ids = before[thing]
    kind = {"role_policies": "detached", "keys": "scheduled"}.get(thing, "removed")
    what = "" if thing == "keys" else _what(lab, thing)
    if not ids:
        raise AssertionError(t(f"grading.{kind}.never", what=what))
    # On AWS a read right after a delete may still show the resource (IAM above all).
    left = lab.until_consistent(lambda: removals.still_there(lab, thing, ids), retry_if=bool)
    if left:
        raise AssertionError(t(f"grading.{kind}.still", what=what,
                               left=", ".join(sorted(left))))


# -- notebook 08: when Slack misbehaves -------------------------------------------------------
def assert_flaky_role_policy(lab: Lab) -> None:
    """Raise AssertionError unless the inline policies of notebook 08's role allow what its
    function needs: ``ssm:GetParameter`` on the webhook's parameter and ``sqs:SendMessage`` on
    the dead-letter queue (exercise 08.1's ``put_role_policy``)."""
    names = flaky_names(lab.config.prefix)
    iam = lab.client("iam")
    try:
        policy_names = iam.list_role_policies(RoleName=names.role)["PolicyNames"]
        documents = [iam.get_role_policy(RoleName=names.role, PolicyName=name)["PolicyDocument"]
                     for name in policy_names]
    except iam.exceptions.NoSuchEntityException:
        raise AssertionError(t("grading.role_policy.no_role", role=names.role)) from None
    needs = {
        "ssm:GetParameter": f"arn:aws:ssm:{lab.region}:{lab.account}:parameter/{names.parameter}",
        "sqs:SendMessage": f"arn:aws:sqs:{lab.region}:{lab.account}:{names.queue}",
    }
    missing = [f"{action} → {resource.replace(lab.account, '<account>')}"
               for action, resource in needs.items()
               if not evaluate(documents, action, resource).allowed]
    if missing:
        raise AssertionError(t("grading.role_policy.missing", role=names.role,
                               missing="; ".join(missing)))


def _alarm_name(body: str) -> str:
    """The alarm's name in a dead-lettered SNS event ("" when the body is not one)."""
    try:
        message = json.loads(json.loads(body)["Records"][0]["Sns"]["Message"])
        return str(message.get("AlarmName", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def assert_redriven(lab: Lab, dead_letter: Any, after_id: int = 0) -> None:
    """Raise AssertionError unless the event notebook 08 found in the dead-letter queue
    (*dead_letter*) reached its Slack channel exactly once (messages after *after_id*) and the
    queue holds no message any more (exercise 08's redrive)."""
    names = flaky_names(lab.config.prefix)
    alarm = _alarm_name(dead_letter.get("Body", "")) if isinstance(dead_letter, dict) else ""
    if not alarm:
        raise AssertionError(t("grading.redrive.no_dead_letter"))
    messages = lab.slack_messages(after=after_id or 0, channel=names.channel)
    count = sum(alarm in json.dumps(m["payload"], ensure_ascii=False) for m in messages)
    if count != 1:
        raise AssertionError(t("grading.redrive.not_once", alarm=alarm, channel=names.channel,
                               count=count))
    sqs = lab.client("sqs")
    url = sqs.get_queue_url(QueueName=names.queue)["QueueUrl"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    left = sum(int(value) for value in counts.values())
    if left:
        raise AssertionError(t("grading.redrive.queue_not_empty", queue=names.queue, count=left))


# -- notebook 06: the alarm's quick test on AWS -----------------------------------------------
def assert_set_by_hand(lab: Lab, alarm_quick_test: Any) -> None:
    """Raise AssertionError unless the learner's alarm went to ALARM by ``set_alarm_state``
    (its history shows the change without evaluated datapoints): exercise 06's quick test.

    It applies on target ``aws`` with ``alarm_quick_test`` only; anywhere else the exercise's
    code does not run, and this prints so and passes (the course's test is worth 0 points).
    """
    if lab.is_local or not alarm_quick_test:
        print(t("grading.quick_test.not_applicable"))
        return
    cloudwatch = lab.client("cloudwatch")

    def set_by_hand() -> bool:
        return any(state == "ALARM" and not evaluated
                   for state, evaluated in alarm_state_changes(cloudwatch, lab.names.alarm))

    # The history lags the state on AWS by a few seconds.
    if not lab.until_consistent(set_by_hand, retry_if=lambda found: not found):
        raise AssertionError(t("grading.quick_test.not_set", alarm=lab.names.alarm))
