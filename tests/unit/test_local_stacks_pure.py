"""The pure parts of the local cloud's CloudFormation: tags, requests made from a template's
properties, failure reasons (the stacks themselves: tests/integration/test_local_stacks.py)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import pytest

from labkit.local import moto_patches
from labkit.local.cloudformation import resources, stacks
from labkit.local.server import is_cloudformation_request

STACK_TAGS = {"Team": "blue", "aws:cloudformation:stack-name": "mystack",
              "aws:cloudformation:stack-id": "arn:aws:cloudformation:r:1:stack/mystack/x"}
LAB_TAGS = [{"Key": "Project", "Value": "cloudwatch-slack-lab"}, {"Key": "Team", "Value": "red"}]


def test_a_resource_gets_the_stack_s_tags_its_logical_id_and_its_own_tags_which_win():
    tags = resources.resource_tags("AWS::Lambda::Function", LAB_TAGS, STACK_TAGS, "Function")
    assert resources.tag_dict(tags) == {
        "Team": "red", "Project": "cloudwatch-slack-lab",
        "aws:cloudformation:stack-name": "mystack",
        "aws:cloudformation:stack-id": "arn:aws:cloudformation:r:1:stack/mystack/x",
        "aws:cloudformation:logical-id": "Function"}


def test_a_role_gets_no_aws_tags_and_an_untagged_type_keeps_its_properties():
    role = resources.resource_tags("AWS::IAM::Role", LAB_TAGS, STACK_TAGS, "Role")
    assert resources.tag_dict(role) == {"Team": "red", "Project": "cloudwatch-slack-lab"}
    assert resources.resource_tags("AWS::KMS::Alias", None, STACK_TAGS, "KeyAlias") is None
    entry = {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/x"}}
    assert stacks.with_tags(entry, STACK_TAGS, "KeyAlias") is entry


def test_tags_given_by_reference_stay_for_the_template_parser_to_resolve():
    written = [{"Key": "Student", "Value": {"Ref": "Student"}}]
    entry = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t", "Tags": written}}
    tagged = stacks.with_tags(entry, {}, "Topic")
    assert tagged["Properties"]["Tags"][-1] == written[0]
    assert entry["Properties"]["Tags"] == written  # the template itself is left as written


def test_a_function_s_request_keeps_its_tags_and_key_and_zips_inline_code():
    spec = resources.function_spec("fn", {
        "FunctionName": "ignored", "Runtime": "python3.12", "Handler": "index.handler",
        "Role": "arn:aws:iam::1:role/r", "KmsKeyArn": "arn:aws:kms:r:1:key/k",
        "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"},
        "Environment": {"Variables": {"A": "1"}}, "Tags": LAB_TAGS})
    assert spec["FunctionName"] == "fn" and spec["KMSKeyArn"] == "arn:aws:kms:r:1:key/k"
    assert spec["Tags"] == {"Project": "cloudwatch-slack-lab", "Team": "red"}
    assert spec["Environment"] == {"Variables": {"A": "1"}} and "KmsKeyArn" not in spec
    with zipfile.ZipFile(io.BytesIO(spec["Code"]["ZipFile"])) as archive:
        assert archive.read("index.py").decode().startswith("def handler")
    s3 = resources.function_spec("fn", {"Code": {"S3Bucket": "b", "S3Key": "k.zip"}})
    assert s3["Code"] == {"S3Bucket": "b", "S3Key": "k.zip"}


def test_an_alarm_s_request_from_its_properties():
    arguments = resources.alarm_arguments("cpu", {
        "Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Statistic": "Average",
        "Period": "10", "EvaluationPeriods": 2, "DatapointsToAlarm": 1, "Threshold": "50",
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}], "AlarmActions": ["arn:t"],
        "OKActions": ["arn:t"], "ActionsEnabled": "false", "Tags": LAB_TAGS})
    assert arguments["name"] == "cpu" and arguments["period"] == 10
    assert arguments["threshold"] == 50.0 and arguments["evaluation_periods"] == 2
    assert arguments["dimensions"] == [{"Name": "InstanceId", "Value": "i-1"}]
    assert arguments["alarm_actions"] == ["arn:t"] and arguments["ok_actions"] == ["arn:t"]
    assert arguments["actions_enabled"] is False and arguments["tags"] == LAB_TAGS
    with pytest.raises(KeyError, match="ComparisonOperator"):
        resources.alarm_arguments("cpu", {"EvaluationPeriods": 1})
    with pytest.raises(ValueError, match="Metrics"):
        resources.alarm_arguments("cpu", {"Metrics": [], "EvaluationPeriods": 1,
                                          "ComparisonOperator": "LessThanThreshold"})


def test_subscription_attributes_are_text():
    assert resources.subscription_attributes({
        "TopicArn": "t", "FilterPolicy": {"severity": ["high"]}, "RawMessageDelivery": True,
    }) == {"FilterPolicy": '{"severity": ["high"]}', "RawMessageDelivery": "true"}


class Refused(Exception):
    def __init__(self) -> None:
        super().__init__("refused")
        self.error_type = "InvalidParameterValueException"
        self.message = "Topic names must be made up of only letters"


def test_a_failure_reason_names_the_resource_and_the_cause():
    assert stacks.failure_reason("Key", "AWS::KMS::Key", KeyError("TagKey")) == (
        "Key (AWS::KMS::Key) could not be created: required property or reference 'TagKey' is "
        "missing")
    assert stacks.failure_reason("Topic", "AWS::SNS::Topic", Refused()) == (
        "Topic (AWS::SNS::Topic) could not be created: InvalidParameterValueException: Topic "
        "names must be made up of only letters")
    assert stacks.failure_reason("X", "AWS::A::B", ValueError("no")) == (
        "X (AWS::A::B) could not be created: no")
    # Never a KeyError: moto's Mapping.get would swallow it.
    assert not isinstance(stacks.ResourceFailed("X", "why"), KeyError)


def test_labkit_s_models_are_those_of_their_types():
    assert set(resources.MODELS) == {
        "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::IAM::Role", "AWS::Lambda::Function",
        "AWS::Lambda::Permission", "AWS::SNS::Subscription", "AWS::CloudWatch::Alarm"}
    assert resources.StackAlarm.cloudformation_name_type() == "AlarmName"
    assert resources.StackAlarm.has_cfn_attr("Arn") and not resources.StackAlarm.has_cfn_attr("X")


def test_cloudformation_requests_are_told_by_their_signature():
    signed = ("AWS4-HMAC-SHA256 Credential=testing/20260101/ap-northeast-2/cloudformation/"
              "aws4_request, SignedHeaders=host, Signature=0")
    assert is_cloudformation_request({"HTTP_AUTHORIZATION": signed})
    assert not is_cloudformation_request({"HTTP_AUTHORIZATION": signed.replace(
        "cloudformation", "sns")})
    assert not is_cloudformation_request({})


def test_the_local_cloud_starts_without_moto_s_cloudformation():
    """Its patches wait for the first CloudFormation request: importing it takes seconds."""
    assert moto_patches.AT_START | moto_patches.ON_FIRST_STACK == {
        hook.labkit for hook in moto_patches.TABLE}
    assert all(hook.labkit in moto_patches.ON_FIRST_STACK for hook in moto_patches.TABLE
               if hook.module.startswith("moto.cloudformation") and hook.use.name != "READ")
    done = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from labkit.local import moto_patches\n"
        "moto_patches.install(only=moto_patches.AT_START)\n"
        "print(any(name.startswith('moto.cloudformation') for name in sys.modules))\n")],
        capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
