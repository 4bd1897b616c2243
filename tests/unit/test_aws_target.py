"""The aws-target code paths, run against moto in-process and botocore's Stubber.

No AWS account is needed: ``mock_aws`` answers every call made with the fake credentials below,
and the tests look at the calls and parameters labkit sends.
"""

from __future__ import annotations

import functools
import html
import io
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

import labkit
import labkit.lab
from labkit.aws import Identity
from labkit.bastion import AMI_PARAMETER, INSTANCE_TYPE, choose_bastion, launch_bastion
from labkit.config import LabConfig
from labkit.consistency import NEW_ROLE
from labkit.errors import LabError
from labkit.lab import Lab

MOTO_ACCOUNT = "123456789012"
REGION = "ap-northeast-2"
WEBHOOK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """Fake credentials, no AWS configuration of the machine, and moto answering every call."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    # Nothing a local-target test saved may be put back into this environment.
    monkeypatch.setattr(labkit.lab, "_saved_env", {})
    with mock_aws():
        yield


# The AWS managed policies the lab attaches. moto ships about 1,600 and builds every one for
# each of its six partitions whenever IAM is made or reset (over a second each time); the tests
# give it these two, as moto stores them.
LAB_MANAGED_POLICIES = ("AmazonSSMManagedInstanceCore", "AWSLambdaBasicExecutionRole")


@functools.lru_cache(maxsize=1)
def _lab_managed_policies() -> str:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    every = json.loads(aws_managed_policies_data)
    return json.dumps({name: every[name] for name in LAB_MANAGED_POLICIES})


@pytest.fixture
def managed_policies(aws, monkeypatch):
    """moto with AWS's managed policies the lab uses (AmazonSSMManagedInstanceCore, for the
    bastion's role; AWSLambdaBasicExecutionRole, for the function's).

    Read when moto first builds IAM, so it takes effect before any IAM call; off elsewhere.
    """
    import moto.iam.models as iam_models

    monkeypatch.setattr(iam_models, "aws_managed_policies_data", _lab_managed_policies())
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


def start_aws(**kwargs) -> Lab:
    return labkit.start(target="aws", region=REGION, **kwargs)


def record_calls(lab: Lab) -> list[tuple[str, dict]]:
    """Every API call the lab's clients make from now on, as (Operation, parameters)."""
    calls: list[tuple[str, dict]] = []

    def remember(params, event_name, **_):
        calls.append((event_name.rsplit(".", 1)[-1], dict(params)))

    lab.target.session.events.register("provide-client-params", remember)
    return calls


# -- start(target="aws") -----------------------------------------------------------------------
def test_start_on_aws_uses_the_normal_credential_chain_and_sts(aws):
    lab = start_aws(step="02")
    assert lab.target.name == "aws" and lab.target.endpoint_url is None
    assert not lab.is_local and lab.state is None
    assert lab.identity == Identity(MOTO_ACCOUNT, lab.identity.arn, REGION)
    assert lab.identity.arn.startswith(f"arn:aws:sts::{MOTO_ACCOUNT}:")
    assert "AWS_ENDPOINT_URL" not in os.environ  # nothing aims the kernel at a local cloud
    summary = lab.summary()
    assert (summary["target"], summary["region"], summary["caller"]) == (
        "aws", REGION, lab.identity.arn)


def test_the_expected_account_is_accepted_and_shown(aws):
    lab = start_aws(expected_account_id="1234-5678-9012", step="02")
    assert lab.config.expected_account_id == MOTO_ACCOUNT
    assert lab.summary()["account"] == f"{MOTO_ACCOUNT} (= expected_account_id ✓)"
    assert not any("expected_account_id" in note for note in lab.notes)


def test_a_notebooks_own_parameters_are_accepted_with_the_shared_ones(aws):
    """Notebook 06 may pass its whole parameters cell; its own parameters are left to it."""
    lab = start_aws(step="06", student="kim", bastion_instance_id="", bastion_launch=False,
                    bastion_vcpus=2, bastion_cpu="scripted", alarm_quick_test=True,
                    alarm_period=60)
    assert lab.config.student == "kim" and lab.step == "06"


