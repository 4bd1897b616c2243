import re

import pytest

from labkit import i18n
from labkit.aws import Identity
from labkit.config import LabConfig
from labkit.lab import Lab
from labkit.names import flaky_names, kms_tag_list, names_for, plan, standard_tags, tag_list

HANGUL = re.compile("[\uac00-\ud7a3]")


def test_defaults_are_the_source_labs_names():
    names = names_for("")
    assert names.topic == "mission-sns"
    assert names.function == "mission-lambda"
    assert names.kms_alias == "alias/mission-kms-key"
    assert names.alarm == "mission-cpu-alarm"
    assert names.kms_policy == "AwsLambdaKmsExcutionPolicy"
    assert names.log_group == "/aws/lambda/mission-lambda"
    assert names.test_event == "MissionSlackTest"


@pytest.mark.parametrize("field, expected", [
    ("topic", "kim-mission-sns"),
    ("function", "kim-mission-lambda"),
    ("role", "kim-mission-lambda-role"),
    ("kms_alias", "alias/kim-mission-kms-key"),
    ("alarm", "kim-mission-cpu-alarm"),
    ("log_group", "/aws/lambda/kim-mission-lambda"),
])
def test_a_prefix_goes_in_front_of_every_name(field, expected):
    assert getattr(names_for("kim-"), field) == expected


def test_two_learners_share_no_name():
    a, b = names_for("kim-").as_dict(), names_for("lee-").as_dict()
    shared = {k for k in a if a[k] == b[k]}
    assert shared == {"test_event"}  # a Lambda test event is scoped to its function


def test_longest_prefix_keeps_names_within_aws_limits():
    names = names_for("a" * 20 + "-")
    assert len(names.function) <= 64  # Lambda function names
    assert len(names.role) <= 64      # IAM role names
    assert len(names.kms_policy) <= 128


def test_standard_tags():
    assert standard_tags("kim") == {"Project": "cloudwatch-slack-lab", "Student": "kim",
                                    "ManagedBy": "labkit"}
    assert standard_tags("")["Student"] == "default"
    assert tag_list({"a": "1"}) == [{"Key": "a", "Value": "1"}]
    assert kms_tag_list({"a": "1"}) == [{"TagKey": "a", "TagValue": "1"}]


def test_plan_names_every_resource_with_its_notebook():
    rows = plan(names_for(""))
    assert ("02", "SNS topic", "mission-sns") in rows
    assert [nb for nb, _, _ in rows] == sorted(nb for nb, _, _ in rows)


def test_plan_lists_notebook_08_s_own_pipeline_by_its_names():
    flaky = flaky_names("kim-")
    rows = [(what, name) for nb, what, name in plan(names_for("kim-")) if nb == "08"]
    assert [name for _, name in rows] == [
        "#kim-mission-flaky", "kim-mission-flaky-webhook", "kim-mission-flaky-dlq",
        "kim-mission-flaky-role", "/aws/lambda/kim-mission-flaky-lambda",
        "kim-mission-flaky-lambda", "kim-mission-flaky-sns"]
    # Every name notebook 08 builds is planned, each once.
    assert sorted(name.removeprefix("#") for _, name in rows) == sorted(flaky.as_dict().values())
    assert ("SQS dead-letter queue", "kim-mission-flaky-dlq") in rows


def test_names_remember_their_prefix_but_do_not_list_it_as_a_name():
    names = names_for("kim-")
    assert names.prefix == "kim-"
    assert "prefix" not in names.as_dict()


def test_plan_says_what_in_the_current_language_and_keeps_the_names():
    english = plan(names_for("kim-"))
    i18n.set_language("ko")
    try:
        korean = plan(names_for("kim-"))
    finally:
        i18n.set_language("en")
    assert [(nb, name) for nb, _, name in korean] == [(nb, name) for nb, _, name in english]
    assert ("02", "SNS 주제", "kim-mission-sns") in korean
    assert all(HANGUL.search(what) for _, what, _ in korean if what not in KEPT_IN_KOREAN)


