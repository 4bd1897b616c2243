"""IAM for functions on a real local cloud: role credentials obey the role's policies.

One local cloud (own LABKIT_HOME) serves the whole module; every test makes its own role, key
and names, so the tests do not depend on each other.
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from labkit.local.iam import authz

from .support import error_of

pytestmark = pytest.mark.integration

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
CONTEXT = {"LambdaFunctionName": "mission-lambda"}
DECRYPT_DENIED = ("The ciphertext refers to a customer master key that does not exist, "
                  "does not exist in this region, or you are not allowed to access.")



@pytest.fixture
def learner(endpoint):
    """Clients with the learner's own credentials ("testing"): never restricted."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=REGION)
    return lambda service: session.client(service, endpoint_url=endpoint)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_role(learner, trust=LAMBDA_TRUST, basic_execution=True) -> str:
    iam = learner("iam")
    name = unique("fn-role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if basic_execution:
        iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)
    return arn


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def role_credentials(endpoint, role_arn, session_name="mission-lambda") -> requests.Response:
    return requests.post(f"{endpoint}/labkit/iam/role-credentials",
                         json={"role_arn": role_arn, "session_name": session_name}, timeout=10)


@pytest.fixture
def as_role(endpoint):
    """``as_role(role_arn)(service)`` → a client signed with the role's function credentials."""
    def for_role(role_arn, session_name="mission-lambda"):
        answer = role_credentials(endpoint, role_arn, session_name)
        assert answer.status_code == 200, answer.text
        creds = answer.json()
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"], region_name=REGION)
        return lambda service: session.client(service, endpoint_url=endpoint)
    return for_role


def make_key(learner, context=CONTEXT, plaintext=b"hooks.slack.com/services/T0/B0/X"):
    kms = learner("kms")
    key = kms.create_key(Description=unique("key"))["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext,
                       EncryptionContext=context)["CiphertextBlob"]
    return key, blob


def put_inline_policy(learner, role_arn, name, *statements):
    learner("iam").put_role_policy(
        RoleName=role_name(role_arn), PolicyName=name,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def decrypt_policy(key_arn, function="mission-lambda"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DecryptTheWebhook", "Effect": "Allow", "Action": "kms:Decrypt",
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": function}}}]})



def not_authorized(role_arn, action, resource=None, session="mission-lambda", deny=False):
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name(role_arn)}/{session}"
    on = f" on resource: {resource}" if resource else ""
    why = ("with an explicit deny in an identity-based policy" if deny
           else f"because no identity-based policy allows the {action} action")
    return f"User: {principal} is not authorized to perform: {action}{on} {why}"


# -- the lesson: decrypt denied until the policy is attached -----------------------------------

def test_decrypt_is_denied_until_the_lesson_policy_is_attached(learner, as_role):
    role = make_role(learner)
    key, blob = make_key(learner)
    kms = as_role(role)("kms")

    status, code, message = error_of(lambda: kms.decrypt(CiphertextBlob=blob,
                                                         EncryptionContext=CONTEXT))
    assert (status, code, message) == (400, "AccessDeniedException", DECRYPT_DENIED)

    iam = learner("iam")
    policy_arn = iam.create_policy(PolicyName=unique("AwsLambdaKmsExcutionPolicy"),
                                   PolicyDocument=decrypt_policy(key["Arn"]))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role_name(role), PolicyArn=policy_arn)

    answer = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert answer["Plaintext"] == b"hooks.slack.com/services/T0/B0/X"
    assert answer["KeyId"] == key["Arn"]

    # The same credentials, once the policy is detached again: denied again.
    iam.detach_role_policy(RoleName=role_name(role), PolicyArn=policy_arn)
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT))[1] == \
        "AccessDeniedException"


def test_the_policy_covers_only_its_key_and_its_encryption_context(learner, as_role):
    role = make_role(learner)
    key, blob = make_key(learner)
    other_key, other_blob = make_key(learner)
    _, other_context_blob = make_key(learner, context={"LambdaFunctionName": "other-function"})
    learner("iam").put_role_policy(RoleName=role_name(role), PolicyName="decrypt",
                                   PolicyDocument=decrypt_policy(key["Arn"]))
    kms = as_role(role)("kms")

    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["KeyId"] == key["Arn"]
    for ciphertext, context in [(other_blob, CONTEXT),
                                (other_context_blob, {"LambdaFunctionName": "other-function"}),
                                (blob, {"LambdaFunctionName": "other-function"})]:
        status, code, message = error_of(
            lambda: kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext=context))
        assert (status, code, message) == (400, "AccessDeniedException", DECRYPT_DENIED)
    # Without an encryption context the condition's key is missing: IAM refuses first.
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob))[1] == "AccessDeniedException"