def test_another_account_is_refused_before_anything_is_created(aws, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "class")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[class]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    with pytest.raises(LabError) as raised:
        start_aws(expected_account_id="111122223333", step="02")
    error = raised.value
    assert f"account {MOTO_ACCOUNT}" in error.what and "not 111122223333" in error.what
    assert "profile 'class'" in error.what and "Nothing was created" in error.what
    assert "AWS_PROFILE" in error.todo and "aws sso login --profile" in error.todo
    assert boto3.client("sns", region_name=REGION).list_topics()["Topics"] == []


def test_keys_in_the_environment_are_named_as_what_to_unset(aws):
    with pytest.raises(LabError) as raised:
        start_aws(expected_account_id="111122223333")
    assert "AWS_ACCESS_KEY_ID variable" in raised.value.what
    assert "Unset AWS_ACCESS_KEY_ID" in raised.value.todo


def test_without_an_expected_account_the_summary_suggests_one(aws):
    lab = start_aws(step="00")
    notes = " ".join(lab.notes)
    assert "expected_account_id is not set" in notes
    assert f"expected_account_id = '{MOTO_ACCOUNT}'" in notes
    assert "expected_account_id is not set" in repr(lab)
    assert "expected_account_id is not set" in lab._repr_html_()


class FakeLocalTarget:
    """A local target that answers STS without a local cloud."""

    name, region, endpoint_url = "local", REGION, "http://127.0.0.1:1"

    def identity(self) -> Identity:
        return Identity(MOTO_ACCOUNT, f"arn:aws:iam::{MOTO_ACCOUNT}:user/moto", REGION)


def local_lab(tmp_path, **config) -> Lab:
    return Lab(LabConfig(**config), FakeLocalTarget(), tmp_path, None, [], step="04")


def test_the_local_target_ignores_the_expected_account(tmp_path):
    lab = local_lab(tmp_path, expected_account_id="111122223333")
    assert lab.account == MOTO_ACCOUNT
    assert lab.summary()["account"] == MOTO_ACCOUNT
    assert not lab.notes
    assert lab.summary()["cost"].startswith("none")


# -- what this notebook creates, and what it may cost --------------------------------------------
@pytest.mark.parametrize("step, creates, billable", [
    ("00", ["nothing"], None),
    ("01", ["Slack incoming webhook: #alerts"], None),
    ("02", ["SNS topic: kim-mission-sns",
            "SQS queue (shows what SNS delivers): kim-mission-sns-inbox"], None),
    ("03", ["IAM role for the function: kim-mission-lambda-role",
            "Lambda function: kim-mission-lambda",
            "CloudWatch Logs log group: /aws/lambda/kim-mission-lambda"], None),
    ("04", ["KMS key and alias: alias/kim-mission-kms-key"], "KMS key is billed"),
    ("05", ["IAM policy allowing kms:Decrypt: kim-AwsLambdaKmsExcutionPolicy"], None),
    ("06", ["EC2 instance with an IAM role and instance profile for Systems Manager, only if "
            "you ask for one (launch_bastion): kim-bastion",
            "CloudWatch alarm: kim-mission-cpu-alarm"], "only if you launch one"),
    ("09", ["S3 bucket for the function's zip (the stack's code): "
            f"kim-mission-artifacts-{MOTO_ACCOUNT}-ap-northeast-2",
            "CloudFormation stack made from your pipeline's template: kim-mission-stack",
            "The stack's pipeline: topic, function, role, policy, KMS key, log group, alarm "
            "(each name starts with the stack's NamePrefix): kim-stack-…"],
     "the stack's KMS key is billed"),
])
def test_the_summary_lists_what_this_notebook_creates_and_what_is_billable(aws, step, creates,
                                                                           billable):
    lab = start_aws(student="kim", slack_channel="alerts", step=step)
    summary = lab.summary()
    assert summary["creates here"].split("\n") == creates
    if billable:
        assert summary["cost"].startswith("💲") and billable in summary["cost"]
    elif creates == ["nothing"]:
        assert summary["cost"] == "nothing: this notebook creates nothing"
    else:
        assert summary["cost"].startswith("nothing billable expected")
    shown = repr(lab)
    assert all(line in shown for line in creates)
    assert all(html.escape(line) in lab._repr_html_() for line in creates)