# A product's own name, written the same in Korean ("Lambda function" is "Lambda 함수").
KEPT_IN_KOREAN = {"Slack Incoming Webhook"}


class FakeTarget:
    """A target that answers STS without any cloud; *name* is "local" or "aws"."""

    region, endpoint_url = "ap-northeast-2", "http://127.0.0.1:1"

    def __init__(self, name: str) -> None:
        self.name = name

    def identity(self) -> Identity:
        return Identity("123456789012", "arn:aws:iam::123456789012:user/kim", self.region)


def lab_for(target: str, step: str, home) -> Lab:
    config = LabConfig(target=target, student="kim", known_regions=["ap-northeast-2"])
    return Lab(config, FakeTarget(target), home, None, [], step=step)


def test_notebook_08_creates_its_pipeline_on_local_only(tmp_path):
    local, aws = lab_for("local", "08", tmp_path), lab_for("aws", "08", tmp_path)
    assert local.summary()["creates here"].split("\n")[-1] == \
        "SNS topic: kim-mission-flaky-sns"
    # On aws the notebook does nothing, so it plans nothing and costs nothing.
    assert aws.summary()["creates here"] == "nothing"
    assert aws.summary()["cost"] == "nothing: this notebook creates nothing"
    assert "kim-mission-flaky-sns" in repr(local.plan())
    assert "mission-flaky" not in repr(aws.plan())
    assert aws.plan().rows[0] == ("01", "Slack incoming webhook", "#project")


# -- notebook 09's stack ----------------------------------------------------------------------
def test_the_stack_lives_beside_the_hand_made_pipeline_under_names_of_its_own():
    from labkit.names import stack_names

    stack = stack_names("kim-", "123456789012", "ap-northeast-2")
    assert stack.stack == "kim-mission-stack"
    assert stack.name_prefix == "kim-stack-"
    assert stack.artifact_bucket == "kim-mission-artifacts-123456789012-ap-northeast-2"
    assert stack.resources == names_for("kim-stack-")
    assert stack.resources.function == "kim-stack-mission-lambda"
    hand_made = set(names_for("kim-").as_dict().values())
    assert not (set(stack.resources.as_dict().values()) - {"MissionSlackTest"}) & hand_made
    assert stack_names("").stack == "mission-stack"
    assert stack_names("").resources.topic == "stack-mission-sns"
    assert stack_names("").artifact_bucket == ""  # no account yet: no bucket name


def test_the_artifact_bucket_keeps_within_s3s_63_characters():
    from labkit.names import artifact_bucket

    longest = "a" * 20 + "-"
    name = artifact_bucket(longest, "123456789012", "ap-northeast-2")
    assert len(name) <= 63 and name == f"{longest}artifacts-123456789012-ap-northeast-2"
    assert name == name.lower()
    # The usual names are the full pattern.
    assert artifact_bucket("", "123456789012", "us-east-1") == \
        "mission-artifacts-123456789012-us-east-1"


def test_plan_lists_notebook_09_s_stack_and_its_bucket():
    rows = [(what, name) for nb, what, name in plan(names_for("kim-"), "123456789012",
                                                     "ap-northeast-2") if nb == "09"]
    assert rows == [
        ("S3 bucket for the function's zip (the stack's code)",
         "kim-mission-artifacts-123456789012-ap-northeast-2"),
        ("CloudFormation stack made from your pipeline's template", "kim-mission-stack"),
        ("The stack's pipeline: topic, function, role, policy, KMS key, log group, alarm "
         "(each name starts with the stack's NamePrefix)", "kim-stack-…")]
    without_account = dict((what, name) for nb, what, name in plan(names_for("")) if nb == "09")
    assert "mission-artifacts-<account>-<region>" in without_account.values()
