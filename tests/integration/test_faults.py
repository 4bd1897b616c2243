"""Fault injection on a real local cloud: the labkit API, the CLI, what the function meets, and
the pieces of notebook 08's check."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

import labkit
from labkit.errors import LabError
from labkit.functions import slack_notifier
from labkit.checks.step_08 import (
    flaky_names,
    leftovers,
    retried_by_lambda,
    retried_within_one_invocation,
)

pytestmark = pytest.mark.integration

CHANNEL = "faults-test"


@pytest.fixture(scope="module")
def lab(module_home):
    """A lab on a local cloud of this module's own."""
    return labkit.start(student="ft", slack_channel=CHANNEL)


@pytest.fixture(autouse=True)
def no_faults_left(lab):
    yield
    lab.slack_faults.clear(every_channel=True)


def labkit_cli(lab, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LABKIT_HOME=str(lab.home))
    return subprocess.run([sys.executable, "-m", "labkit", "local", "fault", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_planned_faults_are_what_a_webhook_post_meets(lab):
    webhook = lab.webhook()
    lab.slack_faults.add("429", count=2, retry_after=2)
    lab.slack_faults.add("500")
    assert [f["description"] for f in lab.slack_faults.pending()] == [
        "429 rate_limited (Retry-After 2 s) for the next 2 requests",
        "500 internal_error for the next 1 request"]

    answers = [requests.post(webhook.reveal(), json={"text": f"try {i}"},
                             verify=lab.state.ca_bundle, timeout=10) for i in range(4)]
    assert [(a.status_code, a.text) for a in answers] == [
        (429, "rate_limited"), (429, "rate_limited"), (500, "internal_error"), (200, "ok")]
    assert answers[0].headers["Retry-After"] == "2"
    assert lab.slack_faults.pending() == []
    assert [m["text"] for m in lab.slack_messages()][-1:] == ["try 3"]


def test_the_function_retries_through_a_drop_a_500_and_a_429(lab):
    """The function's own HTTP code, over HTTPS, against each fault: a dropped connection is a
    network error to it, and every wait is the one its rules give. This is the test that
    Slack's Retry-After is honoured at its real value: the waits are recorded here, not slept,
    so the test session's shortened waits (LABKIT_WAIT_SCALE) never apply to them."""
    lab.slack_faults.add("drop")
    lab.slack_faults.add("500")
    lab.slack_faults.add("429", retry_after=3)
    slack_notifier._tls_context.cache_clear()  # trust the local CA (labkit.start set it)
    waits: list[float] = []
    delivery = slack_notifier.post_to_slack(lab.webhook().reveal(), {"text": "through it all"},
                                            sleep=waits.append)
    assert (delivery.ok, delivery.attempts, waits) == (True, 4, [0.5, 1.0, 3.0])
    assert lab.slack_messages()[-1]["text"] == "through it all"


def test_slack_down_for_good_makes_the_function_give_up_and_say_why(lab):
    lab.slack_faults.add("500", always=True)
    delivery = slack_notifier.post_to_slack(lab.webhook().reveal(), {"text": "lost?"},
                                            sleep=lambda seconds: None, max_attempts=3)
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 3, 500)
    assert "internal_error" in delivery.error
    assert lab.slack_faults.pending()[0]["count"] is None  # still planned: it never wears off


def test_faults_belong_to_one_channel(lab):
    lab.slack_faults.add("500", always=True, channel="elsewhere")
    answer = requests.post(lab.webhook().reveal(), json={"text": "unaffected"},
                           verify=lab.state.ca_bundle, timeout=10)
    assert answer.status_code == 200
    assert lab.slack_faults.pending() == []
    assert len(lab.slack_faults.pending("elsewhere")) == 1
    assert lab.slack_faults.clear("elsewhere") == 1


def test_wrong_input_in_a_notebook_says_what_to_do(lab):
    with pytest.raises(LabError) as raised:
        lab.slack_faults.add("teapot")
    assert "kind must be one of 429, 500, delay, drop" in raised.value.what
    assert "lab.slack_faults.add('429', count=3, retry_after=1)" in raised.value.todo
    with pytest.raises(LabError):
        lab.slack_faults.add("delay", count=2, delay_ms=120_000)


def test_the_cli_plans_lists_and_clears(lab):
    planned = labkit_cli(lab, "429", "--count", "3", "--retry-after", "2", "--channel", CHANNEL)
    assert planned.returncode == 0, planned.stderr
    assert f"#{CHANNEL}: 429 rate_limited (Retry-After 2 s) for the next 3 requests" in \
        planned.stdout
    assert labkit_cli(lab, "delay", "--ms", "250", "--always").returncode == 0  # #project

    listed = json.loads(labkit_cli(lab, "list", "--json").stdout)
    assert [(f["channel"], f["kind"], f["count"]) for f in listed] == [
        (CHANNEL, "429", 3), ("project", "delay", None)]
    assert "delay of 250 ms for every request" in labkit_cli(lab, "list").stdout

    cleared = labkit_cli(lab, "clear", "--channel", "project")
    assert "Cleared 1 planned fault(s) on #project" in cleared.stdout
    assert "Cleared 1 planned fault(s) on every channel" in labkit_cli(lab, "clear").stdout
    assert "No faults planned" in labkit_cli(lab, "list").stdout


@pytest.mark.parametrize(("args", "error"), [
    (("429", "--count", "0"), "count must be a whole number from 1 to 10000, not 0"),
    (("delay", "--ms", "0"), "delay_ms must be a whole number from 1 to 60000"),
])
def test_wrong_input_on_the_cli_says_what_to_do(lab, args, error):
    result = labkit_cli(lab, *args)
    assert result.returncode == 2
    assert error in result.stderr and "→" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_without_a_local_cloud_says_how_to_start_one(lab, tmp_path):
    env = dict(os.environ, LABKIT_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "labkit", "local", "fault", "list"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "No local cloud is running" in result.stderr and "labkit local up" in result.stderr


# --------------------------------------------------------------------------------------------
# Notebook 08's check: reading the function's log lines, and what is left

LOG_SHAPES = [
    # (the function's log lines about one message, within one invocation?, by Lambda's retry?)
    ([{"message": "notification", "outcome": "delivered", "attempts": 3}], True, False),
    ([{"message": "notification", "outcome": "delivered", "attempts": 1}], False, False),
    ([{"message": "notification", "outcome": "failed", "attempts": 3},
      {"message": "notification", "outcome": "delivered", "attempts": 2}], False, True),
    ([{"message": "notification", "outcome": "failed", "attempts": 3}] * 3, False, False),
    ([{"level": "WARNING", "message": "formatting failed"},
      {"message": "notification", "outcome": "delivered", "attempts": 2}], True, False),
    ([], False, False),
    (None, False, False),
]


@pytest.mark.parametrize(("lines", "within", "by_lambda"), LOG_SHAPES)
def test_reading_the_function_s_log_lines(lines, within, by_lambda):
    assert retried_within_one_invocation(lines) is within
    assert retried_by_lambda(lines) is by_lambda


def test_leftovers_of_notebook_08_are_found_by_name(lab):
    names = flaky_names(lab.config.prefix)
    assert names.function == "ft-mission-flaky-lambda" and names.channel == "ft-mission-flaky"
    assert leftovers(lab) == []
    sns, sqs = lab.client("sns"), lab.client("sqs")
    topic = sns.create_topic(Name=names.topic, Tags=lab.tag_list)["TopicArn"]
    queue = sqs.create_queue(QueueName=names.queue)["QueueUrl"]
    assert leftovers(lab) == [f"SQS queue {names.queue}", f"SNS topic {names.topic}"]
    sns.delete_topic(TopicArn=topic)
    sqs.delete_queue(QueueUrl=queue)
    assert leftovers(lab) == []
