"""Notebook 07 on an isolated local cloud: it leaves nothing but the pending key, runs again,
copes with a partial lab (and a stack notebook 09 left) and touches no other learner's
resources."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import labkit
from labkit.bastion import ensure_local_bastion
from labkit.inventory import inventory
from labkit.batch.run import run_notebooks
from labkit.checks.steps import run_checks
from labkit.names import stack_names
from labkit.stack.deploy import PipelineStack

pytestmark = pytest.mark.integration
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CLEANUP = NOTEBOOKS / "07_cleanup.ipynb"


def run(steps: list[str], out: Path, student: str = "") -> None:
    """Run the notebooks numbered *steps* with *student*; every one must pass."""
    paths = [next(NOTEBOOKS.glob(f"{step}_*.ipynb")) for step in steps]
    # Scripted bastion CPU: these runs are about cleaning up, not about the CPU.
    parameters = {"student": student, "bastion_cpu": "scripted"} if student else {
        "bastion_cpu": "scripted"}
    results = run_notebooks(paths, parameters, out, progress=False)
    assert [(r.notebook, r.status, r.error) for r in results] == [
        (p.name, "passed", "") for p in paths]


def make_alarm_and_bastion(lab: labkit.Lab) -> str:
    """What notebook 06 creates, without its minutes of CPU load: the bastion and the alarm."""
    instance_id = ensure_local_bastion(lab)
    topic_arn = lab.client("sns").create_topic(Name=lab.names.topic, Tags=lab.tag_list)["TopicArn"]
    lab.client("cloudwatch").put_metric_alarm(
        AlarmName=lab.names.alarm, Namespace="AWS/EC2", MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}], Statistic="Average",
        Period=10, EvaluationPeriods=1, Threshold=50.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic_arn],
        OKActions=[topic_arn], Tags=lab.tag_list)
    return instance_id


def make_key(lab: labkit.Lab, alias: bool = True) -> str:
    """A tagged key as notebook 04 makes it, with or without its alias."""
    kms = lab.client("kms")
    key_id = kms.create_key(Tags=lab.kms_tag_list)["KeyMetadata"]["KeyId"]
    if alias:
        kms.create_alias(AliasName=lab.names.kms_alias, TargetKeyId=key_id)
    return key_id


def kinds(leftovers) -> list[tuple[str, str]]:
    return sorted((x.kind, x.name) for x in leftovers)


def assert_only_pending_keys(lab: labkit.Lab, key_ids: set[str]) -> None:
    left = inventory(lab)
    assert [(x.kind, x.expected) for x in left] == [("KMS key", True)] * len(key_ids)
    assert {x.name for x in left} == key_ids
    assert run_checks(lab, "07").ok


def test_cleanup_after_the_lab_leaves_only_the_pending_key_and_runs_again(home, tmp_path):
    run(["01", "02", "03", "04", "05"], tmp_path / "lab")
    lab = labkit.start()
    instance_id = make_alarm_and_bastion(lab)
    key_id = lab.client("kms").describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["KeyId"]
    before = kinds(inventory(lab))
    assert before == sorted([
        ("CloudWatch alarm", "mission-cpu-alarm"), ("SNS topic", "mission-sns"),
        ("SQS queue", "mission-sns-inbox"), ("Lambda function", "mission-lambda"),
        ("Log group", "/aws/lambda/mission-lambda"), ("IAM policy", "AwsLambdaKmsExcutionPolicy"),
        ("IAM role", "mission-lambda-role"), ("EC2 instance", instance_id), ("KMS key", key_id)])
    assert not run_checks(lab, "07").ok  # the check does fail while things are left

    run(["07"], tmp_path / "cleanup")
    assert_only_pending_keys(lab, {key_id})
    # Not only the inventory says so: each service, asked directly.
    sns, sqs, lam, logs, iam, kms, cw, ec2 = (lab.client(s) for s in (
        "sns", "sqs", "lambda", "logs", "iam", "kms", "cloudwatch", "ec2"))
    assert sns.list_topics()["Topics"] == [] and sns.list_subscriptions()["Subscriptions"] == []
    assert "QueueUrls" not in sqs.list_queues()
    assert lam.list_functions()["Functions"] == []
    assert logs.describe_log_groups()["logGroups"] == []
    assert iam.list_roles()["Roles"] == [] and iam.list_policies(Scope="Local")["Policies"] == []
    assert cw.describe_alarms()["MetricAlarms"] == []
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "terminated"
    assert not [a for a in kms.list_aliases()["Aliases"] if a.get("TargetKeyId") == key_id]
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    week = datetime.now(timezone.utc) + timedelta(days=7)
    assert abs(key["DeletionDate"] - week) < timedelta(minutes=5)

    run(["07"], tmp_path / "again")  # everything already gone: still green, nothing new
    assert_only_pending_keys(lab, {key_id})
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["DeletionDate"] == key["DeletionDate"]


def test_cleanup_of_a_lab_that_was_never_run_is_green(home, tmp_path):
    run(["07"], tmp_path / "cleanup")
    lab = labkit.start()
    assert inventory(lab) == []
    report = run_checks(lab, "07")
    assert report.ok
    assert "No KMS key of yours is left to schedule for deletion" in report.as_text()


def leave_a_stack(lab: labkit.Lab) -> None:
    """What notebook 09 leaves when it stops before its end: the function's zip in the
    artifact bucket, and the learner's stack (here with a topic only), both tagged."""
    stack = PipelineStack(lab)
    stack.package_function()
    lab.client("cloudformation").create_stack(
        StackName=stack.name, Tags=lab.tag_list, TemplateBody=json.dumps({"Resources": {
            "Topic": {"Type": "AWS::SNS::Topic",
                      "Properties": {"TopicName": f"{stack.names.name_prefix}mission-sns"}}}}))


