import pytest

from labkit.config import LabConfig, check_region
from labkit.errors import LabError

REGIONS = ["ap-northeast-1", "ap-northeast-2", "us-east-1", "eu-west-1"]


def config(**kwargs):
    return LabConfig(known_regions=REGIONS, **kwargs)


def test_defaults():
    c = config()
    assert (c.target, c.region, c.student, c.slack_channel, c.webhook_env) == (
        "local", "ap-northeast-2", "", "project", "SLACK_WEBHOOK_URL")
    assert c.prefix == ""


def test_student_gives_the_prefix():
    assert config(student="kim").prefix == "kim-"


def test_channel_may_be_written_with_a_hash():
    assert config(slack_channel="#alerts").slack_channel == "alerts"


@pytest.mark.parametrize("kwargs, words", [
    ({"target": "prod"}, "'local' or 'aws'"),
    ({"region": "seoul"}, "not an AWS region code"),
    ({"region": "ap-northeast-9"}, "not an AWS region code"),
    ({"student": "Kim"}, "lower-case"),
    ({"student": "kim_lee"}, "lower-case"),
    ({"student": "x" * 21}, "1-20 characters"),
    ({"slack_channel": "My Channel"}, "not a Slack channel name"),
    ({"webhook_env": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXX"}, "NAME of an environment variable"),
    ({"webhook_env": "MY-VAR"}, "not an environment variable name"),
])
def test_bad_parameters_are_refused_with_what_to_do(kwargs, words):
    with pytest.raises(LabError) as raised:
        config(**kwargs)
    assert words in str(raised.value)
    assert raised.value.todo  # always a next step


def test_a_webhook_url_given_as_parameter_is_never_repeated_in_the_error():
    url = "https://hooks.slack.com/services/T00000000/B00000000/SECRETSECRETSECRET"
    with pytest.raises(LabError) as raised:
        config(webhook_env=url)
    assert "SECRETSECRET" not in str(raised.value)


@pytest.mark.parametrize("typo, suggestion", [
    ("ap-northeast2", "ap-northeast-2"),
    ("us-east1", "us-east-1"),
    ("AP-NORTHEAST-2", "ap-northeast-2"),
])
def test_a_region_typo_gets_the_closest_region(typo, suggestion):
    with pytest.raises(LabError) as raised:
        check_region(typo, REGIONS)
    assert f"Did you mean {suggestion!r}" in str(raised.value)


def test_real_region_list_comes_from_botocore():
    assert check_region("ap-northeast-2") == "ap-northeast-2"
