"""Notebook 05's wait for the function's log, and its check's waits on target aws.

* The log cell shows (and waits for) only the two invocations that reached Slack in the
  notebook: the test event, found by its request id, and the one SNS made, found by the
  published MessageId. Earlier invocations' REPORT lines in the same log group do not count.
  The cell's own source runs here, against a log that fills up as a real one does.
* The check waits on aws for what IAM and CloudWatch Logs show a moment late; ``labkit check``
  (no facts from the notebook) reads once. moto in-process, on a fake clock.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import boto3
import pytest

import labkit
import labkit.checks.steps as steps
from labkit.function_log import invocations, request_id, split_invocations
from labkit.checks.steps import run_checks

from .test_aws_target import REGION, aws, start_aws  # noqa: F401 (fixture)

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_iam_policy.ipynb"
TEST_ID = "6a3f2c1e-0b4d-4e8f-9a7b-1c2d3e4f5a6b"
SNS_ID = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70"
MESSAGE_ID = "95df01b4-ee98-5cb9-9903-4c221d41eb5e"


def frame(stream: str, when: int, request: str, *lines: str, ended: bool = True) -> list[dict]:
    """The log events of one invocation in *stream*, as filter_log_events returns them."""
    texts = [f"START RequestId: {request} Version: $LATEST\n", *[f"{x}\n" for x in lines]]
    if ended:
        texts += [f"END RequestId: {request}\n",
                  f"REPORT RequestId: {request}\tDuration: 15.2 ms\tBilled Duration: 16 ms\t"
                  "Memory Size: 128 MB\tMax Memory Used: 48 MB\t\n"]
    return [{"logStreamName": stream, "timestamp": when + i, "message": text}
            for i, text in enumerate(texts)]


def notification(message_id: str) -> str:
    return json.dumps({"level": "INFO", "message": "notification", "message_id": message_id,
                       "alarm": "Example alarm name", "state": "ALARM",
                       "outcome": "delivered"})


# Notebooks 03 and 04 ran the function before: three finished invocations in the group.
EARLIER = (frame("2026/12/06/[$LATEST]aaa", 1000, "11111111-0000-4000-8000-000000000001",
                 '{"level": "ERROR", "message": "kmsEncryptedHookUrl is the placeholder"}')
           + frame("2026/12/06/[$LATEST]aaa", 2000, "11111111-0000-4000-8000-000000000002",
                   '{"level": "ERROR", "message": "AccessDeniedException"}')
           + frame("2026/12/06/[$LATEST]aaa", 3000, "11111111-0000-4000-8000-000000000003",
                   '{"level": "ERROR", "message": "AccessDeniedException"}'))


def tail_of(request: str) -> str:
    """An invoke answer's LogResult: base64 of the end of the invocation's log."""
    text = "".join(e["message"] for e in frame("s", 0, request, notification("xxxxxxxx")))
    return base64.b64encode(text.encode()).decode()


# -- the pure parts ----------------------------------------------------------------------------
def test_request_id_comes_from_the_log_tail_or_else_from_the_answer():
    assert request_id({"LogResult": tail_of(TEST_ID),
                       "ResponseMetadata": {"RequestId": "other"}}) == TEST_ID
    assert request_id({"ResponseMetadata": {"RequestId": TEST_ID}}) == TEST_ID


def test_lines_between_start_and_report_belong_to_that_invocation_in_its_stream():
    # Two environments at once: their lines interleave in time, each in its own stream.
    a = frame("s-a", 5000, TEST_ID, notification("xxxxxxxx"))
    b = frame("s-b", 5001, SNS_ID, notification(MESSAGE_ID), ended=False)
    mixed = [e for pair in zip(a, b) for e in pair] + a[len(b):]
    found = split_invocations(EARLIER + mixed)
    assert [i.request_id for i in found][-2:] == [TEST_ID, SNS_ID]
    ours = invocations(EARLIER + mixed, request_ids=[TEST_ID], message_ids=[MESSAGE_ID])
    assert [(i.request_id, i.stream, i.ended) for i in ours] == [(TEST_ID, "s-a", True),
                                                                 (SNS_ID, "s-b", False)]
    assert ours[1].lines == [f"START RequestId: {SNS_ID} Version: $LATEST",
                             notification(MESSAGE_ID)]


# -- the notebook's log cell -------------------------------------------------------------------
def log_cell() -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if c["cell_type"] == "code"
               and "filter_log_events" in "".join(c["source"])]
    return "".join(cell["source"])


class FillingLog:
    """A logs client whose group gets a batch of new events at each read, as CloudWatch
    Logs receives them a little after each invocation."""

    def __init__(self, batches: list[list[dict]]) -> None:
        self.batches, self.reads, self.events = batches, 0, []

    def get_paginator(self, name: str):
        assert name == "filter_log_events"
        log = self

        class Pages:
            def paginate(self, logGroupName: str):
                if log.batches:
                    log.events = log.events + log.batches.pop(0)
                log.reads += 1
                half = len(log.events) // 2  # two pages
                yield {"events": log.events[:half]}
                yield {"events": log.events[half:]}

        return Pages()


class CellLab:
    is_local = True

    def __init__(self, logs: FillingLog) -> None:
        self.logs = logs
        self.names = labkit.names.names_for("")

    def client(self, service: str):
        assert service == "logs"
        return self.logs


def test_the_log_cell_waits_for_its_own_two_invocations_only(capsys):
    test_event = frame("s-b", 6000, TEST_ID, notification("xxxxxxxx"))
    via_sns = frame("s-b", 7000, SNS_ID, notification(MESSAGE_ID))
    logs = FillingLog([
        EARLIER,                # three REPORT lines already: not ours
        test_event[:2],         # ours starts
        test_event[2:] + via_sns[:2],
        via_sns[2:3],           # END of the SNS one, its REPORT still on its way
        via_sns[3:],
    ])
    namespace = {"lab": CellLab(logs), "labkit": labkit,
                 "answer": {"LogResult": tail_of(TEST_ID),
                            "ResponseMetadata": {"RequestId": "not-lambdas-id"}},
                 "published": {"MessageId": MESSAGE_ID}}
    exec(compile(log_cell(), "05:log", "exec"), namespace)

    assert logs.reads == 5  # it waited until both REPORT lines had arrived, and no longer
    shown = capsys.readouterr().out
    assert f"REPORT RequestId: {TEST_ID}" in shown and f"REPORT RequestId: {SNS_ID}" in shown
    assert "11111111-0000" not in shown and "placeholder" not in shown
    assert [i.request_id for i in namespace["ours"]] == [TEST_ID, SNS_ID]


# -- the check on aws --------------------------------------------------------------------------
@pytest.fixture
def clock(monkeypatch):
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(steps, "_clock", lambda: now[0])
    monkeypatch.setattr(steps, "_sleep", sleep)
    return slept


def make_step_05(lab) -> str:
    """What notebooks 03-05 leave in IAM and KMS, made straight with boto3; the policy ARN."""
    iam, kms = boto3.client("iam"), boto3.client("kms", region_name=REGION)
    iam.create_role(RoleName=lab.names.role, AssumeRolePolicyDocument="{}")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=lab.names.kms_alias, TargetKeyId=key["KeyId"])
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"], "Condition": {
            "StringEquals": {"kms:EncryptionContext:LambdaFunctionName": lab.names.function}}}]}
    arn = iam.create_policy(PolicyName=lab.names.kms_policy,
                            PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=lab.names.role, PolicyArn=arn)
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=lab.names.log_group)
    return arn


class LateIam:
    """IAM whose ListAttachedRolePolicies shows the attachment only from the *late*-th read on,
    as a read right after AttachRolePolicy may on AWS."""

    def __init__(self, real, late: int) -> None:
        self.real, self.late, self.reads = real, late, 0

    def list_attached_role_policies(self, **kwargs):
        self.reads += 1
        answer = self.real.list_attached_role_policies(**kwargs)
        return answer if self.reads >= self.late else {"AttachedPolicies": []}

    def __getattr__(self, name):
        return getattr(self.real, name)


def put_delivery_line(lab) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_stream(logGroupName=lab.names.log_group, logStreamName="s")
    logs.put_log_events(logGroupName=lab.names.log_group, logStreamName="s", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": notification(MESSAGE_ID)}])


def lab_with_late_reads(monkeypatch, late_attachment: int, log_after_sleeps: int):
    lab = start_aws()
    make_step_05(lab)
    late = LateIam(boto3.client("iam"), late_attachment)
    real_client = lab.client
    monkeypatch.setattr(lab, "client",
                        lambda service, **kw: late if service == "iam" else real_client(service))
    real_sleep = steps._sleep

    def sleep_then_log(seconds: float) -> None:
        real_sleep(seconds)
        sleep_then_log.count += 1
        if sleep_then_log.count == log_after_sleeps:
            put_delivery_line(lab)

    sleep_then_log.count = 0
    monkeypatch.setattr(steps, "_sleep", sleep_then_log)
    return lab, late


def results(report) -> dict[str, bool]:
    return {item.text: item.ok for item in report.items}


def test_the_notebooks_check_waits_on_aws_for_the_attachment_and_the_log(aws, monkeypatch,
                                                                          clock):
    lab, late = lab_with_late_reads(monkeypatch, late_attachment=3, log_after_sleeps=5)
    report = run_checks(lab, "05", invoke_answer={"StatusCode": 200},
                        invoke_result={"delivered": 1}, via_sns=None)
    assert report.ok, report.as_text()
    assert late.reads == 3
    assert clock == [3.0] * 5  # 2 for the attachment, 3 more for the log line


def test_the_wait_is_bounded(aws, monkeypatch, clock):
    lab, late = lab_with_late_reads(monkeypatch, late_attachment=10**6, log_after_sleeps=10**6)
    report = run_checks(lab, "05", invoke_answer={"StatusCode": 200},
                        invoke_result={"delivered": 1}, via_sns=None)
    checked = results(report)
    assert not checked[f"It is attached to {lab.names.role}"]
    assert not checked[f"The function logged a delivery to Slack in {lab.names.log_group}"]
    assert sum(clock) == 2 * 60.0


def test_labkit_check_reads_once_and_never_waits(aws, monkeypatch, clock):
    lab, late = lab_with_late_reads(monkeypatch, late_attachment=2, log_after_sleeps=1)
    checked = results(run_checks(lab, "05"))
    assert not checked[f"It is attached to {lab.names.role}"]
    assert late.reads == 1 and clock == []
