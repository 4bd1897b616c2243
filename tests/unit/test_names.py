import pytest

from labkit.names import kms_tag_list, names_for, plan, standard_tags, tag_list


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
