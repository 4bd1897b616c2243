"""The lab's pipeline as a CloudFormation stack, deployed on a real local cloud as on AWS.

The template follows the shape ``labkit export cloudformation`` writes (topic, subscription,
permission, role, decrypt policy, key and alias, log group, function, alarm). A stack deploys in
two phases (its key first, then the webhook encrypted with it), and then works end to end: a
publish to its topic, or its alarm on a breach, reaches the local Slack through its own
function. A stack that cannot be made rolls back; a deleted stack leaves nothing.

One local cloud (own LABKIT_HOME, a half-second alarm tick) serves the module; every test
deploys its own stack, with its own name prefix, Slack channel and Student tag.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from labkit.local import cloud
from labkit.local.cloudwatch import alarms

from .support import poll

pytestmark = pytest.mark.integration

REGION = "ap-northeast-2"
NOTIFIER = Path(__file__).resolve().parents[2] / "labkit" / "functions" / "slack_notifier.py"
BUCKET, CODE_KEY = "stack-code", "slack_notifier.zip"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class Cloud:
    """Clients of the module's local cloud, its local Slack, and the function's zip in S3."""

    def __init__(self, state: Any) -> None:
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name=REGION)
        self.client = lambda name: session.client(name, endpoint_url=state.endpoint_url)
        self.slack_http, self.slack_https = state.slack_http_url, state.slack_https_url
        self.cfn = self.client("cloudformation")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.write(NOTIFIER, "slack_notifier.py")
        s3 = self.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key=CODE_KEY, Body=buffer.getvalue())

    def webhook(self, channel: str) -> str:
        answer = requests.post(self.slack_http + "/labkit/slack/webhooks",
                               json={"channel": channel}, timeout=10).json()
        return self.slack_https + answer["path"]

    def slack(self, channel: str) -> list[dict]:
        return requests.get(self.slack_http + "/api/messages", params={"channel": channel},
                            timeout=10).json()["messages"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("stacks-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(alarms.TICK_VARIABLE, "0.5")
        state, _, _ = cloud.up(home)
    yield Cloud(state)
    cloud.down(home)


class Learner:
    """One test's stack: its prefix, channel and lab tags."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"s{tag}-"
        self.stack = f"stack-{tag}"
        self.channel = f"stack-{tag}"
        self.instance = f"i-{tag}0123456789"
        self.tags = {"Project": "cloudwatch-slack-lab", "Student": f"student-{tag}",
                     "ManagedBy": "labkit"}

    @property
    def function(self) -> str:
        return f"{self.prefix}mission-lambda"

    def parameters(self, encrypted_webhook: str = "") -> list[dict[str, str]]:
        values = {"NamePrefix": self.prefix, "EncryptedWebhook": encrypted_webhook,
                  "InstanceId": self.instance, "CodeS3Bucket": BUCKET, "CodeS3Key": CODE_KEY}
        return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def sub(text: str) -> dict:
    return {"Fn::Sub": text}


def ref(name: str) -> dict:
    return {"Ref": name}


def arn_of(name: str) -> dict:
    return {"Fn::GetAtt": [name, "Arn"]}


def template(learner: Learner, decrypt: bool = True, **extra: dict) -> str:
    """The pipeline's template (the export's shape); without the decrypt policy if not
    *decrypt*; *extra* resources added."""
    tags = [{"Key": key, "Value": value} for key, value in learner.tags.items()]
    statement = [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": arn_of("Key"),
                  "Condition": {"StringEquals": {
                      "kms:EncryptionContext:LambdaFunctionName":
                          sub("${NamePrefix}mission-lambda")}}}]
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": sub("${NamePrefix}mission-sns"), "Tags": tags}},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": ref("Topic"), "Protocol": "lambda", "Endpoint": arn_of("Function")}},
        "InvokePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": ref("Function"), "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com", "SourceArn": ref("Topic")}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": sub("${NamePrefix}mission-lambda-role"),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [BASIC_EXECUTION], "Tags": tags}},
        "DecryptPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "ManagedPolicyName": sub("${NamePrefix}AwsLambdaKmsExcutionPolicy"),
            "Roles": [ref("Role")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statement}}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
                "Sid": "root", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
                "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")}}]},
            "Tags": tags}},
        "KeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": sub("alias/${NamePrefix}mission-kms-key"), "TargetKeyId": ref("Key")}},
        "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": sub("/aws/lambda/${NamePrefix}mission-lambda"), "Tags": tags}},
        "Function": {"Type": "AWS::Lambda::Function",
                     "DependsOn": ["LogGroup", "DecryptPolicy"] if decrypt else ["LogGroup"],
                     "Properties": {
            "FunctionName": sub("${NamePrefix}mission-lambda"), "Runtime": "python3.12",
            "Handler": "slack_notifier.lambda_handler", "Role": arn_of("Role"), "Timeout": 30,
            "MemorySize": 128, "KmsKeyArn": arn_of("Key"),
            "Code": {"S3Bucket": ref("CodeS3Bucket"), "S3Key": ref("CodeS3Key")},
            "Environment": {"Variables": {"slackChannel": learner.channel,
                                          "kmsEncryptedHookUrl": ref("EncryptedWebhook")}},
            "Tags": tags}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": sub("${NamePrefix}mission-cpu-alarm"), "Namespace": "AWS/EC2",
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": ref("InstanceId")}],
            "Statistic": "Average", "Period": 10, "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1, "Threshold": 50,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing",
            "AlarmActions": [ref("Topic")], "OKActions": [ref("Topic")], "Tags": tags}},
    }
    if not decrypt:
        del resources["DecryptPolicy"]
    resources.update(extra)
    return json.dumps({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "NamePrefix": {"Type": "String"},
            "EncryptedWebhook": {"Type": "String", "NoEcho": True, "Default": ""},
            "InstanceId": {"Type": "String"},
            "CodeS3Bucket": {"Type": "String"}, "CodeS3Key": {"Type": "String"}},
        "Resources": resources,
        "Outputs": {"TopicArn": {"Value": ref("Topic")}, "FunctionName": {"Value": ref("Function")},
                    "KeyArn": {"Value": arn_of("Key")}, "AlarmName": {"Value": ref("Alarm")}},
    })


