"""Notebook 09's alarm cells, run outside a notebook with what they call stood in for.

* aws: against botocore's Stubber, the stack's alarm is set off by hand (a real account has no
  scripted bastion), the hand-made alarm is never touched and the local Slack never read;
* local: an alarm made right after a load starts in ALARM, and the cell brings it back to OK
  (from the bastion's idle figures) before the load, so that the load makes a change of state
  of its own and the message awaited is a new one.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import ANY, Stubber

from labkit import bastion as bastion_package
from labkit.names import names_for, stack_names
from labkit.show import alarm_watch

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "09_pipeline_as_code.ipynb"
STACK_ALARM = stack_names("").resources.alarm


def cell(cell_id: str) -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    (found,) = ["".join(c["source"]) for c in cells if c.get("id") == cell_id]
    return found


# -- aws ------------------------------------------------------------------------------------

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
    monkeypatch.setattr(alarm_watch.time, "sleep", lambda seconds: None)
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


# -- local ----------------------------------------------------------------------------------

class Recorder:
    """Stands in for the lab, the bastion, the watch and CloudWatch, recording their calls."""

    is_local = True

    def __init__(self, state: str) -> None:
        self.state, self.calls, self.last_id = state, [], 7

    def last_slack_message_id(self) -> int:
        self.calls.append(("last_id", self.last_id))
        return self.last_id

    def describe_alarms(self, AlarmNames):  # noqa: N803 - boto3's spelling
        return {"MetricAlarms": [{"AlarmName": AlarmNames[0], "StateValue": self.state}]}

    def bastion(self, instance_id, vcpus, cpu):
        recorder = self

        class Bastion:
            def start_agent(self, cloudwatch, period):
                recorder.calls.append(("agent", period))

            def stop_agent(self):
                recorder.calls.append(("agent stopped",))

            @contextlib.contextmanager
            def run(self, command):
                recorder.calls.append(("load", command))
                yield

        assert cpu == "scripted"
        return Bastion()

    def watch(self, lab, state, timeout, *, alarm, **_):
        self.calls.append(("watch", state, alarm))
        if state == "OK":
            self.last_id = 9  # the OK message of the return
        return SimpleNamespace(state=state)


@pytest.mark.parametrize("start, settles_first", [("ALARM", True), ("INSUFFICIENT_DATA", False),
                                                  ("OK", False)])
def test_the_alarm_cell_lets_a_stack_alarm_in_alarm_return_to_ok_before_the_load(
        monkeypatch, start, settles_first):
    recorder = Recorder(start)
    monkeypatch.setattr(bastion_package, "LocalBastion", recorder.bastion)
    monkeypatch.setattr(alarm_watch, "watch_alarm", recorder.watch)
    namespace = {"lab": recorder, "cloudwatch": recorder, "stack": SimpleNamespace(
        names=stack_names("")), "instance_id": "i-0123456789abcdef0", "alarm": {"Period": 10}}
    exec(compile(cell("09-16"), "09-16", "exec"), namespace)

    steps = [call[0] if call[0] != "watch" else f"watch {call[1]}" for call in recorder.calls]
    settle = ["watch OK", "last_id"] if settles_first else []
    assert steps == ["last_id", "agent", *settle, "load", "watch ALARM", "agent stopped"]
    assert all(call[2] == STACK_ALARM for call in recorder.calls if call[0] == "watch")
    # The message awaited next comes after the return to OK, never the one of the first ALARM.
    assert namespace["after_id"] == (9 if settles_first else 7)
    assert namespace["fired"].state == "ALARM"