def test_an_explicit_deny_wins(learner, as_role):
    role = make_role(learner)
    key, blob = make_key(learner)
    put_inline_policy(learner, role, "all-kms",
                      {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    kms = as_role(role)("kms")
    assert kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")["KeyId"] == key["Arn"]

    put_inline_policy(learner, role, "no-encrypt", {
        "Effect": "Deny", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key["Arn"]})
    status, code, message = error_of(lambda: kms.encrypt(KeyId=key["Arn"], Plaintext=b"x"))
    assert (status, code) == (400, "AccessDeniedException")
    assert message == not_authorized(role, "kms:Encrypt", key["Arn"], deny=True)
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT))[2] == \
        DECRYPT_DENIED
    # Other keys are still covered by the Allow.
    other_key, _ = make_key(learner)
    assert kms.encrypt(KeyId=other_key["KeyId"], Plaintext=b"x")["KeyId"] == other_key["Arn"]


def test_key_ids_aliases_and_arns_all_name_the_key_arn(learner, as_role):
    role = make_role(learner)
    key, _ = make_key(learner)
    alias = unique("alias/mission-kms-key")
    learner("kms").create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    put_inline_policy(learner, role, "encrypt",
                      {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key["Arn"]})
    kms = as_role(role)("kms")
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    for key_id in (key["KeyId"], key["Arn"], alias, alias_arn):
        assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == key["Arn"]

    other_key, _ = make_key(learner)
    status, code, message = error_of(lambda: kms.encrypt(KeyId=other_key["KeyId"], Plaintext=b"x"))
    assert message == not_authorized(role, "kms:Encrypt", other_key["Arn"])


def test_the_learners_own_calls_are_never_restricted(learner, as_role):
    role = make_role(learner)
    key, blob = make_key(learner)
    put_inline_policy(learner, role, "deny-all", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    as_role(role)  # the role has live credentials and a deny-all policy ...
    kms = learner("kms")  # ... which does not touch the learner's "testing" credentials
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["KeyId"] == key["Arn"]
    assert learner("sns").create_topic(Name=unique("t"))["TopicArn"]
    assert learner("sts").get_caller_identity()["Account"] == ACCOUNT


# -- AWSLambdaBasicExecutionRole and the trust policy -------------------------------------------

def test_basic_execution_role_is_the_real_policy_and_allows_only_logs(learner, as_role):
    iam = learner("iam")
    policy = iam.get_policy(PolicyArn=BASIC_EXECUTION)["Policy"]
    document = iam.get_policy_version(PolicyArn=BASIC_EXECUTION,
                                      VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    statements = document["Document"]["Statement"]
    actions = {action for statement in statements for action in statement["Action"]}
    assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}

    role = make_role(learner)  # attaches it by name
    attached = iam.list_attached_role_policies(RoleName=role_name(role))["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC_EXECUTION}]

    client = as_role(role)
    logs = client("logs")
    group = f"/aws/lambda/{unique('fn')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2024/01/01/[$LATEST]abc")
    logs.put_log_events(logGroupName=group, logStreamName="2024/01/01/[$LATEST]abc",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "START"}])
    # The request body reached moto unchanged: the learner reads the event back.
    events = learner("logs").get_log_events(logGroupName=group,
                                            logStreamName="2024/01/01/[$LATEST]abc")["events"]
    assert [event["message"] for event in events] == ["START"]

    status, code, message = error_of(lambda: logs.describe_log_groups())
    assert (status, code) == (400, "AccessDeniedException")
    assert message == not_authorized(role, "logs:DescribeLogGroups")