def stack_of(lab: Cloud, name: str) -> dict:
    return lab.cfn.describe_stacks(StackName=name)["Stacks"][0]


def outputs(stack: dict) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def deploy(lab: Cloud, learner: Learner, **template_options: Any) -> dict[str, str]:
    """Both phases: create with no webhook, encrypt it with the stack's key, update. The
    stack's outputs."""
    lab.cfn.create_stack(StackName=learner.stack, TemplateBody=template(learner,
                                                                          **template_options),
                         Parameters=learner.parameters(), Capabilities=["CAPABILITY_NAMED_IAM"])
    created = stack_of(lab, learner.stack)
    assert created["StackStatus"] == "CREATE_COMPLETE", events(lab, learner.stack)
    key_arn = outputs(created)["KeyArn"]
    blob = lab.client("kms").encrypt(
        KeyId=key_arn, Plaintext=lab.webhook(learner.channel).encode(),
        EncryptionContext={"LambdaFunctionName": learner.function})["CiphertextBlob"]
    lab.cfn.update_stack(StackName=learner.stack, UsePreviousTemplate=True,
                         Parameters=learner.parameters(base64.b64encode(blob).decode()),
                         Capabilities=["CAPABILITY_NAMED_IAM"])
    updated = stack_of(lab, learner.stack)
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    return outputs(updated)


def events(lab: Cloud, stack: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of each event, oldest first."""
    found = lab.cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
            for e in reversed(found)]


def tagged(lab: Cloud, learner: Learner) -> dict[str, dict[str, str]]:
    """ARN -> tags of what the tagging API finds by the learner's lab tags."""
    found = lab.client("resourcegroupstaggingapi").get_resources(TagFilters=[
        {"Key": key, "Values": [value]} for key, value in learner.tags.items()])
    return {item["ResourceARN"]: {tag["Key"]: tag["Value"] for tag in item["Tags"]}
            for item in found["ResourceTagMappingList"]}


def sns_event(text: str) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "Subject": "Stack test", "Message": text,
        "Timestamp": "2026-01-01T00:00:00.000Z", "TopicArn": "arn:aws:sns:x"}}]}


# -- (a) two-phase deploy, then a publish reaches Slack through the stack's function ------------

