"""Lab.ensure_ours when reading the existing resource's tags is denied: a LabError naming the
permission to add, not AWS's raw error (botocore's Stubber plays the denial)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from labkit import i18n
from labkit.errors import LabError

from .test_aws_target import REGION, aws, start_aws  # noqa: F401 (fixture)

FUNCTION_ARN = "arn:aws:lambda:ap-northeast-2:123456789012:function:kim-mission-lambda"
LAMBDA_DENIAL = ("User: arn:aws:iam::123456789012:user/kim is not authorized to perform: "
                 "lambda:ListTags on resource: " + FUNCTION_ARN + " because no identity-based "
                 "policy allows the lambda:ListTags action")


def denied_list_tags(message: str = LAMBDA_DENIAL, code: str = "AccessDeniedException"):
    lam = boto3.client("lambda", region_name=REGION)
    stub = Stubber(lam)
    stub.add_client_error("list_tags", code, message, 403,
                          expected_params={"Resource": FUNCTION_ARN})
    return lam, stub


def test_a_denied_list_tags_names_lambda_list_tags(aws):
    lab = start_aws(student="kim")
    lam, stub = denied_list_tags()
    with stub, pytest.raises(LabError) as raised:
        lab.ensure_ours("Lambda function", "kim-mission-lambda",
                        lambda: lam.list_tags(Resource=FUNCTION_ARN)["Tags"])
    what, todo = raised.value.what, raised.value.todo
    assert "Lambda function 'kim-mission-lambda' already exists" in what
    assert "read its tags" in what
    assert "arn:aws:iam::123456789012:user/kim does not have the permission lambda:ListTags" \
        in what
    assert todo.startswith("Add lambda:ListTags to a policy of arn:aws:iam::123456789012:user/kim")
    assert "docs/real-aws-checklist.md" in todo
    assert isinstance(raised.value.__cause__, lam.exceptions.ClientError)


def test_a_denial_that_does_not_name_the_action_is_named_from_the_call(aws):
    lab = start_aws()
    iam = boto3.client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("get_role", "AccessDenied", "Access denied", 403)
        with pytest.raises(LabError) as raised:
            lab.ensure_ours("IAM role", "mission-lambda-role",
                            lambda: iam.get_role(RoleName="mission-lambda-role")["Role"]["Tags"])
    assert "does not have the permission iam:GetRole" in raised.value.what
    assert "Add iam:GetRole" in raised.value.todo


def test_an_explicit_deny_says_who_must_lift_it(aws):
    lab = start_aws()
    lam, stub = denied_list_tags(LAMBDA_DENIAL.replace(
        "no identity-based policy allows", "an explicit deny in a service control policy "
        "denies"))
    with stub, pytest.raises(LabError) as raised:
        lab.ensure_ours("Lambda function", "kim-mission-lambda",
                        lambda: lam.list_tags(Resource=FUNCTION_ARN)["Tags"])
    assert "service control policy" in raised.value.todo
    assert "lambda:ListTags" in raised.value.todo


def test_the_message_is_in_korean_when_asked(aws):
    lab = start_aws(lang="ko")
    try:
        lam, stub = denied_list_tags()
        with stub, pytest.raises(LabError) as raised:
            lab.ensure_ours("Lambda function", "kim-mission-lambda",
                            lambda: lam.list_tags(Resource=FUNCTION_ARN)["Tags"])
    finally:
        i18n.set_language("en")
    assert "Lambda 함수 'kim-mission-lambda'" in raised.value.what
    assert "lambda:ListTags 권한이 없습니다" in raised.value.what


def test_other_errors_of_the_read_are_not_hidden(aws):
    lab = start_aws()
    lam, stub = denied_list_tags("Function not found", code="ResourceNotFoundException")
    with stub, pytest.raises(lam.exceptions.ResourceNotFoundException):
        lab.ensure_ours("Lambda function", "kim-mission-lambda",
                        lambda: lam.list_tags(Resource=FUNCTION_ARN)["Tags"])


def test_tags_read_by_a_function_are_checked_as_before(aws):
    lab = start_aws(student="kim")
    lam = boto3.client("lambda", region_name=REGION)
    with Stubber(lam) as stub:
        stub.add_response("list_tags", {"Tags": dict(lab.tags)}, {"Resource": FUNCTION_ARN})
        stub.add_response("list_tags", {"Tags": {"Team": "data"}}, {"Resource": FUNCTION_ARN})
        lab.ensure_ours("Lambda function", "kim-mission-lambda",
                        lambda: lam.list_tags(Resource=FUNCTION_ARN)["Tags"])
        with pytest.raises(LabError, match="Team=data"):
            lab.ensure_ours("Lambda function", "kim-mission-lambda",
                            lambda: lam.list_tags(Resource=FUNCTION_ARN)["Tags"])
    assert lab.is_ours(lab.tag_list) and not lab.is_ours({"Team": "data"})
    assert not lab.is_ours(None)
