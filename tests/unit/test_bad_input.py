"""Bad input gets a clear message: what is wrong and what to do, checked table by table."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from labkit.aws import Identity, check_account
from labkit.config import LabConfig, check_account_id, check_region
from labkit.consistency import NEW_ROLE, matches
from labkit.errors import LabError, check_ours, explain, left_as_is, parse_denial, tags_as_dict
from labkit.names import kms_tag_list, standard_tags, tag_list

ME = "arn:aws:iam::123456789012:user/kim"


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


# -- the region ---------------------------------------------------------------------------------
@pytest.mark.parametrize("region, words", [
    ("seoul", "Did you mean 'ap-northeast-2'?"),
    ("Tokyo", "Did you mean 'ap-northeast-1'?"),
    ("Ireland", "Did you mean 'eu-west-1'?"),
    ("ap-northeast2", "Did you mean 'ap-northeast-2'?"),
    ("AP-NORTHEAST-2", "Did you mean 'ap-northeast-2'?"),
    (" us-east-1 ", "Did you mean 'us-east-1'?"),
    ("us-east1", "Did you mean 'us-east-1'?"),
    ("ap-northeast-9", "is not an AWS region code."),
    ("", "a region code looks like 'ap-northeast-2'"),
    ("Asia", "a region code looks like 'ap-northeast-2'"),
])
def test_a_wrong_region_names_the_right_one(region, words):
    with pytest.raises(LabError) as raised:
        check_region(region)
    message = str(raised.value)
    assert repr(region) in raised.value.what
    assert words in message
    assert "Set region to a code such as 'ap-northeast-2' (Seoul)." in raised.value.todo


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1", "eu-central-1"])
def test_real_regions_pass(region):
    assert check_region(region) == region


# -- the expected account -------------------------------------------------------------------------
@pytest.mark.parametrize("value, kept", [
    ("", ""),
    (None, ""),
    ("123456789012", "123456789012"),
    ("1234-5678-9012", "123456789012"),
    (" 1234 5678 9012 ", "123456789012"),
    (12345678901, "012345678901"),
])
def test_account_ids_are_read_as_twelve_digits(value, kept):
    assert check_account_id(value) == kept


@pytest.mark.parametrize("value", ["12345", "1234567890123", "my-account", "arn:aws:iam::1:root"])
def test_a_wrong_account_id_is_refused_with_where_to_find_it(value):
    with pytest.raises(LabError) as raised:
        LabConfig(expected_account_id=value, known_regions=["ap-northeast-2"])
    assert "is not an AWS account id" in raised.value.what
    assert "12 digits" in raised.value.todo and "AWS console" in raised.value.todo


@pytest.mark.parametrize("expected", ["", "123456789012"])
def test_the_right_account_or_none_expected_goes_on(expected):
    check_account(Identity("123456789012", ME, "ap-northeast-2"), expected)


def test_the_wrong_account_says_which_one_and_how_to_switch(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with pytest.raises(LabError) as raised:
        check_account(Identity("123456789012", ME, "ap-northeast-2"), "111122223333")
    assert "the default profile" in raised.value.what
    assert "account 123456789012" in raised.value.what and ME in raised.value.what
    assert "AWS_PROFILE" in raised.value.todo
    assert "expected_account_id = '123456789012'" in raised.value.todo


# -- missing permissions, in every service's wording ---------------------------------------------
def deny(action: str, resource: str = "", tail: str = "") -> str:
    on = f" on resource: {resource}" if resource else ""
    tail = tail or f"because no identity-based policy allows the {action} action"
    return f"User: {ME} is not authorized to perform: {action}{on} {tail}"


DENIALS = [
    # (code, message, operation, the permission named)
    ("AccessDenied", deny("iam:CreateRole", "arn:aws:iam::123456789012:role/mission-lambda-role"),
     "CreateRole", "iam:CreateRole"),
    ("AccessDenied", deny("iam:CreatePolicy", "arn:aws:iam::123456789012:policy/P"),
     "CreatePolicy", "iam:CreatePolicy"),
    ("AccessDenied", deny("sts:AssumeRole", "arn:aws:iam::123456789012:role/Admin"),
     "AssumeRole", "sts:AssumeRole"),
    ("AuthorizationError",
     deny("SNS:CreateTopic", "arn:aws:sns:ap-northeast-2:123456789012:mission-sns"),
     "CreateTopic", "sns:CreateTopic"),
    ("AccessDenied", deny("sqs:createqueue", "arn:aws:sqs:ap-northeast-2:123456789012:q"),
     "CreateQueue", "sqs:CreateQueue"),
    ("AccessDeniedException",
     deny("lambda:CreateFunction", "arn:aws:lambda:ap-northeast-2:123456789012:function:f"),
     "CreateFunction", "lambda:CreateFunction"),
    ("AccessDeniedException", deny("iam:PassRole", "arn:aws:iam::123456789012:role/r"),
     "CreateFunction", "iam:PassRole"),
    ("AccessDeniedException", deny("kms:CreateKey"), "CreateKey", "kms:CreateKey"),
    ("AccessDenied",
     deny("cloudwatch:PutMetricAlarm", "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:a"),
     "PutMetricAlarm", "cloudwatch:PutMetricAlarm"),
    ("AccessDeniedException", deny("logs:FilterLogEvents", "arn:aws:logs:x:1:log-group:g"),
     "FilterLogEvents", "logs:FilterLogEvents"),
    ("UnauthorizedOperation",
     "You are not authorized to perform this operation. "
     + deny("ec2:RunInstances", "arn:aws:ec2:ap-northeast-2:123456789012:instance/*")
     + ". Encoded authorization failure message: AbC123-xyz_987",
     "RunInstances", "ec2:RunInstances"),
    ("UnauthorizedOperation",
     "You are not authorized to perform this operation. Encoded authorization failure "
     "message: AbC123-xyz_987", "RunInstances", "ec2:RunInstances"),
]


@pytest.mark.parametrize("code, message, operation, action", DENIALS)
def test_access_denied_names_the_permission(code, message, operation, action):
    what, todo = explain(client_error(code, message, operation))
    assert what.startswith(f"AWS denied {operation}")
    assert f"the permission {action}" in what
    assert action in todo
    assert left_as_is() in todo  # what the cell made stays; re-running is safe; 07 removes it


@pytest.mark.parametrize("code, message, operation, action", DENIALS)
def test_the_denied_permission_is_parsed(code, message, operation, action):
    denial = parse_denial(message, operation, code)
    assert denial is not None and denial.action == action
    assert denial.encoded == ("Encoded authorization" in message)


def test_the_denied_resource_and_who_are_named():
    message = deny("iam:CreateRole", "arn:aws:iam::123456789012:role/kim.role")
    what, _ = explain(client_error("AccessDenied", message, "CreateRole"))
    assert ME in what and "on arn:aws:iam::123456789012:role/kim.role." in what


def test_an_encoded_denial_says_how_to_decode_it():
    _, todo = explain(client_error("UnauthorizedOperation", DENIALS[-1][1], "RunInstances"))
    assert "aws sts decode-authorization-message" in todo


@pytest.mark.parametrize("tail, words", [
    ("with an explicit deny in a service control policy", "service control policy"),
    ("with an explicit deny in a permissions boundary", "permissions boundary"),
    ("with an explicit deny in an identity-based policy", "a policy attached to you"),
])
def test_an_explicit_deny_is_not_fixed_by_adding_an_allow(tail, words):
    message = deny("iam:CreateRole", "arn:aws:iam::123456789012:role/r", tail)
    _, todo = explain(client_error("AccessDenied", message, "CreateRole"))
    assert "explicit Deny" in todo and words in todo and "cannot override" in todo


def test_a_key_policy_denial_points_at_the_key_policy():
    message = (f"User: {ME} is not authorized to perform: kms:Encrypt on this resource because "
               "the resource does not exist in this Region, no resource-based policies allow "
               "access, or a resource-based policy explicitly denies access")
    what, todo = explain(client_error("AccessDeniedException", message, "Encrypt"))
    assert "kms:Encrypt" in what and "key policy" in todo and "region" in todo


def test_a_denial_without_details_still_says_what_to_do():
    what, todo = explain(client_error("AccessDenied", "Access Denied", "CreateRole"))
    assert "AWS denied CreateRole (AccessDenied)" in what
    assert "CreateRole" in todo and left_as_is() in todo


# -- other answers a learner meets --------------------------------------------------------------
@pytest.mark.parametrize("code, message, operation, what_words, todo_words", [
    ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", "AttachRolePolicy",
     "An account quota stopped AttachRolePolicy", "Service Quotas"),
    ("LimitExceededException", "Too many keys", "CreateKey", "quota", "Service Quotas"),
    ("VcpuLimitExceeded", "You have requested more vCPU capacity", "RunInstances", "quota",
     "Service Quotas"),
    ("TopicLimitExceeded", "Topic limit exceeded", "CreateTopic", "quota", "Service Quotas"),
    ("CodeStorageExceededException", "Code storage limit exceeded", "CreateFunction", "quota",
     "Service Quotas"),
])
def test_a_quota_says_what_was_left_and_how_to_go_on(code, message, operation, what_words,
                                                       todo_words):
    what, todo = explain(client_error(code, message, operation))
    assert what_words in what and message in what
    assert todo_words in todo and left_as_is() in todo


@pytest.mark.parametrize("code, message, operation, what_words, todo_words", [
    ("RequestLimitExceeded", "Request limit exceeded.", "DescribeInstances", "throttling",
     "wait a minute"),
    ("ThrottlingException", "Rate exceeded", "Invoke", "throttling", "wait a minute"),
    ("ExpiredToken", "The security token included in the request is expired", "CreateTopic",
     "refused the credentials", "log in again"),
    ("UnrecognizedClientException", "The security token included in the request is invalid.",
     "CreateFunction", "refused the credentials", "opt-in regions"),
    ("InvalidParameterValueException", "The role defined for the function cannot be assumed by "
     "Lambda.", "CreateFunction", "Lambda cannot use the role yet", "wait 10 seconds"),
    ("EntityAlreadyExists", "Role with name mission-lambda-role already exists.", "CreateRole",
     "the name is taken", "student = 'yourname'"),
    ("InvalidParameter", "Invalid parameter: Tags Reason: Topic already exists with different "
     "tags", "CreateTopic", "not this lab's", "delete it"),
    ("KMSInvalidStateException", "arn:aws:kms:x:1:key/k is pending deletion.", "Encrypt",
     "pending deletion", "Run notebook 04 again"),
    ("NoSuchEntity", "The role with name x cannot be found.", "GetRole", "cannot be found",
     "run that notebook first"),
])
def test_other_aws_answers_get_a_next_step(code, message, operation, what_words, todo_words):
    what, todo = explain(client_error(code, message, operation))
    assert what_words in what
    assert todo_words in todo


def test_an_expired_sso_session_says_to_log_in():
    from botocore.exceptions import UnauthorizedSSOTokenError

    what, todo = explain(UnauthorizedSSOTokenError())
    assert "SSO session" in what and "aws sso login" in todo


# -- a name taken by a resource that is not ours ------------------------------------------------
OURS = standard_tags("kim")


@pytest.mark.parametrize("tags", [
    OURS,
    {**OURS, "CostCenter": "42"},
    tag_list(OURS),
    kms_tag_list(OURS),
])
def test_our_tags_in_any_shape_pass(tags):
    check_ours("IAM role", "kim-mission-lambda-role", tags, OURS)


@pytest.mark.parametrize("tags, shown", [
    (None, "no tags"),
    ([], "no tags"),
    ({"Team": "data"}, "Team=data"),
    (standard_tags("lee"), "Student=lee"),
    ([{"TagKey": "Project", "TagValue": "cloudwatch-slack-lab"}], "Project=cloudwatch-slack-lab"),
])
def test_a_resource_without_our_tags_is_left_alone(tags, shown):
    with pytest.raises(LabError) as raised:
        check_ours("SNS topic", "kim-mission-sns", tags, OURS)
    what, todo = raised.value.what, raised.value.todo
    assert "SNS topic 'kim-mission-sns' already exists but is not this lab's" in what
    assert shown in what and "Student=kim" in what and "untouched" in what
    assert "delete it" in todo and "student = 'yourname'" in todo


def test_tags_as_dict_reads_every_shape():
    assert tags_as_dict([{"Key": "a", "Value": "1"}]) == {"a": "1"}
    assert tags_as_dict([{"TagKey": "a", "TagValue": "1"}]) == {"a": "1"}
    assert tags_as_dict({"a": 1}) == {"a": "1"}
    assert tags_as_dict(None) == {}


# -- which errors mean "AWS has not caught up yet" -------------------------------------------------
@pytest.mark.parametrize("code, message, retry_on, retried", [
    ("InvalidParameterValueException", "The role defined for the function cannot be assumed by "
     "Lambda.", NEW_ROLE, True),
    ("InvalidParameterValueException", "Unsupported runtime", NEW_ROLE, False),
    ("AccessDeniedException", "anything", ("AccessDeniedException",), True),
    ("AccessDenied", "anything", ("AccessDeniedException",), False),
    ("NotFoundException", "Alias alias/x is not found.", ("NotFoundException: is not found",),
     True),
])
def test_retry_on_matches_code_and_message(code, message, retry_on, retried):
    assert matches(client_error(code, message, "X"), retry_on) is retried