def test_a_deployed_stack_delivers_a_publish_to_slack_through_its_own_function(lab):
    learner = Learner()
    out = deploy(lab, learner)
    lam = lab.client("lambda")
    config = lam.get_function_configuration(FunctionName=learner.function)
    assert out["FunctionName"] == learner.function
    assert config["KMSKeyArn"] == out["KeyArn"]
    ciphertext = config["Environment"]["Variables"]["kmsEncryptedHookUrl"]
    assert ciphertext != ""  # updated in place
    # A NoEcho parameter never shows its value, as on AWS.
    shown = {p["ParameterKey"]: p["ParameterValue"]
             for p in stack_of(lab, learner.stack)["Parameters"]}
    assert shown["EncryptedWebhook"] == "****"
    assert shown["NamePrefix"] == learner.prefix

    resources = {r["LogicalResourceId"]: r for r in
                 lab.cfn.describe_stack_resources(StackName=learner.stack)["StackResources"]}
    assert set(resources) == {"Topic", "Subscription", "InvokePermission", "Role",
                              "DecryptPolicy", "Key", "KeyAlias", "LogGroup", "Function", "Alarm"}
    assert all(r["PhysicalResourceId"] for r in resources.values())
    assert resources["InvokePermission"]["PhysicalResourceId"].startswith(
        f"{learner.stack}-InvokePermission-")
    subscriptions = lab.client("sns").list_subscriptions_by_topic(
        TopicArn=out["TopicArn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in subscriptions] == [
        ("lambda", config["FunctionArn"], resources["Subscription"]["PhysicalResourceId"])]
    statement, = json.loads(lam.get_policy(FunctionName=learner.function)["Policy"])["Statement"]
    assert statement["Sid"] == resources["InvokePermission"]["PhysicalResourceId"]
    role = lab.client("iam").list_attached_role_policies(
        RoleName=f"{learner.prefix}mission-lambda-role")["AttachedPolicies"]
    assert {p["PolicyName"] for p in role} == {"AWSLambdaBasicExecutionRole",
                                               f"{learner.prefix}AwsLambdaKmsExcutionPolicy"}

    # The template's tags, and CloudFormation's own, on every resource that takes tags.
    found = tagged(lab, learner)
    kinds = sorted(arn.split(":")[2] for arn in found)
    assert kinds == ["cloudwatch", "kms", "lambda", "logs", "sns"], found
    for tags in found.values():
        assert tags["aws:cloudformation:stack-name"] == learner.stack
        assert tags["aws:cloudformation:logical-id"] in ("Topic", "Key", "LogGroup", "Function",
                                                         "Alarm")
    role_tags = lab.client("iam").list_role_tags(
        RoleName=f"{learner.prefix}mission-lambda-role")["Tags"]
    assert {t["Key"]: t["Value"] for t in role_tags} == learner.tags

    lab.client("sns").publish(TopicArn=out["TopicArn"], Subject="Stack test",
                              Message="Hello from the stack")
    message, = poll(lambda: lab.slack(learner.channel))
    assert "Hello from the stack" in json.dumps(message)


# -- (b) no kms:Decrypt for the role: deploys, but the function is denied -----------------------

def test_without_the_decrypt_policy_the_stack_deploys_but_its_function_is_denied(lab):
    learner = Learner()
    deploy(lab, learner, decrypt=False)
    answer = lab.client("lambda").invoke(FunctionName=learner.function,
                                         Payload=json.dumps(sns_event("denied?")))
    payload = answer["Payload"].read().decode()
    assert answer.get("FunctionError"), payload
    # IAM denied the role's Decrypt; KMS answers it as AWS does (never naming the policy).
    error = json.loads(payload)
    assert error["errorType"] == "WebhookConfigError"
    assert "(AccessDeniedException). Attach a policy allowing the action kms:Decrypt" in \
        error["errorMessage"]
    assert error["errorMessage"].endswith(
        "KMS said: The ciphertext refers to a customer master key that does not exist, does not "
        "exist in this region, or you are not allowed to access.")
    assert lab.slack(learner.channel) == []


# -- (c) the stack's alarm evaluates and its notification reaches Slack -------------------------

def test_the_stack_s_alarm_goes_to_alarm_on_a_breach_and_notifies_slack(lab):
    learner = Learner()
    out = deploy(lab, learner)
    cw = lab.client("cloudwatch")
    alarm, = cw.describe_alarms(AlarmNames=[out["AlarmName"]])["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["AlarmActions"] == [out["TopicArn"]] and alarm["OKActions"] == [out["TopicArn"]]
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": learner.instance}]
    assert alarm["Period"] == 10 and alarm["Threshold"] == 50.0

    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{
        "MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId",
                                                        "Value": learner.instance}],
        "Timestamp": datetime.now(timezone.utc) - timedelta(seconds=10), "Value": 96.0,
        "Unit": "Percent", "StorageResolution": 1}])
    poll(lambda: cw.describe_alarms(AlarmNames=[out["AlarmName"]])["MetricAlarms"][0][
        "StateValue"] == "ALARM")
    message, = poll(lambda: lab.slack(learner.channel))
    posted = json.dumps(message)
    assert out["AlarmName"] in posted and "ALARM" in posted


# -- (d) a stack that cannot be made rolls back --------------------------------------------------

