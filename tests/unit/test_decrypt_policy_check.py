"""Check 05 judges the learner's decrypt policy: on the lab's key only, and only for the function."""

import json

import pytest

from labkit.checks.report import CheckReport
from labkit.checks.steps import decrypt_policy_expectations

KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab"
FUNCTION = "kim-mission-lambda"
RIGHT_CONDITION = {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": FUNCTION}}


def policy(resource=KEY, condition=RIGHT_CONDITION, action="kms:Decrypt"):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize("document, on_key_only, needs_context", [
    (policy(), True, True),
    (policy(action=["kms:Decrypt"], resource=[KEY]), True, True),
    (json.dumps(policy()), True, True),  # as IAM may hand the document back: a string
    (policy(condition=None), True, False),
    (policy(condition={"StringEquals": {
        "kms:EncryptionContext:LambdaFunctionName": "lee-mission-lambda"}}), True, False),
    (policy(condition={"StringLike": {
        "kms:EncryptionContext:LambdaFunctionName": "*"}}), True, False),
    (policy(condition={"StringEquals": {"kms:EncryptionContext:Function": FUNCTION}}),
     True, False),
    (policy(resource=OTHER_KEY), False, True),
    (policy(resource="*"), False, True),
    (policy(action="kms:Encrypt"), False, False),  # no decrypt grant at all
], ids=["right", "action-and-resource-as-lists", "document-as-string", "no-condition",
        "wrong-condition-value", "condition-matches-anything", "wrong-condition-key",
        "wrong-key-arn", "resource-star", "no-decrypt"])
def test_check_05_judges_the_decrypt_policy(document, on_key_only, needs_context):
    report = CheckReport("05")
    decrypt_policy_expectations(report, document, KEY, FUNCTION)
    assert [item.ok for item in report.items] == [on_key_only, needs_context]
    assert report.ok == (on_key_only and needs_context)


def test_a_failed_condition_says_what_to_add():
    report = CheckReport("05")
    decrypt_policy_expectations(report, policy(condition=None), KEY, FUNCTION)
    failed = [item for item in report.items if not item.ok]
    assert len(failed) == 1
    assert FUNCTION in failed[0].text
    assert "kms:EncryptionContext:LambdaFunctionName" in failed[0].hint
