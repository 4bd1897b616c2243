"""The inventory's pure parts, and how it treats what the tagging API says, against moto."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

from labkit.inventory import Leftover, describe_arn, inventory, inventory_table, key_note
from labkit.names import kms_tag_list, names_for, standard_tags, tag_list

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"


@pytest.mark.parametrize("arn, expected", [
    (f"arn:aws:sns:{REGION}:{ACCOUNT}:mission-sns", ("SNS topic", "mission-sns")),
    (f"arn:aws:sns:{REGION}:{ACCOUNT}:mission-sns:0b4e-11",
     ("SNS subscription", "mission-sns:0b4e-11")),
    (f"arn:aws:sqs:{REGION}:{ACCOUNT}:mission-sns-inbox", ("SQS queue", "mission-sns-inbox")),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mission-lambda",
     ("Lambda function", "mission-lambda")),
    (f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:mission-cpu-alarm",
     ("CloudWatch alarm", "mission-cpu-alarm")),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/mission-lambda",
     ("Log group", "/aws/lambda/mission-lambda")),
    (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/mission-lambda:*",
     ("Log group", "/aws/lambda/mission-lambda")),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
     ("KMS key", "1234abcd-12ab-34cd-56ef-1234567890ab")),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/mission-kms-key",
     ("KMS alias", "alias/mission-kms-key")),
    (f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc", ("EC2 instance", "i-0abc")),
    (f"arn:aws:iam::{ACCOUNT}:role/mission-lambda-role", ("IAM role", "mission-lambda-role")),
    (f"arn:aws:iam::{ACCOUNT}:role/service-role/kim-role", ("IAM role", "kim-role")),
    (f"arn:aws:iam::{ACCOUNT}:policy/AwsLambdaKmsExcutionPolicy",
     ("IAM policy", "AwsLambdaKmsExcutionPolicy")),
    # Notebook 09's stack (its id left out) and its artifact bucket.
    (f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/kim-mission-stack/0f1e-2d3c",
     ("CloudFormation stack", "kim-mission-stack")),
    ("arn:aws:s3:::a-bucket", ("S3 bucket", "a-bucket")),
    # Anything else is named plainly rather than hidden.
    (f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/notes", ("dynamodb table", "notes")),
    ("not-an-arn", ("resource", "not-an-arn")),
])
def test_an_arn_names_its_kind_and_resource(arn, expected):
    assert describe_arn(arn) == expected


def test_a_pending_key_note_gives_the_local_day_of_deletion():
    when = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)
    day = when.astimezone().date().isoformat()  # the day this machine's clock shows
    assert key_note({"KeyState": "PendingDeletion", "DeletionDate": when}) == (
        f"pending deletion on {day}")
    assert key_note({"KeyState": "Enabled"}) == "enabled"


def test_the_table_shows_each_leftover_and_says_when_nothing_is_left():
    table = inventory_table([Leftover("KMS key", "k-1", "arn:k", "pending deletion on 2026-12-04",
                                      expected=True), Leftover("SNS topic", "t", "arn:t")])
    assert table.rows == [("KMS key", "k-1", "pending deletion on 2026-12-04 (may stay)"),
                          ("SNS topic", "t", "")]
    assert inventory_table([]).rows == [("–", "nothing left", "")]


class StandInLab:
    """What the inventory uses of a Lab, on moto in-process; *stale* ARNs are added to what
    the tagging API answers, as AWS does for a while after a deletion."""

    def __init__(self, student: str = "", stale: list[str] | None = None) -> None:
        self.names = names_for(f"{student}-" if student else "")
        self.tags = standard_tags(student)
        self.stale = stale or []

    def client(self, service: str):
        client = boto3.client(service, region_name=REGION)
        if service == "resourcegroupstaggingapi" and self.stale:
            return StaleTagging(client, self.stale)
        return client


class StaleTagging:
    def __init__(self, real, stale: list[str]) -> None:
        self.real, self.stale = real, stale

    def get_paginator(self, name: str):
        real, stale = self.real, self.stale

        class Pages:
            def paginate(self, **kwargs):
                yield from real.get_paginator(name).paginate(**kwargs)
                yield {"ResourceTagMappingList": [{"ResourceARN": a, "Tags": []} for a in stale]}

        return Pages()


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_inventory_finds_tagged_things_iam_and_the_untagged_log_group(aws):
    lab = StandInLab()
    tags = standard_tags("")
    boto3.client("sns", region_name=REGION).create_topic(Name="mission-sns", Tags=tag_list(tags))
    boto3.client("sns", region_name=REGION).create_topic(Name="untagged")
    iam = boto3.client("iam")
    iam.create_role(RoleName="mission-lambda-role", AssumeRolePolicyDocument="{}",
                    Tags=tag_list(tags))
    iam.create_role(RoleName="someone-elses", AssumeRolePolicyDocument="{}",
                    Tags=tag_list(standard_tags("kim")))
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]})
    iam.create_policy(PolicyName="AwsLambdaKmsExcutionPolicy", PolicyDocument=document,
                      Tags=tag_list(tags))
    boto3.client("logs", region_name=REGION).create_log_group(
        logGroupName="/aws/lambda/mission-lambda")
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(Tags=kms_tag_list(tags))["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    found = [(x.kind, x.name, x.expected) for x in inventory(lab)]
    assert found == [("SNS topic", "mission-sns", False),
                     ("Log group", "/aws/lambda/mission-lambda", False),
                     ("IAM policy", "AwsLambdaKmsExcutionPolicy", False),
                     ("IAM role", "mission-lambda-role", False),
                     ("KMS key", key_id, True)]
    assert inventory(lab)[-1].note.startswith("pending deletion on ")


def test_what_the_tagging_api_still_lists_after_a_deletion_is_not_a_leftover(aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    gone = [f"arn:aws:sns:{REGION}:{ACCOUNT}:mission-sns",
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:mission-sns-inbox",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mission-lambda",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:mission-cpu-alarm",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/mission-lambda",
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance['InstanceId']}",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"]
    assert inventory(StandInLab(stale=gone)) == []
