"""labkit check on target aws (moto in-process): it reads, and never creates or changes."""

from __future__ import annotations

import base64
import io
import json
import zipfile

from labkit.classroom.check import check_learner
from labkit.config import LabConfig
from labkit.functions import HANDLER
from labkit.names import names_for, standard_tags, tag_list

from .test_aws_target import REGION, WEBHOOK, aws, record_calls  # noqa: F401 (fixture)

READ_ONLY = ("Describe", "List", "Get", "Filter", "Decrypt")


def make_steps_02_to_04(student: str) -> None:
    """What notebooks 02-04 leave behind for *student*, made straight with boto3."""
    import boto3

    names, tags = names_for(f"{student}-"), standard_tags(student)
    sns, iam = boto3.client("sns", region_name=REGION), boto3.client("iam", region_name=REGION)
    kms, lam = boto3.client("kms", region_name=REGION), boto3.client("lambda", region_name=REGION)
    topic = sns.create_topic(Name=names.topic, Tags=tag_list(tags))["TopicArn"]
    role = iam.create_role(RoleName=names.role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]
    }))["Role"]["Arn"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=names.kms_alias, TargetKeyId=key)
    blob = kms.encrypt(KeyId=key, Plaintext=WEBHOOK.split("://", 1)[1].encode(),
                       EncryptionContext={"LambdaFunctionName": names.function})["CiphertextBlob"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("slack_notifier.py", "def lambda_handler(event, context): pass\n")
    function = lam.create_function(
        FunctionName=names.function, Runtime="python3.12", Role=role, Handler=HANDLER,
        Code={"ZipFile": code.getvalue()}, Environment={"Variables": {
            "slackChannel": "project", "kmsEncryptedHookUrl": base64.b64encode(blob).decode()}})
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function["FunctionArn"])


def test_check_on_aws_reads_only_and_shows_where_a_learner_is(aws, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SLACK_WEBHOOK_URL", WEBHOOK)
    make_steps_02_to_04("kim")
    config = LabConfig(target="aws", region=REGION, student="kim")
    import labkit.classroom.check as class_check

    calls: list[list] = []  # every call of every lab the check makes, recorded from its start
    real = class_check.observer_lab

    def recorded(c: LabConfig):
        lab = real(c)
        calls.append(record_calls(lab))
        return lab

    monkeypatch.setattr(class_check, "observer_lab", recorded)
    progress = check_learner(config, ["00", "01", "02", "03", "04", "05", "06", "07"])
    operations = {name for recorded_calls in calls for name, _ in recorded_calls}

    assert progress.status("00") == "passed"
    assert progress.status("01") == "none"  # nothing to read about a webhook on AWS
    assert progress.reports["02"].items[0].ok  # the topic exists (no queue subscribed: ❌)
    assert progress.status("02") == "failed"
    decrypts = [i for i in progress.reports["04"].items if "decrypts" in i.text]
    assert progress.reports["04"].items[0].ok and decrypts and decrypts[0].ok
    assert progress.status("05") == "failed" and progress.status("06") == "failed"
    assert {"ListTopics", "GetFunctionConfiguration", "Decrypt", "GetResources"} <= operations
    assert all(op.startswith(READ_ONLY) for op in operations), operations
    assert len(calls) == 1  # one lab for the learner, whatever the number of steps