def test_a_role_lambda_cannot_assume_gets_awss_message(endpoint, learner):
    ec2_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    for role_arn in (make_role(learner, trust=ec2_trust),
                     f"arn:aws:iam::{ACCOUNT}:role/{unique('no-such-role')}"):
        answer = role_credentials(endpoint, role_arn)
        assert answer.status_code == 400
        assert answer.json()["code"] == "InvalidParameterValueException"
        assert answer.json()["message"] == \
            "The role defined for the function cannot be assumed by Lambda."


def test_issued_credentials_are_moto_sts_credentials(endpoint, learner, as_role):
    role = make_role(learner)
    answer = role_credentials(endpoint, role, "mission-lambda").json()
    assert answer["AccessKeyId"].startswith("ASIA")
    assert answer["SecretAccessKey"] and answer["SessionToken"] and answer["Expiration"]
    identity = as_role(role)("sts").get_caller_identity()  # needs no permission on AWS either
    assert identity["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name(role)}/mission-lambda"


# -- denials in each protocol, parsed by botocore -----------------------------------------------

def test_denials_reach_boto3_in_each_services_shape(learner, as_role):
    role = make_role(learner)
    client = as_role(role)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('mission-sns')}"
    function = unique("mission-lambda")
    cases = [
        # (call, HTTP status, code, action, resource)
        (lambda: client("sns").publish(TopicArn=topic, Message="x"), 403, "AuthorizationError",
         "SNS:Publish", topic),
        (lambda: client("ssm").get_parameter(Name="/mission/hook"), 400, "AccessDeniedException",
         "ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/mission/hook"),
        (lambda: client("secretsmanager").get_secret_value(SecretId="hook"), 400,
         "AccessDeniedException", "secretsmanager:GetSecretValue",
         f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:hook"),
        (lambda: client("lambda").invoke(FunctionName=function), 403, "AccessDeniedException",
         "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"),
        (lambda: client("sts").assume_role(RoleArn=role, RoleSessionName="again"), 403,
         "AccessDenied", "sts:AssumeRole", role),
        (lambda: client("sqs").send_message(QueueUrl=f"http://localhost/{ACCOUNT}/q",
                                            MessageBody="x"), 403, "AccessDenied",
         "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"),
        (lambda: client("cloudwatch").put_metric_data(
            Namespace="Lab", MetricData=[{"MetricName": "m", "Value": 1.0}]), 403, "AccessDenied",
         "cloudwatch:PutMetricData", None),
        (lambda: client("iam").list_roles(), 403, "AccessDenied", "iam:ListRoles", None),
    ]
    for call, status, code, action, resource in cases:
        assert error_of(call) == (status, code, not_authorized(role, action, resource)), action


def test_allowed_calls_reach_moto_with_their_body(learner, as_role):
    role = make_role(learner)
    topic = learner("sns").create_topic(Name=unique("mission-sns"))["TopicArn"]
    name = f"/mission/{unique('param')}"
    put_inline_policy(
        learner, role, "sns-ssm",
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:*:*:mission-sns-*"},
        {"Effect": "Allow", "Action": "ssm:*Parameter",
         "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/mission/*"})
    client = as_role(role)
    assert client("sns").publish(TopicArn=topic, Message="hello")["MessageId"]
    client("ssm").put_parameter(Name=name, Value="a value with spaces & symbols", Type="String")
    assert learner("ssm").get_parameter(Name=name)["Parameter"]["Value"] == \
        "a value with spaces & symbols"
    assert error_of(lambda: client("ssm").get_parameters(Names=[name]))[1] == \
        "AccessDeniedException"  # ssm:GetParameters is another action


def test_an_operation_it_cannot_name_is_checked_as_the_whole_service(endpoint, learner, as_role):
    role = make_role(learner)
    creds = role_credentials(endpoint, role).json()

    def signed_kms_call(target: str) -> requests.Response:
        request = AWSRequest(method="POST", url=endpoint + "/", data=b"{}", headers={
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"],
                              creds["SessionToken"]), "kms", REGION).add_auth(request)
        return requests.post(endpoint + "/", data=b"{}", headers=dict(request.headers), timeout=10)

    for target in ("TrentService", "TrentService.FrobnicateKey"):
        denied = signed_kms_call(target)
        assert denied.status_code == 400
        assert denied.json() == {"__type": "AccessDeniedException",
                                 "message": not_authorized(role, "kms:*")}
    put_inline_policy(learner, role, "all-kms",
                      {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    # Now the call goes on to moto, which answers whatever it answers: no longer a denial.
    assert "AccessDenied" not in signed_kms_call("TrentService.FrobnicateKey").text


def test_a_permissions_boundary_limits_what_policies_allow(learner, as_role):
    iam = learner("iam")
    boundary = iam.create_policy(PolicyName=unique("logs-only"), PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))["Policy"]["Arn"]
    name = unique("bounded-role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
                           PermissionsBoundary=boundary)["Role"]["Arn"]
    key, blob = make_key(learner)
    iam.put_role_policy(RoleName=name, PolicyName="decrypt",
                        PolicyDocument=decrypt_policy(key["Arn"]))
    kms = as_role(role)("kms")
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT))[2] == \
        DECRYPT_DENIED
    iam.delete_role_permissions_boundary(RoleName=name)
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["KeyId"] == key["Arn"]


