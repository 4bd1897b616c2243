"""Notebook 06 on the aws target, its own cells run against botocore's Stubber.

A Stubber answers only the calls it expects, in order: a call the notebook must not make
(``set_alarm_state`` when the learner did not ask for the quick test) fails the test, and so
does reading the alarm for OK before the SSM command has ended.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import ANY, Stubber

from labkit.show import alarm_watch as watch
from labkit.bastion import ec2 as bastion_ec2
from labkit.names import names_for

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "06_cloudwatch_alarm.ipynb"
INSTANCE = "i-0123456789abcdef0"
COMMAND = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def cell(marker: str) -> str:
    """The source of the notebook's code cell containing *marker*."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    (found,) = ["".join(c["source"]) for c in cells
                if c["cell_type"] == "code" and marker in "".join(c["source"])]
    return found


class AwsLab:
    """What the two cells use of a Lab on the aws target, with stubbed clients."""

    is_local = False

    def __init__(self) -> None:
        self.names = names_for("")
        self.clients = {name: boto3.client(name, region_name="ap-northeast-2",
                                           aws_access_key_id="x", aws_secret_access_key="x")
                        for name in ("cloudwatch", "ssm", "ec2")}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str):
        return self.clients[name]

    def last_slack_message_id(self) -> int:
        raise AssertionError("the local Slack is not read on aws")


@pytest.fixture
def lab(monkeypatch):
    monkeypatch.setattr(bastion_ec2, "_sleep", lambda seconds: None)
    monkeypatch.setattr(watch.time, "sleep", lambda seconds: None)
    lab = AwsLab()
    for stub in lab.stubs.values():
        stub.activate()
    yield lab
    for stub in lab.stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def alarm_in(lab: AwsLab, state: str) -> None:
    lab.stubs["cloudwatch"].add_response(
        "describe_alarms", {"MetricAlarms": [{"AlarmName": lab.names.alarm, "StateValue": state}]},
        {"AlarmNames": [lab.names.alarm]})


def command_status(lab: AwsLab, status: str) -> None:
    lab.stubs["ssm"].add_response(
        "get_command_invocation", {"CommandId": COMMAND, "InstanceId": INSTANCE, "Status": status,
                                   "StatusDetails": status},
        {"CommandId": COMMAND, "InstanceId": INSTANCE})


def not_managed(lab: AwsLab) -> None:
    """SSM has never heard of the instance, which is the learner's own (not the lab's)."""
    lab.stubs["ssm"].add_response("describe_instance_information",
                                  {"InstanceInformationList": []}, None)
    lab.stubs["ec2"].add_response("describe_instances", {"Reservations": [{"Instances": [
        {"InstanceId": INSTANCE, "Tags": [{"Key": "Name", "Value": "my-own"}]}]}]}, None)


def run_cells(lab: AwsLab, quick_test: bool) -> dict:
    namespace = {"lab": lab, "cloudwatch": lab.client("cloudwatch"), "instance_id": INSTANCE,
                 "alarm_quick_test": quick_test, "bastion": None}
    exec(compile(cell("stress --cpu 2 --timeout 120"), "06-load", "exec"), namespace)
    exec(compile(cell("wait_for_command"), "06-recover", "exec"), namespace)
    return namespace


def test_the_load_drives_the_alarm_and_ok_is_awaited_only_after_the_command_ends(lab, capsys):
    ssm = lab.stubs["ssm"]
    ssm.add_response("describe_instance_information", {"InstanceInformationList": [
        {"InstanceId": INSTANCE, "PingStatus": "Online"}]},
        {"Filters": [{"Key": "InstanceIds", "Values": [INSTANCE]}]})
    ssm.add_response("send_command", {"Command": {"CommandId": COMMAND}},
                     {"InstanceIds": [INSTANCE], "DocumentName": "AWS-RunShellScript",
                      "Comment": ANY, "Parameters": ANY})
    alarm_in(lab, "OK")
    alarm_in(lab, "ALARM")
    # The recovery cell: the stress command runs for a while yet, then ends...
    command_status(lab, "InProgress")
    command_status(lab, "InProgress")
    command_status(lab, "Success")
    # ...and only then is the alarm read for OK (no set_alarm_state anywhere in between).
    alarm_in(lab, "ALARM")
    alarm_in(lab, "OK")
    namespace = run_cells(lab, quick_test=False)
    assert namespace["fired"].state == "ALARM" and namespace["recovered"].state == "OK"
    assert "stress --cpu 2 --timeout 300" in capsys.readouterr().out


def test_an_unmanaged_instance_gets_the_command_to_run_and_no_state_set_by_hand(lab, capsys):
    not_managed(lab)
    alarm_in(lab, "OK")
    alarm_in(lab, "ALARM")  # the learner ran stress by hand
    alarm_in(lab, "OK")
    namespace = run_cells(lab, quick_test=False)
    assert namespace["command_id"] is None
    assert "Run this on the instance" in capsys.readouterr().out


def test_the_quick_test_sets_alarm_by_hand_and_never_forces_ok(lab):
    lab.stubs["cloudwatch"].add_response(
        "set_alarm_state", {}, {"AlarmName": lab.names.alarm, "StateValue": "ALARM",
                                "StateReason": ANY})
    alarm_in(lab, "ALARM")
    # Back to OK by itself, at the alarm's next evaluation: the notebook only waits.
    alarm_in(lab, "ALARM")
    alarm_in(lab, "OK")
    namespace = run_cells(lab, quick_test=True)
    assert namespace["recovered"].state == "OK"


def test_an_alarm_that_does_not_fire_on_aws_says_why_with_cloudwatchs_figures(lab, monkeypatch):
    clock = SimpleNamespace(now=0.0)

    def tick() -> float:
        clock.now += 400.0
        return clock.now

    monkeypatch.setattr(watch.time, "monotonic", tick)
    not_managed(lab)
    alarm_in(lab, "OK")  # 900 s pass: no ALARM
    alarm_in(lab, "OK")
    alarm_in(lab, "OK")
    lab.stubs["cloudwatch"].add_response("describe_alarms", {"MetricAlarms": [{
        "AlarmName": lab.names.alarm, "StateValue": "OK", "Namespace": "AWS/EC2",
        "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Dimensions": [{"Name": "InstanceId", "Value": INSTANCE}]}]},
        {"AlarmNames": [lab.names.alarm]})
    lab.stubs["cloudwatch"].add_response("get_metric_statistics", {"Datapoints": []}, None)
    from labkit.errors import LabError

    with pytest.raises(LabError) as caught:
        exec(compile(cell("stress --cpu 2 --timeout 120"), "06-load", "exec"),
             {"lab": lab, "cloudwatch": lab.client("cloudwatch"), "instance_id": INSTANCE,
              "alarm_quick_test": False, "bastion": None})
    assert "no CPU datapoints" in caught.value.what
    assert "detailed monitoring" in caught.value.todo
