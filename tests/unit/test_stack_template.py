"""The template of a learner's pipeline, built from a snapshot written out by hand: the
contract's parameters and resources, names made from NamePrefix, nothing of the learner's own,
and YAML that reads back and that cfn-lint finds nothing wrong with."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from labkit.names import standard_tags
from labkit.stack.lint import lint_template
from labkit.stack.template import (AlarmSnapshot, FunctionSnapshot, GetAtt, KeySnapshot,
                                   PipelineSnapshot, Ref, RoleSnapshot, Sub, build_template,
                                   leaks, load_template, render_template, template_text)

ACCOUNT = "210987654321"
REGION = "ap-northeast-2"
KEY_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
INSTANCE = "i-0123456789abcdef0"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
CONTEXT = "kms:EncryptionContext:LambdaFunctionName"


def snapshot(prefix: str = "", student: str = "") -> PipelineSnapshot:
    """What a finished lab (notebooks 00-06) holds for a learner, as the edge reads it."""
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
    function = f"{prefix}mission-lambda"
    return PipelineSnapshot(
        prefix=prefix, account=ACCOUNT, region=REGION,
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{prefix}mission-sns",
        subscription_protocol="lambda",
        role=RoleSnapshot(
            trust_policy={"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            managed_policy_arns=(BASIC, f"arn:aws:iam::{ACCOUNT}:policy/"
                                        f"{prefix}AwsLambdaKmsExcutionPolicy"),
            description="Execution role of the lab's Slack notifier"),
        function=FunctionSnapshot(runtime="python3.12",
                                  handler="slack_notifier.lambda_handler", timeout=10,
                                  memory_size=128,
                                  variable_names=("kmsEncryptedHookUrl", "slackChannel"),
                                  channel="project"),
        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}mission-lambda-role",
        decrypt_policy={"Version": "2012-10-17", "Statement": [{
            "Sid": "DecryptTheSlackWebhook", "Effect": "Allow", "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {CONTEXT: function}}}]},
        decrypt_policy_description="Lets the lab's function decrypt its webhook URL",
        key=KeySnapshot(arn=key_arn, key_id=KEY_ID, alias=f"alias/{prefix}mission-kms-key",
                        description="Encrypts the lab's Slack webhook URL",
                        policy={"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
                            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "kms:*", "Resource": "*"}]}),
        log_retention_days=7,
        alarm=AlarmSnapshot(namespace="AWS/EC2", metric_name="CPUUtilization",
                            statistic="Average", period=10, evaluation_periods=1,
                            datapoints_to_alarm=1, threshold=50.0,
                            comparison_operator="GreaterThanOrEqualToThreshold",
                            treat_missing_data="missing", instance_id=INSTANCE),
        tags=standard_tags(student))


@functools.cache
def template(prefix: str = "") -> dict:
    return build_template(snapshot(prefix))


@functools.cache
def text(prefix: str = "") -> str:
    return template_text(snapshot(prefix))


def properties(logical_id: str) -> dict:
    return template()["Resources"][logical_id]["Properties"]


# -- the contract --------------------------------------------------------------------------------


def test_the_parameters_are_exactly_the_contracts():
    parameters = template()["Parameters"]
    assert list(parameters) == ["NamePrefix", "EncryptedWebhook", "InstanceId", "CodeS3Bucket",
                                "CodeS3Key"]
    assert all(p["Type"] == "String" for p in parameters.values())
    assert parameters["EncryptedWebhook"]["NoEcho"] is True
    assert parameters["EncryptedWebhook"]["Default"] == ""
    assert [name for name, p in parameters.items() if "NoEcho" in p] == ["EncryptedWebhook"]


@pytest.mark.parametrize("logical_id, kind", [
    ("Topic", "AWS::SNS::Topic"),
    ("Subscription", "AWS::SNS::Subscription"),
    ("InvokePermission", "AWS::Lambda::Permission"),
    ("Role", "AWS::IAM::Role"),
    ("DecryptPolicy", "AWS::IAM::ManagedPolicy"),
    ("Key", "AWS::KMS::Key"),
    ("KeyAlias", "AWS::KMS::Alias"),
    ("LogGroup", "AWS::Logs::LogGroup"),
    ("Function", "AWS::Lambda::Function"),
    ("Alarm", "AWS::CloudWatch::Alarm"),
])
def test_each_resource_has_its_logical_id_and_type(logical_id, kind):
    assert template()["Resources"][logical_id]["Type"] == kind


def test_the_resources_are_those_of_the_contract_in_its_order():
    assert list(template()["Resources"]) == [
        "Topic", "Subscription", "InvokePermission", "Role", "DecryptPolicy", "Key", "KeyAlias",
        "LogGroup", "Function", "Alarm"]
    assert list(template()) == ["AWSTemplateFormatVersion", "Description", "Parameters",
                                "Resources", "Outputs"]


@pytest.mark.parametrize("logical_id, prop, name", [
    ("Topic", "TopicName", "${NamePrefix}mission-sns"),
    ("Role", "RoleName", "${NamePrefix}mission-lambda-role"),
    ("DecryptPolicy", "ManagedPolicyName", "${NamePrefix}AwsLambdaKmsExcutionPolicy"),
    ("KeyAlias", "AliasName", "alias/${NamePrefix}mission-kms-key"),
    ("LogGroup", "LogGroupName", "/aws/lambda/${NamePrefix}mission-lambda"),
    ("Function", "FunctionName", "${NamePrefix}mission-lambda"),
    ("Alarm", "AlarmName", "${NamePrefix}mission-cpu-alarm"),
])
@pytest.mark.parametrize("prefix", ["", "kim-"])
def test_every_name_is_made_from_name_prefix(logical_id, prop, name, prefix):
    assert build_template(snapshot(prefix))["Resources"][logical_id]["Properties"][prop] == \
        Sub(name)


@pytest.mark.parametrize("logical_id, prop, value", [
    ("Subscription", "TopicArn", Ref("Topic")),
    ("Subscription", "Endpoint", GetAtt("Function", "Arn")),
    ("Subscription", "Protocol", "lambda"),
    ("InvokePermission", "FunctionName", Ref("Function")),
    ("InvokePermission", "SourceArn", Ref("Topic")),
    ("InvokePermission", "Principal", "sns.amazonaws.com"),
    ("DecryptPolicy", "Roles", [Ref("Role")]),
    ("KeyAlias", "TargetKeyId", Ref("Key")),
    ("LogGroup", "RetentionInDays", 7),
    ("Function", "Role", GetAtt("Role", "Arn")),
    ("Function", "KmsKeyArn", GetAtt("Key", "Arn")),
    ("Function", "Runtime", "python3.12"),
    ("Function", "Handler", "slack_notifier.lambda_handler"),
    ("Function", "Timeout", 10),
    ("Function", "MemorySize", 128),
    ("Function", "Code", {"S3Bucket": Ref("CodeS3Bucket"), "S3Key": Ref("CodeS3Key")}),
    ("Function", "Environment", {"Variables": {"slackChannel": "project",
                                               "kmsEncryptedHookUrl": Ref("EncryptedWebhook")}}),
    ("Role", "ManagedPolicyArns", [BASIC]),
    ("Alarm", "Dimensions", [{"Name": "InstanceId", "Value": Ref("InstanceId")}]),
    ("Alarm", "AlarmActions", [Ref("Topic")]),
    ("Alarm", "OKActions", [Ref("Topic")]),
    ("Alarm", "Period", 10),
    ("Alarm", "Threshold", 50),
    ("Alarm", "TreatMissingData", "missing"),
])
def test_the_resources_refer_to_one_another_and_keep_the_live_settings(logical_id, prop, value):
    assert properties(logical_id)[prop] == value


def test_the_function_waits_for_its_log_group_and_its_decrypt_policy():
    assert template()["Resources"]["Function"]["DependsOn"] == ["LogGroup", "DecryptPolicy"]


def test_the_decrypt_policy_allows_decrypt_on_the_stacks_key_for_its_function_only():
    (statement,) = properties("DecryptPolicy")["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Resource"] == GetAtt("Key", "Arn")
    assert statement["Condition"] == {"StringEquals": {CONTEXT: Sub("${NamePrefix}mission-lambda")}}


def test_the_key_policy_names_the_account_of_the_stack():
    (statement,) = properties("Key")["KeyPolicy"]["Statement"]
    root = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    assert statement["Principal"] == {"AWS": root}


def test_deleting_the_stack_schedules_its_key_for_deletion_in_7_days_as_notebook_07_does():
    assert properties("Key")["PendingWindowInDays"] == 7


def test_the_outputs_are_the_contracts():
    outputs = {name: output["Value"] for name, output in template()["Outputs"].items()}
    assert outputs == {"TopicArn": Ref("Topic"), "FunctionName": Ref("Function"),
                       "KeyArn": GetAtt("Key", "Arn"), "AlarmName": Ref("Alarm")}


@pytest.mark.parametrize("logical_id", ["Topic", "Role", "Key", "LogGroup", "Function", "Alarm"])
def test_the_tags_are_on_every_resource_that_takes_them(logical_id):
    assert properties(logical_id)["Tags"] == [
        {"Key": "Project", "Value": "cloudwatch-slack-lab"}, {"Key": "Student", "Value": "default"},
        {"Key": "ManagedBy", "Value": "labkit"}]


def test_a_learner_with_a_prefix_gets_the_same_template_but_their_student_tag():
    kim = render_template(build_template(dataclasses.replace(snapshot("kim-"),
                                                             tags=standard_tags(""))))
    assert kim == text("")
    assert "Value: kim" in template_text(snapshot("kim-", student="kim"))


# -- nothing of the learner's own ---------------------------------------------------------------


@pytest.mark.parametrize("own", [ACCOUNT, KEY_ID, INSTANCE, "arn:aws:sns:", "arn:aws:lambda:",
                                 "arn:aws:kms:", ":role/", REGION])
def test_the_text_holds_nothing_of_the_learners_own(own):
    assert own not in text("") and own not in text("kim-")


def test_nothing_of_the_webhook_can_reach_the_template():
    # The snapshot keeps the environment's variable names only: the value has nowhere to be.
    fields = {f.name for f in dataclasses.fields(FunctionSnapshot)}
    assert fields == {"runtime", "handler", "timeout", "memory_size", "variable_names", "channel"}
    assert "hooks.slack.com" not in text("")


def test_a_value_of_the_learners_own_left_in_stops_the_export():
    # Only a whole value is taken for the instance (an id inside a longer text is left there).
    leaky = dataclasses.replace(snapshot(), decrypt_policy={"Statement": [{
        "Sid": f"watching {INSTANCE}", "Effect": "Allow", "Action": "kms:Decrypt",
        "Resource": "*"}]})
    assert leaks(render_template(build_template(leaky)), leaky) == ["instance id"]
    with pytest.raises(ValueError, match="instance id"):
        template_text(leaky)


@pytest.mark.parametrize("live, made", [
    # ARNs of the hand-made resources become the stack's own.
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}", GetAtt("Key", "Arn")),
    (KEY_ID, Ref("Key")),
    (INSTANCE, Ref("InstanceId")),
    (f"arn:aws:sns:{REGION}:{ACCOUNT}:mission-sns", Ref("Topic")),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mission-lambda", GetAtt("Function", "Arn")),
    (f"arn:aws:iam::{ACCOUNT}:role/mission-lambda-role", GetAtt("Role", "Arn")),
    # Other ARNs of the account: the stack's account, region and names.
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/mission-lambda:*",
     Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
         "/aws/lambda/${NamePrefix}mission-lambda:*")),
    ("mission-lambda", Sub("${NamePrefix}mission-lambda")),
    # An IAM policy variable stays literal inside !Sub.
    (f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
     Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:user/${!aws:username}")),
    # Another learner's name, and anything else, is left as it is.
    ("kim-mission-lambda", "kim-mission-lambda"),
    ("${aws:username}", "${aws:username}"),
    ("kms:*", "kms:*"),
])
def test_values_in_policies_are_made_the_stacks(live, made):
    document = {"Statement": [{"Resource": live}]}
    built = build_template(dataclasses.replace(snapshot(), decrypt_policy=document))
    assert built["Resources"]["DecryptPolicy"]["Properties"]["PolicyDocument"] == {
        "Statement": [{"Resource": made}]}


# -- YAML and cfn-lint --------------------------------------------------------------------------


def test_the_yaml_reads_back_as_the_template():
    assert load_template(text("")) == template("")


@pytest.mark.parametrize("line", [
    "      TopicName: !Sub \"${NamePrefix}mission-sns\"",
    "      Endpoint: !GetAtt Function.Arn",
    "      TopicArn: !Ref Topic",
    "          kmsEncryptedHookUrl: !Ref EncryptedWebhook",
    "  # made by hand in notebook 06",
])
def test_the_yaml_uses_cloudformations_short_forms_and_says_where_each_part_was_made(line):
    assert line in text("").splitlines()


def test_each_resource_is_introduced_by_its_notebook():
    lines = text("").splitlines()
    made = [(lines[i][len("  # made by hand in notebook "):], lines[i + 1].strip(" :"))
            for i, line in enumerate(lines) if line.startswith("  # made by hand")]
    assert made == [("02", "Topic"), ("03", "Subscription"), ("03", "InvokePermission"),
                    ("03", "Role"), ("05", "DecryptPolicy"), ("04", "Key"), ("04", "KeyAlias"),
                    ("03", "LogGroup"), ("03", "Function"), ("06", "Alarm")]


def test_cfn_lint_finds_nothing():
    assert lint_template(text(""), REGION) == []


def test_cfn_lint_findings_are_plain_data():
    broken = text("").replace("Timeout: 10", "Timeout: 9000")
    findings = lint_template(broken, REGION)
    assert findings
    for finding in findings:
        assert finding.level == "error" and finding.is_error
        assert finding.rule.startswith("E")
        assert finding.path == "Resources/Function/Properties/Timeout"
        assert "9000" in finding.message
        assert broken.splitlines()[finding.line - 1].strip() == "Timeout: 9000"


# -- the command line ---------------------------------------------------------------------------


def test_the_command_takes_the_notebook_parameters_it_needs():
    from labkit import cli
    from labkit.stack.command import export_command

    args = cli.build_parser().parse_args(["export", "cloudformation", "--student", "kim",
                                          "--target", "aws", "--region", "us-east-1",
                                          "--lang", "ko", "--out", "kim.yaml"])
    assert args.func is export_command
    assert (args.student, args.target, args.region, args.lang, args.out) == (
        "kim", "aws", "us-east-1", "ko", "kim.yaml")
    plain = cli.build_parser().parse_args(["export", "cloudformation"])
    assert (plain.student, plain.target, plain.region, plain.lang, plain.out) == (None,) * 5


@pytest.mark.parametrize("argv", [["export"], ["export", "terraform"],
                                  ["export", "cloudformation", "--target", "gcp"]])
def test_the_command_refuses_what_it_does_not_know(argv, capsys):
    from labkit import cli

    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args(argv)
    assert done.value.code == 2