@pytest.mark.parametrize("broken, cause", [
    ({"Type": "AWS::SNS::TopicPolicy", "DependsOn": ["Alarm", "Subscription"],
      "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {}}},
     "the local cloud cannot make AWS::SNS::TopicPolicy resources"),
    ({"Type": "AWS::CloudWatch::Alarm", "DependsOn": ["Alarm", "Subscription"],
      "Properties": {"AlarmName": "no-operator", "EvaluationPeriods": 1}},
     "required property or reference 'ComparisonOperator' is missing"),
], ids=["unsupported type", "missing property"])
def test_a_stack_whose_resource_fails_rolls_back_and_leaves_nothing(lab, broken, cause):
    learner = Learner()
    lab.cfn.create_stack(StackName=learner.stack, TemplateBody=template(learner, Broken=broken),
                         Parameters=learner.parameters(), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert stack_of(lab, learner.stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    happened = events(lab, learner.stack)
    failed = [(status, reason) for logical, status, reason in happened if logical == "Broken"]
    reason = f"Broken ({broken['Type']}) could not be created: {cause}"
    assert failed == [("CREATE_IN_PROGRESS", ""), ("CREATE_FAILED", reason)]
    made = [logical for logical, status, _ in happened if status == "CREATE_COMPLETE"]
    deleted = [logical for logical, status, _ in happened if status == "DELETE_COMPLETE"]
    assert set(made) == {"Topic", "Subscription", "InvokePermission", "Role", "DecryptPolicy",
                         "Key", "KeyAlias", "LogGroup", "Function", "Alarm"}
    assert deleted == made[::-1]  # newest first
    assert happened[-1][:2] == (learner.stack, "ROLLBACK_COMPLETE")
    assert (learner.stack, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: "
            "[Broken]. Rollback requested by user.") in happened
    assert lab.cfn.describe_stack_resources(StackName=learner.stack)["StackResources"] == []
    assert nothing_left(lab, learner)


# -- (e) deleting the stack deletes everything it made -------------------------------------------

def test_deleting_the_stack_leaves_nothing_behind(lab):
    learner = Learner()
    deploy(lab, learner)
    stack_id = stack_of(lab, learner.stack)["StackId"]
    lab.cfn.delete_stack(StackName=learner.stack)
    deleted = lab.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert events(lab, stack_id)[-1][:2] == (learner.stack, "DELETE_COMPLETE")
    assert not [e for e in events(lab, stack_id) if e[1] == "DELETE_FAILED"]
    assert nothing_left(lab, learner)


def nothing_left(lab: Cloud, learner: Learner) -> bool:
    """Every service, asked for what the learner's stack made: only its key remains, pending
    deletion (as AWS keeps it for its waiting period)."""
    found = tagged(lab, learner)
    kms = lab.client("kms")
    assert [arn.split(":")[2] for arn in found] == ["kms"], found
    key, = found
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not [a for a in kms.list_aliases()["Aliases"] if learner.prefix in a["AliasName"]]
    iam = lab.client("iam")
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(learner.prefix)]
    assert not [p for p in iam.list_policies(Scope="Local")["Policies"]
                if p["PolicyName"].startswith(learner.prefix)]
    logs = lab.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/"
                                                                     f"{learner.prefix}")
    assert logs["logGroups"] == []
    sns = lab.client("sns")
    assert not [t for t in sns.list_topics()["Topics"] if learner.prefix in t["TopicArn"]]
    assert not [s for s in sns.list_subscriptions()["Subscriptions"]
                if learner.prefix in s["TopicArn"]]
    assert lab.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=learner.prefix)["MetricAlarms"] == []
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lab.client("lambda").get_function(FunctionName=learner.function)
    return True


# -- an SQS subscription, and the stack's own tags -----------------------------------------------

def test_a_stack_s_sqs_subscription_delivers_and_its_tags_reach_its_resources(lab):
    name = f"queue-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": ref("Topic"), "Protocol": "sqs", "Endpoint": arn_of("Queue"),
            "RawMessageDelivery": True}}}})
    lab.cfn.create_stack(StackName=name, TemplateBody=body, Tags=[{"Key": "Course",
                                                                     "Value": name}])
    assert stack_of(lab, name)["StackStatus"] == "CREATE_COMPLETE"
    topic = f"arn:aws:sns:{REGION}:123456789012:{name}"
    assert lab.client("sns").list_tags_for_resource(ResourceArn=topic)["Tags"] == [
        {"Key": "Course", "Value": name}, {"Key": "aws:cloudformation:stack-name", "Value": name},
        {"Key": "aws:cloudformation:stack-id", "Value": stack_of(lab, name)["StackId"]},
        {"Key": "aws:cloudformation:logical-id", "Value": "Topic"}]

    sqs = lab.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    lab.client("sns").publish(TopicArn=topic, Message="to the queue")
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in received] == ["to the queue"]  # raw delivery

    lab.cfn.delete_stack(StackName=name)
    assert not [s for s in lab.client("sns").list_subscriptions()["Subscriptions"]
                if s["TopicArn"] == topic]
