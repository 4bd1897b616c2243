"""The IAM allow/deny matrix, written from the IAM User Guide's evaluation and condition rules."""

import json

import pytest

from labkit.local.iam.policy import (
    ALLOWED,
    EXPLICIT_DENY,
    NO_ALLOW,
    Decision,
    condition_test,
    evaluate,
    match_arn_like,
    match_resource,
    normalise_context,
    service_can_assume,
)

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:ap-northeast-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:ap-northeast-2:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
TOPIC = f"arn:aws:sns:ap-northeast-2:{ACCOUNT}:mission-sns"
LAMBDA_CONTEXT = {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}


def allow(action, resource="*", condition=None, sid=None, not_action=False, not_resource=False):
    statement = {"Effect": "Allow",
                 ("NotAction" if not_action else "Action"): action,
                 ("NotResource" if not_resource else "Resource"): resource}
    if condition is not None:
        statement["Condition"] = condition
    if sid is not None:
        statement["Sid"] = sid
    return {"Version": "2012-10-17", "Statement": [statement]}


def deny(action, resource="*", condition=None, sid=None):
    policy = allow(action, resource, condition, sid)
    policy["Statement"][0]["Effect"] = "Deny"
    return policy


KMS_DECRYPT_ON_KEY_WITH_CONTEXT = allow(
    "kms:Decrypt", KEY,
    {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}},
    sid="AllowDecryptForMissionLambda")
BASIC_EXECUTION = allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])