def test_cleanup_of_a_partial_lab_finds_a_key_whose_alias_is_gone_and_a_stack_left_behind(
        home, tmp_path):
    run(["02"], tmp_path / "lab")  # topic and queue only
    lab = labkit.start()
    orphan = make_key(lab, alias=False)  # found by its tags alone
    lab.client("iam").create_role(RoleName=lab.names.role, AssumeRolePolicyDocument="{}",
                                  Tags=lab.tag_list)
    leave_a_stack(lab)
    report = run_checks(lab, "07")
    assert not report.ok and "SNS topic mission-sns" in report.as_text()
    left = kinds(inventory(lab))
    assert ("CloudFormation stack", "mission-stack") in left
    assert ("S3 bucket", stack_names("", lab.account, lab.region).artifact_bucket) in left
    assert ("SNS topic", "stack-mission-sns") in left

    run(["07"], tmp_path / "cleanup")
    assert_only_pending_keys(lab, {orphan})
    assert lab.client("s3").list_buckets()["Buckets"] == []
    assert [s["StackStatus"] for s in lab.client("cloudformation").list_stacks()[
        "StackSummaries"]] == ["DELETE_COMPLETE"]


def test_cleanup_leaves_another_students_resources_alone(home, tmp_path):
    run(["02"], tmp_path / "default")
    run(["02"], tmp_path / "kim", student="kim")
    mine, kims = labkit.start(), labkit.start(student="kim")
    make_alarm_and_bastion(mine)
    kim_instance = make_alarm_and_bastion(kims)
    my_key, kim_key = make_key(mine), make_key(kims)
    kim_before = kinds(inventory(kims))
    assert ("SNS topic", "kim-mission-sns") in kim_before and len(kim_before) == 5

    run(["07"], tmp_path / "cleanup")  # the default student's cleanup
    assert_only_pending_keys(mine, {my_key})
    assert kinds(inventory(kims)) == kim_before
    kms, ec2 = kims.client("kms"), kims.client("ec2")
    assert kms.describe_key(KeyId=kims.names.kms_alias)["KeyMetadata"]["KeyState"] == "Enabled"
    state = ec2.describe_instances(InstanceIds=[kim_instance])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"

    run(["07"], tmp_path / "kim-cleanup", student="kim")
    assert_only_pending_keys(kims, {kim_key})
    assert_only_pending_keys(mine, {my_key})