def test_the_authorize_route_explains_a_decision(endpoint, learner):
    role = make_role(learner)
    key, _ = make_key(learner)
    learner("iam").put_role_policy(RoleName=role_name(role), PolicyName="decrypt",
                                   PolicyDocument=decrypt_policy(key["Arn"]))
    ask = {"role_arn": role, "action": "kms:Decrypt", "resource": key["Arn"],
           "context": {"kms:EncryptionContext:LambdaFunctionName": "mission-lambda"}}
    answer = requests.post(f"{endpoint}/labkit/iam/authorize", json=ask, timeout=10).json()
    assert answer == {"allowed": True, "reason": "allowed", "sid": "DecryptTheWebhook"}
    answer = requests.post(f"{endpoint}/labkit/iam/authorize",
                           json={**ask, "context": {}}, timeout=10).json()
    assert answer == {"allowed": False, "reason": "no allow", "sid": None}
    assert requests.get(f"{endpoint}/labkit/iam/authorize", timeout=10).status_code == 404
    assert requests.post(f"{endpoint}/labkit/iam/role-credentials", json={},
                         timeout=10).status_code == 400


# -- in-process: the moto internals authz reads are where it expects them -----------------------

def test_authz_in_process_against_moto_backends(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="in-process", AssumeRolePolicyDocument=json.dumps(
            LAMBDA_TRUST))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="in-process", PolicyArn=BASIC_EXECUTION)
        iam.put_role_policy(RoleName="in-process", PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}}))
        creds = authz.issue_role_credentials(ACCOUNT, role, "in-process")
        session = authz.session_for(creds["AccessKeyId"])
        assert session is not None and session.role_arn == role
        assert session.principal_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/in-process/in-process"
        assert authz.is_allowed(role, "logs:PutLogEvents", "*")
        assert authz.is_allowed(role, "sns:Publish", "arn:aws:sns:us-east-1:1:t")
        assert authz.authorize(role, "kms:Decrypt", "*").reason == "no allow"
        with pytest.raises(authz.RoleNotAssumableError) as raised:
            authz.issue_role_credentials(ACCOUNT, role.replace("in-process", "missing"), "x")
        assert str(raised.value) == "The role defined for the function cannot be assumed by Lambda."


@pytest.mark.parametrize("environ,body,action,params", [
    # An Invoke event is the function's payload, never request parameters.
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/2015-03-31/functions/fn/invocations",
      "CONTENT_TYPE": "application/json"}, b'{"FunctionName": "other", "Action": "Publish"}',
     "lambda:InvokeFunction", {"FunctionName": "fn"}),
    ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/2015-03-31/functions/fn/configuration"},
     b'{"Timeout": 3}', "lambda:UpdateFunctionConfiguration",
     {"FunctionName": "fn", "Timeout": 3}),
    ({"REQUEST_METHOD": "GET", "PATH_INFO": "/2015-03-31/functions/"}, b"",
     "lambda:ListFunctions", {}),
    ({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/2015-03-31/functions/fn/policy/sid-1"}, b"",
     "lambda:RemovePermission", {"FunctionName": "fn", "StatementId": "sid-1"}),
])
def test_rest_requests_are_named_from_the_service_model(environ, body, action, params):
    call = authz.describe_call(environ, body, authz.Credential("ASIAX", REGION, "lambda"))
    assert (call.action, call.params) == (action, params)
