"""Notebook 09 on the aws target, its stack-alarm and Slack cells run against botocore's
Stubber: the stack's alarm is set off by hand (a real account has no scripted bastion), the
hand-made alarm is never touched, and the local Slack is never read."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import ANY, Stubber

from labkit.names import names_for, stack_names
from labkit.show import alarm_watch as watch

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "09_pipeline_as_code.ipynb"
STACK_ALARM = stack_names("").resources.alarm


def cell(cell_id: str) -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    (found,) = ["".join(c["source"]) for c in cells if c.get("id") == cell_id]
    return found


class AwsLab:
    """What the cells use of a Lab on the aws target, with a stubbed CloudWatch."""

    is_local = False

    def __init__(self) -> None:
        self.names = names_for("")
        self.cloudwatch = boto3.client("cloudwatch", region_name="ap-northeast-2",
                                       aws_access_key_id="x", aws_secret_access_key="x")
        self.stub = Stubber(self.cloudwatch)

    def client(self, name: str):
        assert name == "cloudwatch", name
        return self.cloudwatch

    def last_slack_message_id(self) -> int:
        raise AssertionError("the local Slack is not read on aws")

    def wait_for_slack_message(self, *args, **kwargs):
        raise AssertionError("the local Slack is not read on aws")


@pytest.fixture
def lab(monkeypatch):
    monkeypatch.setattr(watch.time, "sleep", lambda seconds: None)
    lab = AwsLab()
    lab.stub.activate()
    yield lab
    lab.stub.assert_no_pending_responses()
    lab.stub.deactivate()


def test_on_aws_the_stack_s_alarm_is_set_off_by_hand_and_slack_is_left_to_the_learner(lab):
    lab.stub.add_response("set_alarm_state", {}, {"AlarmName": STACK_ALARM,
                                                  "StateValue": "ALARM", "StateReason": ANY})
    lab.stub.add_response("describe_alarms", {"MetricAlarms": [
        {"AlarmName": STACK_ALARM, "StateValue": "ALARM"}]}, {"AlarmNames": [STACK_ALARM]})
    stack = SimpleNamespace(names=stack_names(""))
    namespace = {"lab": lab, "stack": stack, "cloudwatch": lab.cloudwatch,
                 "instance_id": "i-0123456789abcdef0",
                 "alarm": {"Period": 60}, "about": lambda alarm, state: None}
    exec(compile(cell("09-16"), "09-16", "exec"), namespace)
    assert namespace["fired"].state == "ALARM"
    exec(compile(cell("09-17"), "09-17", "exec"), namespace)
    assert namespace["alarm_message"] is None
    assert namespace["shown"] == "Look at your Slack channel."