def test_the_summary_without_a_step_lists_nothing_to_create(aws):
    assert "creates here" not in start_aws().summary()


# -- the Slack webhook comes from the environment ------------------------------------------------
def test_the_webhook_is_read_from_the_named_variable(aws, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", WEBHOOK)
    lab = start_aws(webhook_env="TEAM_HOOK")
    webhook = lab.webhook()
    assert webhook.reveal() == WEBHOOK
    assert "abcdefghijklmnop" not in repr(webhook)


def test_a_missing_webhook_variable_says_how_to_set_it(aws):
    lab = start_aws(webhook_env="TEAM_HOOK")
    with pytest.raises(LabError) as raised:
        lab.webhook()
    assert "TEAM_HOOK is not set" in raised.value.what
    assert "export TEAM_HOOK=" in raised.value.todo


# -- the bastion --------------------------------------------------------------------------------
def run_own_instance(name: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    ami = boto3.client("ssm", region_name=REGION).get_parameter(
        Name=AMI_PARAMETER)["Parameter"]["Value"]
    answer = ec2.run_instances(ImageId=ami, InstanceType="t3.small", MinCount=1, MaxCount=1,
                               TagSpecifications=[{"ResourceType": "instance",
                                                   "Tags": [{"Key": "Name", "Value": name}]}])
    return answer["Instances"][0]["InstanceId"]


def test_the_learners_own_instance_is_chosen_and_nothing_is_launched(aws):
    own = run_own_instance("bastion")
    lab = start_aws()
    calls = record_calls(lab)
    assert choose_bastion(lab) == own
    assert [name for name, _ in calls] == ["DescribeInstances"]


def test_with_no_instance_the_learner_is_told_both_ways(aws):
    lab = start_aws()
    with pytest.raises(LabError) as raised:
        choose_bastion(lab)
    assert "no running EC2 instance" in raised.value.what
    assert "EC2 console" in raised.value.todo and "launch_bastion(lab)" in raised.value.todo


def test_the_bastion_errors_come_in_the_labs_language(aws):
    from labkit import i18n

    run_own_instance("web")
    try:
        lab = start_aws(lang="ko")
        with pytest.raises(LabError) as raised:
            choose_bastion(lab)
    finally:
        i18n.set_language("en")
    assert raised.value.what.startswith("이름이 'bastion'인 실행 중 인스턴스가 없습니다.")
    assert "(web)" in raised.value.what
    assert "bastion_instance_id = 'i-...'" in raised.value.todo and "다시 실행하세요" in \
        raised.value.todo


def test_launch_bastion_starts_the_smallest_instance_tagged_and_says_it_is_billable(
        managed_policies, capsys):
    lab = start_aws(student="kim")
    calls = record_calls(lab)
    instance_id = launch_bastion(lab)

    ami = boto3.client("ssm", region_name=REGION).get_parameter(
        Name=AMI_PARAMETER)["Parameter"]["Value"]
    runs = [params for name, params in calls if name == "RunInstances"]
    assert len(runs) == 1
    sent = runs[0]
    assert (sent["ImageId"], sent["InstanceType"], sent["MinCount"], sent["MaxCount"]) == (
        ami, INSTANCE_TYPE, 1, 1)
    assert INSTANCE_TYPE == "t3.micro"
    assert sent["MetadataOptions"]["HttpTokens"] == "required"
    assert "SubnetId" not in sent
    tags = [{"Key": "Name", "Value": "kim-bastion"}, *lab.tag_list]
    assert sent["TagSpecifications"] == [{"ResourceType": "instance", "Tags": tags},
                                         {"ResourceType": "volume", "Tags": tags}]
    assert ("GetParameter", {"Name": AMI_PARAMETER}) in calls

    said = capsys.readouterr().out
    assert "billed" in said and "Notebook 07 terminates it" in said and instance_id in said
    instance = boto3.client("ec2", region_name=REGION).describe_instances(
        InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running"
    assert choose_bastion(lab) == instance_id  # notebook 06 then watches it


def test_launch_bastion_twice_launches_once_and_restarts_a_stopped_one(managed_policies):
    lab = start_aws()
    first = launch_bastion(lab)
    calls = record_calls(lab)
    assert launch_bastion(lab) == first
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[first])
    assert launch_bastion(lab) == first
    names = [name for name, _ in calls]
    assert "RunInstances" not in names
    assert ("StartInstances", {"InstanceIds": [first]}) in calls


def test_launch_bastion_uses_the_subnet_given(managed_policies):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    lab = start_aws()
    calls = record_calls(lab)
    launch_bastion(lab, subnet_id=subnet)
    assert [p["SubnetId"] for name, p in calls if name == "RunInstances"] == [subnet]


def test_an_account_without_a_default_vpc_is_told_to_pass_a_subnet(managed_policies,
                                                                    monkeypatch):
    lab = start_aws()
    ec2, ssm = boto3.client("ec2", region_name=REGION), boto3.client("ssm", region_name=REGION)
    clients = {"ec2": ec2, "ssm": ssm, "iam": boto3.client("iam")}
    monkeypatch.setattr(lab, "client", lambda service, **_: clients[service])
    with Stubber(ec2) as ec2_stub, Stubber(ssm) as ssm_stub:
        ec2_stub.add_response("describe_instances", {"Reservations": []})
        ssm_stub.add_response("get_parameter", {"Parameter": {"Value": "ami-0123456789abcdef0"}},
                              {"Name": AMI_PARAMETER})
        ec2_stub.add_client_error("run_instances", "VPCIdNotSpecified",
                                  "No default VPC for this user.", 400)
        with pytest.raises(LabError) as raised:
            launch_bastion(lab)
        ec2_stub.assert_no_pending_responses()
    assert "needs a subnet" in raised.value.what
    assert "subnet_id='subnet-...'" in raised.value.todo


# -- waiting for eventual consistency ------------------------------------------------------------
CREATE = dict(FunctionName="mission-lambda", Role=f"arn:aws:iam::{MOTO_ACCOUNT}:role/r",
              Runtime="python3.12", Handler="slack_notifier.lambda_handler",
              Code={"ZipFile": b"zip"}, Tags={"Project": "cloudwatch-slack-lab"})
NOT_YET = "The role defined for the function cannot be assumed by Lambda."


@pytest.fixture
def waits(aws):
    """An aws Lab whose waits are recorded instead of slept."""
    lab = start_aws()
    slept: list[float] = []
    lab._sleep = slept.append
    return lab, slept


def test_create_function_is_retried_until_the_new_role_reaches_lambda(waits, capsys):
    lab, slept = waits
    lam = boto3.client("lambda", region_name=REGION)
    with Stubber(lam) as stub:
        for _ in range(2):
            stub.add_client_error("create_function", "InvalidParameterValueException", NOT_YET,
                                  400, expected_params=CREATE)
        stub.add_response("create_function", {"FunctionName": "mission-lambda",
                                               "FunctionArn": "arn:aws:lambda:x"}, CREATE)
        answer = lab.until_consistent(lambda: lam.create_function(**CREATE), retry_on=NEW_ROLE)
        stub.assert_no_pending_responses()
    assert answer["FunctionName"] == "mission-lambda"
    assert slept == [2.0, 2.0]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("cannot be assumed" in line for line in lines)
    assert "try 2 of 10" in lines[0] and "try 3 of 10" in lines[1]


def test_a_real_parameter_mistake_is_not_retried(waits):
    lab, slept = waits
    lam = boto3.client("lambda", region_name=REGION)
    with Stubber(lam) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException",
                              "The runtime parameter of python2.0 is not supported.", 400)
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lab.until_consistent(lambda: lam.create_function(**CREATE), retry_on=NEW_ROLE)
    assert slept == []


def test_retries_are_bounded_and_the_last_error_is_raised(waits):
    lab, slept = waits
    lam = boto3.client("lambda", region_name=REGION)
    with Stubber(lam) as stub:
        for _ in range(3):
            stub.add_client_error("create_function", "InvalidParameterValueException", NOT_YET)
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lab.until_consistent(lambda: lam.create_function(**CREATE), retry_on=NEW_ROLE,
                                 attempts=3, delay=0.5)
        stub.assert_no_pending_responses()
    assert slept == [0.5, 0.5]


def invoke_answer(payload: dict, function_error: str | None = None) -> dict:
    body = json.dumps(payload).encode()
    answer = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        answer["FunctionError"] = function_error
    return answer


def test_invoke_is_retried_while_the_new_policy_has_not_reached_the_function(waits):
    lab, slept = waits
    lam = boto3.client("lambda", region_name=REGION)
    sent = {"FunctionName": "mission-lambda", "Payload": "{}"}
    denied = {"errorType": "WebhookConfigError",
              "errorMessage": "The function's execution role may not use the key "
                              "(AccessDeniedException)."}
    with Stubber(lam) as stub:
        stub.add_response("invoke", invoke_answer(denied, "Unhandled"), sent)
        stub.add_response("invoke", invoke_answer({"delivered": 1}), sent)

        def invoke():
            answer = lam.invoke(**sent)
            return answer, json.loads(answer["Payload"].read())

        answer, result = lab.until_consistent(
            invoke, retry_if=lambda got: "AccessDenied" in json.dumps(got[1]))
        stub.assert_no_pending_responses()
    assert result == {"delivered": 1} and "FunctionError" not in answer
    assert slept == [2.0]


def test_the_local_target_never_waits(tmp_path):
    lab = local_lab(tmp_path)
    slept: list[float] = []
    lab._sleep = slept.append
    calls = []

    def fails():
        calls.append(1)
        lam = boto3.client("lambda", region_name=REGION, aws_access_key_id="x",
                           aws_secret_access_key="x")
        with Stubber(lam) as stub:
            stub.add_client_error("create_function", "InvalidParameterValueException", NOT_YET)
            return lam.create_function(**CREATE)

    with pytest.raises(Exception, match="cannot be assumed"):
        lab.until_consistent(fails, retry_on=NEW_ROLE)
    assert calls == [1] and slept == []
    assert lab.until_consistent(lambda: "done", retry_if=lambda _: True) == "done"


# -- a name taken by a resource that is not ours ------------------------------------------------
def test_a_role_without_the_lab_tags_is_refused(aws):
    lab = start_aws(student="kim")
    iam = boto3.client("iam")
    iam.create_role(RoleName=lab.names.role, AssumeRolePolicyDocument="{}",
                    Tags=[{"Key": "Team", "Value": "data"}])
    with pytest.raises(LabError) as raised:
        lab.ensure_ours("IAM role", lab.names.role,
                        iam.get_role(RoleName=lab.names.role)["Role"].get("Tags"))
    assert "IAM role 'kim-mission-lambda-role'" in raised.value.what
    assert "Team=data" in raised.value.what
    assert "student =" in raised.value.todo and "delete it" in raised.value.todo


def test_resources_the_lab_made_pass_in_every_tag_shape(aws):
    lab = start_aws(student="kim")
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Tags=lab.kms_tag_list)["KeyMetadata"]
    lab.ensure_ours("KMS key", lab.names.kms_alias,
                    kms.list_resource_tags(KeyId=key["KeyId"])["Tags"])
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=lab.names.queue, tags=lab.tags)["QueueUrl"]
    lab.ensure_ours("SQS queue", lab.names.queue, sqs.list_queue_tags(QueueUrl=url)["Tags"])
    sns = boto3.client("sns", region_name=REGION)
    arn = sns.create_topic(Name=lab.names.topic, Tags=lab.tag_list)["TopicArn"]
    lab.ensure_ours("SNS topic", lab.names.topic,
                    sns.list_tags_for_resource(ResourceArn=arn)["Tags"])