# (name, policies, action, resource, context, expected reason)
MATRIX = [
    # evaluation logic: implicit deny, allow, explicit deny wins
    ("no policies at all", [], "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("basic execution only: the lab's failure", [BASIC_EXECUTION], "kms:Decrypt", KEY,
     LAMBDA_CONTEXT, NO_ALLOW),
    ("basic execution allows logs", [BASIC_EXECUTION], "logs:PutLogEvents",
     "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/x:log-stream:s", {}, ALLOWED),
    ("allow on the key", [allow("kms:Decrypt", KEY)], "kms:Decrypt", KEY, {}, ALLOWED),
    ("allow on another key", [allow("kms:Decrypt", OTHER_KEY)], "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("another action", [allow("kms:Encrypt", KEY)], "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("explicit deny beats allow", [allow("kms:*"), deny("kms:Decrypt", KEY)], "kms:Decrypt", KEY,
     {}, EXPLICIT_DENY),
    ("deny on another key leaves allow", [allow("kms:*"), deny("kms:Decrypt", OTHER_KEY)],
     "kms:Decrypt", KEY, {}, ALLOWED),
    ("deny alone", [deny("kms:Decrypt")], "kms:Decrypt", KEY, {}, EXPLICIT_DENY),
    ("deny in one policy, allow in another order", [deny("*"), allow("*")], "sns:Publish", TOPIC,
     {}, EXPLICIT_DENY),
    # action wildcards, case-insensitive
    ("action star", [allow("*")], "kms:Decrypt", KEY, {}, ALLOWED),
    ("service star", [allow("kms:*")], "kms:Decrypt", KEY, {}, ALLOWED),
    ("prefix star", [allow("kms:De*")], "kms:Decrypt", KEY, {}, ALLOWED),
    ("prefix star no match", [allow("kms:En*")], "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("question mark", [allow("kms:Decryp?")], "kms:Decrypt", KEY, {}, ALLOWED),
    ("question mark is one char", [allow("kms:Decry?")], "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("action case-insensitive", [allow("KMS:DECRYPT")], "kms:Decrypt", KEY, {}, ALLOWED),
    ("action list", [allow(["sns:Publish", "kms:Decrypt"])], "kms:Decrypt", KEY, {}, ALLOWED),
    ("other service star", [allow("sns:*")], "kms:Decrypt", KEY, {}, NO_ALLOW),
    # NotAction / NotResource
    ("NotAction excludes", [allow("kms:*", not_action=True)], "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("NotAction includes others", [allow("kms:*", not_action=True)], "sns:Publish", TOPIC, {},
     ALLOWED),
    ("NotResource excludes", [allow("kms:Decrypt", KEY, not_resource=True)], "kms:Decrypt", KEY,
     {}, NO_ALLOW),
    ("NotResource includes others", [allow("kms:Decrypt", OTHER_KEY, not_resource=True)],
     "kms:Decrypt", KEY, {}, ALLOWED),
    ("deny with NotAction spares the listed action",
     [allow("*"), {"Statement": {"Effect": "Deny", "NotAction": "kms:Decrypt", "Resource": "*"}}],
     "kms:Decrypt", KEY, {}, ALLOWED),
    # resource wildcards, case-sensitive
    ("all keys in the region", [allow("kms:Decrypt", "arn:aws:kms:ap-northeast-2:*:key/*")],
     "kms:Decrypt", KEY, {}, ALLOWED),
    ("keys of another region", [allow("kms:Decrypt", "arn:aws:kms:us-east-1:*:key/*")],
     "kms:Decrypt", KEY, {}, NO_ALLOW),
    ("resource is case-sensitive", [allow("kms:Decrypt", KEY.upper())], "kms:Decrypt", KEY, {},
     NO_ALLOW),
    ("key id prefix with ?", [allow("kms:Decrypt", KEY[:-2] + "??")], "kms:Decrypt", KEY, {},
     ALLOWED),
    ("resource list", [allow("kms:Decrypt", [OTHER_KEY, KEY])], "kms:Decrypt", KEY, {}, ALLOWED),
    ("trailing star runs past colons",
     [allow("logs:PutLogEvents", "arn:aws:logs:*:*:log-group:/aws/lambda/mission-lambda:*")],
     "logs:PutLogEvents",
     "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/lambda/mission-lambda:log-stream:a",
     {}, ALLOWED),
    ("a specific ARN does not cover an action without resource",
     [allow("cloudwatch:PutMetricData", KEY)], "cloudwatch:PutMetricData", "*", {}, NO_ALLOW),
    # Statement as a single object, document as JSON text
    ("statement object", [{"Statement": {"Effect": "Allow", "Action": "kms:Decrypt",
                                         "Resource": KEY}}], "kms:Decrypt", KEY, {}, ALLOWED),
    ("JSON text document", [json.dumps(allow("kms:Decrypt", KEY))], "kms:Decrypt", KEY, {},
     ALLOWED),
    ("statement without Resource never allows",
     [{"Statement": {"Effect": "Allow", "Action": "*"}}], "kms:Decrypt", KEY, {}, NO_ALLOW),
    # the lesson's policy: kms:Decrypt on the key ARN, conditioned on the encryption context
    ("lesson policy, right context", [BASIC_EXECUTION, KMS_DECRYPT_ON_KEY_WITH_CONTEXT],
     "kms:Decrypt", KEY, LAMBDA_CONTEXT, ALLOWED),
    ("lesson policy, other function's context", [KMS_DECRYPT_ON_KEY_WITH_CONTEXT],
     "kms:Decrypt", KEY, {"kms:EncryptionContext:LambdaFunctionName": "other"}, NO_ALLOW),
    ("lesson policy, no context", [KMS_DECRYPT_ON_KEY_WITH_CONTEXT], "kms:Decrypt", KEY, {},
     NO_ALLOW),
    ("lesson policy, other key", [KMS_DECRYPT_ON_KEY_WITH_CONTEXT], "kms:Decrypt", OTHER_KEY,
     LAMBDA_CONTEXT, NO_ALLOW),
    ("context key names are case-insensitive", [KMS_DECRYPT_ON_KEY_WITH_CONTEXT], "kms:Decrypt",
     KEY, {"KMS:encryptioncontext:lambdafunctionname": "mission-lambda"}, ALLOWED),
    ("StringEquals values are case-sensitive", [KMS_DECRYPT_ON_KEY_WITH_CONTEXT], "kms:Decrypt",
     KEY, {"kms:EncryptionContext:LambdaFunctionName": "Mission-Lambda"}, NO_ALLOW),
    ("conditional deny applies", [allow("kms:*"), deny("kms:Decrypt", KEY, {
        "StringNotEquals": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}})],
     "kms:Decrypt", KEY, {"kms:EncryptionContext:LambdaFunctionName": "other"}, EXPLICIT_DENY),
    ("conditional deny does not apply", [allow("kms:*"), deny("kms:Decrypt", KEY, {
        "StringNotEquals": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}})],
     "kms:Decrypt", KEY, LAMBDA_CONTEXT, ALLOWED),
    ("conditional deny, key missing: negated operator is true", [allow("kms:*"), deny(
        "kms:Decrypt", KEY,
        {"StringNotEquals": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}})],
     "kms:Decrypt", KEY, {}, EXPLICIT_DENY),
    ("IfExists allows when the key is missing", [allow("kms:Decrypt", KEY, {
        "StringEqualsIfExists": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}})],
     "kms:Decrypt", KEY, {}, ALLOWED),
    ("IfExists still checks a present key", [allow("kms:Decrypt", KEY, {
        "StringEqualsIfExists": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}})],
     "kms:Decrypt", KEY, {"kms:EncryptionContext:LambdaFunctionName": "x"}, NO_ALLOW),
    ("two keys AND", [allow("kms:Decrypt", KEY, {"StringEquals": {
        "kms:EncryptionContext:LambdaFunctionName": "mission-lambda",
        "kms:CallerAccount": ACCOUNT}})], "kms:Decrypt", KEY, LAMBDA_CONTEXT, NO_ALLOW),
    ("two keys AND, both present", [allow("kms:Decrypt", KEY, {"StringEquals": {
        "kms:EncryptionContext:LambdaFunctionName": "mission-lambda",
        "kms:CallerAccount": ACCOUNT}})], "kms:Decrypt", KEY,
     {**LAMBDA_CONTEXT, "kms:CallerAccount": ACCOUNT}, ALLOWED),
    ("values OR", [allow("kms:Decrypt", KEY, {"StringEquals": {
        "kms:EncryptionContext:LambdaFunctionName": ["a", "mission-lambda"]}})],
     "kms:Decrypt", KEY, LAMBDA_CONTEXT, ALLOWED),
    ("two operators AND", [allow("kms:Decrypt", KEY, {
        "StringEquals": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"},
        "Bool": {"aws:SecureTransport": "true"}})], "kms:Decrypt", KEY,
     {**LAMBDA_CONTEXT, "aws:SecureTransport": False}, NO_ALLOW),
    ("ArnLike on the principal", [allow("kms:Decrypt", KEY, {
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/mission-*"}})], "kms:Decrypt", KEY,
     {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/mission-lambda-role"}, ALLOWED),
    ("unknown operator never applies", [allow("kms:Decrypt", KEY, {
        "StringSortOf": {"kms:CallerAccount": ACCOUNT}})], "kms:Decrypt", KEY,
     {"kms:CallerAccount": ACCOUNT}, NO_ALLOW),
]


@pytest.mark.parametrize("name,policies,action,resource,context,reason", MATRIX,
                         ids=[row[0] for row in MATRIX])
def test_matrix(name, policies, action, resource, context, reason):
    decision = evaluate(policies, action, resource, context)
    assert decision.reason == reason
    assert decision.allowed is (reason == ALLOWED)


def test_decision_names_the_deciding_statement():
    assert evaluate([KMS_DECRYPT_ON_KEY_WITH_CONTEXT], "kms:Decrypt", KEY, LAMBDA_CONTEXT) == \
        Decision(True, ALLOWED, "AllowDecryptForMissionLambda")
    assert evaluate([allow("*", sid="All"), deny("kms:*", sid="NoKms")], "kms:Decrypt", KEY) == \
        Decision(False, EXPLICIT_DENY, "NoKms")
    assert evaluate([], "kms:Decrypt", KEY) == Decision(False, NO_ALLOW, None)


# (operator, key, policy values, request context, expected)
CONDITIONS = [
    ("StringEquals", "k", ["a"], {"k": "a"}, True),
    ("StringEquals", "k", ["a"], {"k": "A"}, False),
    ("StringEquals", "k", ["a"], {}, False),
    ("StringNotEquals", "k", ["a"], {"k": "b"}, True),
    ("StringNotEquals", "k", ["a", "b"], {"k": "b"}, False),
    ("StringNotEquals", "k", ["a"], {}, True),
    ("StringEqualsIgnoreCase", "k", ["mission-LAMBDA"], {"k": "Mission-lambda"}, True),
    ("StringNotEqualsIgnoreCase", "k", ["A"], {"k": "a"}, False),
    ("StringLike", "k", ["mission-*"], {"k": "mission-lambda"}, True),
    ("StringLike", "k", ["mission-?"], {"k": "mission-ab"}, False),
    ("StringLike", "k", ["Mission-*"], {"k": "mission-lambda"}, False),
    ("StringLike", "k", ["*"], {}, False),
    ("StringNotLike", "k", ["mission-*"], {"k": "other"}, True),
    ("StringNotLike", "k", ["mission-*"], {"k": "mission-x"}, False),
    ("StringNotLike", "k", ["mission-*"], {}, True),
    ("ArnEquals", "k", [KEY], {"k": KEY}, True),
    ("ArnEquals", "k", ["arn:aws:kms:*:*:key/*"], {"k": KEY}, True),
    ("ArnLike", "k", ["arn:aws:kms:*:*:key/*"], {"k": TOPIC}, False),
    ("ArnLike", "k", ["arn:aws:kms:*"], {"k": KEY}, False),  # every segment must be there
    ("ArnLike", "k", [KEY], {}, False),
    ("ArnNotEquals", "k", [KEY], {"k": OTHER_KEY}, True),
    ("ArnNotLike", "k", ["arn:aws:kms:*:*:key/*"], {"k": KEY}, False),
    ("ArnNotLike", "k", [KEY], {}, True),
    ("Bool", "aws:SecureTransport", ["true"], {"aws:SecureTransport": True}, True),
    ("Bool", "aws:SecureTransport", ["true"], {"aws:SecureTransport": "false"}, False),
    ("Bool", "aws:SecureTransport", ["false"], {}, False),
    ("BoolIfExists", "aws:SecureTransport", ["false"], {}, True),
    ("Null", "k", ["true"], {}, True),
    ("Null", "k", ["true"], {"k": "x"}, False),
    ("Null", "k", ["false"], {"k": "x"}, True),
    ("Null", "k", ["false"], {}, False),
    ("NumericLessThan", "n", ["10"], {"n": 5}, True),
    ("NumericLessThan", "n", ["10"], {"n": "x"}, False),
    ("StringEqualsIfExists", "k", ["a"], {}, True),
    ("StringEqualsIfExists", "k", ["a"], {"k": "b"}, False),
    ("ArnLikeIfExists", "k", ["arn:aws:kms:*:*:key/*"], {}, True),
    # multivalued keys
    ("ForAllValues:StringEquals", "keys", ["LambdaFunctionName"],
     {"keys": ["LambdaFunctionName"]}, True),
    ("ForAllValues:StringEquals", "keys", ["LambdaFunctionName"],
     {"keys": ["LambdaFunctionName", "Extra"]}, False),
    ("ForAllValues:StringEquals", "keys", ["LambdaFunctionName"], {}, True),  # vacuously
    ("ForAllValues:StringEquals", "keys", ["LambdaFunctionName"], {"keys": []}, True),
    ("ForAnyValue:StringEquals", "keys", ["LambdaFunctionName"],
     {"keys": ["Extra", "LambdaFunctionName"]}, True),
    ("ForAnyValue:StringEquals", "keys", ["LambdaFunctionName"], {"keys": ["Extra"]}, False),
    ("ForAnyValue:StringEquals", "keys", ["LambdaFunctionName"], {}, False),
    ("ForAnyValue:StringEqualsIfExists", "keys", ["LambdaFunctionName"], {}, True),
    ("ForAllValues:StringLike", "keys", ["Lambda*"], {"keys": ["LambdaA", "LambdaB"]}, True),
    ("ForAnyValue:StringNotEquals", "keys", ["a"], {"keys": ["a", "b"]}, True),
    ("ForAllValues:StringNotEquals", "keys", ["a"], {"keys": ["a", "b"]}, False),
    ("ForSomeValues:StringEquals", "keys", ["a"], {"keys": ["a"]}, False),  # not an IAM qualifier
]


@pytest.mark.parametrize("operator,key,values,context,expected", CONDITIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONDITIONS)])
def test_condition_operators(operator, key, values, context, expected):
    assert condition_test(operator, key, values, normalise_context(context)) is expected


@pytest.mark.parametrize("pattern,resource,expected", [
    ("*", "anything at all", True),
    ("arn:aws:sns:*:*:mission-*", TOPIC, True),
    ("arn:aws:sns:*:*:mission-?ns", TOPIC, True),
    ("arn:aws:sns:ap-*:123456789012:mission-sns", TOPIC, True),
    # a '*' inside a segment stays inside it
    ("arn:aws:sns:ap*sns", TOPIC, False),
    ("arn:aws:*", TOPIC, True),
])
def test_resource_wildcards(pattern, resource, expected):
    assert match_resource(pattern, resource) is expected


def test_arn_like_checks_every_segment():
    assert match_arn_like("arn:aws:iam::*:role/*", f"arn:aws:iam::{ACCOUNT}:role/r")
    assert not match_arn_like("arn:aws:iam::*:role/*", f"arn:aws:iam::{ACCOUNT}:user/u")
    assert not match_arn_like("not-an-arn", "not-an-arn")


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


@pytest.mark.parametrize("trust,expected", [
    (LAMBDA_TRUST, True),
    (json.dumps(LAMBDA_TRUST), True),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com",
                                                                 "lambda.amazonaws.com"]},
                    "Action": ["sts:AssumeRole", "sts:TagSession"]}}, True),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole"}}, False),
    ({"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "sts:AssumeRole"}}, False),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity"}}, False),
    ({"Statement": [LAMBDA_TRUST["Statement"][0],
                    {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}]}, False),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}}, True),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}}, False),
    ({"Statement": []}, False),
])
def test_trust_policy(trust, expected):
    assert service_can_assume(trust, "lambda.amazonaws.com",
                              {"aws:SourceAccount": ACCOUNT}) is expected
