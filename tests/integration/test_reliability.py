"""Reliability: no alarm is lost silently, none is posted twice, whatever Slack does.

* A burst of alarm notifications goes through SNS to the lab's real function while the local
  Slack misbehaves (429 with Retry-After, 500, dropped connections, slow answers): every alarm
  reaches the channel exactly once. With Slack down for good, every alarm ends in the
  function's dead-letter queue instead. Each alarm carries a unique id, and the ids are counted
  at both ends: delivered + dead-lettered = published, 0 lost, 0 duplicates.
* A local cloud killed mid-run (SIGKILL) is reported by the next labkit call in plain words.
* The local cloud outlives a notebook kernel that is restarted (killed), with all it holds.
* Two notebooks running at once, for two students, keep their progress, webhooks and resources
  apart.

The retries of asynchronous invocations are compressed (LABKIT_LAMBDA_RETRY_DELAYS; in the
test session the function's own waits too, LABKIT_WAIT_SCALE) and the local Slack's
one-message-a-second rate limit is switched off for the bursts, so the module runs in about a
minute; bench/bench_reliability.py prints the burst's figures.

One case is left out on purpose: a slow answer that outlasts the sender's timeout. Slack then
posts the message although the function saw a failure, so the retry posts it again; that is
how webhooks behave (they have no idempotency key), and notebook 08 says so. The delays
injected here stay well within the shortest HTTP timeout the function uses.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

import labkit
from labkit.checks import passed_steps as progress
from labkit.errors import LabError, explain
from labkit.events import first_message
from labkit.functions import HANDLER, SOURCE
from labkit.local import cloud
from labkit.local import state as st
from labkit.local.awslambda.runtime import RETRY_DELAYS_ENV

from .support import poll

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
BURST = 200
RETRY_DELAYS = "0.2,0.2"  # seconds before Lambda's two retries (AWS: one minute, then two)
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

# Transient trouble, interleaved: each round is one of every kind. The delay stays far below
# the shortest HTTP timeout the function ever uses (0.25 s; see the module docstring).
TRANSIENT_ROUND = [{"kind": "429", "retry_after": 1}, {"kind": "500"}, {"kind": "drop"},
                   {"kind": "delay", "delay_ms": 50}]
TRANSIENT_ROUNDS = 10


# --------------------------------------------------------------------------------------------
# Counting what arrived (pure)


@dataclass(frozen=True)
class Tally:
    """Where the alarms of a burst ended up, by id."""

    published: int
    delivered: int  # distinct ids in the channel
    dead_lettered: int  # distinct ids in the dead-letter queue
    lost: int  # published, found nowhere
    duplicates: int  # extra copies: in the channel twice, or in the channel and the queue

    def line(self) -> str:
        return (f"published {self.published}, delivered {self.delivered}, dead-lettered "
                f"{self.dead_lettered}, lost {self.lost}, duplicates {self.duplicates}")


def tally(published: list[str], delivered: list[str], dead_lettered: list[str]) -> Tally:
    """Count a burst: *delivered* and *dead_lettered* list one id per copy found."""
    copies = Counter(delivered) + Counter(dead_lettered)
    return Tally(published=len(published), delivered=len(set(delivered)),
                 dead_lettered=len(set(dead_lettered)),
                 lost=sum(1 for alarm_id in published if copies[alarm_id] == 0),
                 duplicates=sum(count - 1 for count in copies.values() if count > 1))


def ids_in(text: str, run: str) -> set[str]:
    """The burst ids (``<run>-007``) that *text* mentions."""
    return set(re.findall(rf"\b({re.escape(run)}-\d{{3}})\b", text))


TALLIES = [
    # (published, delivered copies, dead-lettered copies, expected)
    (["a", "b", "c"], ["a", "b", "c"], [], Tally(3, 3, 0, 0, 0)),
    (["a", "b", "c"], ["a", "c"], ["b"], Tally(3, 2, 1, 0, 0)),
    (["a", "b", "c"], ["a", "a", "c"], [], Tally(3, 2, 0, 1, 1)),
    (["a", "b"], ["a"], ["a", "b"], Tally(2, 1, 2, 0, 1)),
    (["a", "b"], [], [], Tally(2, 0, 0, 2, 0)),
]


@pytest.mark.parametrize(("published", "delivered", "dead", "expected"), TALLIES)
def test_tally(published, delivered, dead, expected) -> None:
    assert tally(published, delivered, dead) == expected


def test_ids_in_finds_whole_ids_only() -> None:
    text = '{"text": "r1-007 ALARM", "blocks": ["r1-007", "r1-0071", "xr1-008", "r1-009"]}'
    assert ids_in(text, "r1") == {"r1-007", "r1-009"}


# --------------------------------------------------------------------------------------------
# A pipeline of its own: SNS topic -> the lab's function (with a dead-letter queue) -> a channel


def zipped_notifier() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(SOURCE, arcname=SOURCE.name)
    return buffer.getvalue()


def client(state: st.CloudState, service: str) -> Any:
    return boto3.client(service, endpoint_url=state.endpoint_url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 2}))


@dataclass
class Pipeline:
    """One channel's pipeline in the local cloud, named after the channel."""

    state: st.CloudState
    name: str
    topic_arn: str
    queue_url: str

    @classmethod
    def deploy(cls, state: st.CloudState, name: str, timeout: int) -> Pipeline:
        """Topic, function (*timeout* seconds) posting to #*name*, and its dead-letter queue."""
        iam, lam, sns, sqs = (client(state, s) for s in ("iam", "lambda", "sns", "sqs"))
        hook = requests.post(state.slack_http_url + "/labkit/slack/webhooks",
                             json={"channel": name}, timeout=10).json()
        queue_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        role_arn = iam.create_role(RoleName=f"{name}-role",
                                   AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.attach_role_policy(RoleName=f"{name}-role", PolicyArn=BASIC_EXECUTION)
        # Lambda sends to the dead-letter queue with the function's role, as on AWS.
        iam.put_role_policy(RoleName=f"{name}-role", PolicyName="dead-letter",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow", "Action": "sqs:SendMessage",
                                "Resource": queue_arn}]}))
        function_arn = lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role_arn, Handler=HANDLER,
            Timeout=timeout, Code={"ZipFile": zipped_notifier()},
            DeadLetterConfig={"TargetArn": queue_arn},
            Environment={"Variables": {"slackHookUrl": state.slack_https_url + hook["path"],
                                       "slackChannel": name}})["FunctionArn"]
        topic_arn = sns.create_topic(Name=f"{name}-sns")["TopicArn"]
        lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                           Principal="sns.amazonaws.com", SourceArn=topic_arn)
        sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
        return cls(state, name, topic_arn, queue_url)

    def plan_faults(self, faults: list[dict]) -> None:
        for fault in faults:
            answer = requests.post(self.state.slack_http_url + "/labkit/slack/faults",
                                   json={"channel": self.name, **fault}, timeout=10)
            assert answer.status_code == 200, answer.text

    def publish_burst(self, run: str, count: int) -> list[str]:
        """Publish *count* alarm notifications at once, ids ``<run>-000`` ...; returns the ids."""
        sns = client(self.state, "sns")
        ids = [f"{run}-{i:03d}" for i in range(count)]

        def publish(alarm_id: str) -> None:
            sns.publish(TopicArn=self.topic_arn, Subject=f'ALARM: "{alarm_id}"',
                        Message=json.dumps(alarm(alarm_id)))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(publish, ids))
        return ids

    def delivered(self, run: str) -> list[str]:
        """One id per message in the channel (a message naming several ids counts for each)."""
        messages = requests.get(self.state.slack_http_url + "/api/messages",
                                params={"channel": self.name}, timeout=10).json()["messages"]
        return [i for m in messages for i in ids_in(json.dumps(m["payload"]), run)]

    def receive_dead_letters(self, run: str) -> list[str]:
        """Take the dead-letter queue's messages; one id per message."""
        sqs = client(self.state, "sqs")
        found = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                return found
            for message in got:
                # The body is the event the function failed on: SNS's record, alarm inside.
                alarm_text = json.loads(message["Body"])["Records"][0]["Sns"]["Message"]
                assert message["MessageAttributes"]["ErrorMessage"]["StringValue"]
                found += ids_in(alarm_text, run)
                sqs.delete_message(QueueUrl=self.queue_url,
                                   ReceiptHandle=message["ReceiptHandle"])

    def drain(self, run: str, ids: list[str], quiet: float,
              timeout: float = 120.0) -> tuple[Tally, float | None]:
        """Wait until every id is accounted for and nothing new came for *quiet* seconds (a
        late duplicate would show up in that time), then count. Also returns when (monotonic
        clock) every id was first accounted for, None if never."""
        dead: list[str] = []
        seen, changed, accounted = -1, time.monotonic(), None
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.delivered(run)
            dead += self.receive_dead_letters(run)
            now = time.monotonic()
            if len(delivered) + len(dead) != seen:
                seen, changed = len(delivered) + len(dead), now
            if accounted is None and len(set(delivered) | set(dead)) >= len(ids):
                accounted = now
            if (seen >= len(ids) and now - changed >= quiet) or now > deadline:
                return tally(ids, delivered, dead), accounted
            time.sleep(0.2)

    def invocations(self) -> int:
        """How many times the function ran (its REPORT log lines), retries included."""
        logs = client(self.state, "logs")
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{self.name}")
        return sum(e["message"].startswith("REPORT") for page in pages for e in page["events"])


def alarm(alarm_id: str) -> dict:
    """A CloudWatch alarm notification whose name is the burst id."""
    return {"AlarmName": alarm_id, "AlarmDescription": "reliability burst",
            "AWSAccountId": "123456789012", "NewStateValue": "ALARM", "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed: 1 datapoint (99.0) was >= 50.0.",
            "StateChangeTime": "2024-05-14T10:00:00.000+0000", "Region": "Asia Pacific (Seoul)",
            "AlarmArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{alarm_id}",
            "Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/EC2",
                        "Statistic": "AVERAGE", "Period": 60, "EvaluationPeriods": 1,
                        "Threshold": 50.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                        "Dimensions": []}}


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """A local cloud for the bursts, with Lambda's retry waits compressed."""
    home = tmp_path_factory.mktemp("reliability-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RETRY_DELAYS_ENV, RETRY_DELAYS)
        running, _, _ = cloud.up(home)
    yield running
    cloud.down(home)


@pytest.fixture
def no_rate_limit(state):
    """Slack's one message a second would make a burst of 200 take minutes: off for a test."""
    settings = state.slack_http_url + "/labkit/slack/settings"
    requests.post(settings, json={"rate_limit": False}, timeout=10).raise_for_status()
    yield
    requests.post(settings, json={"rate_limit": True}, timeout=10).raise_for_status()


def test_a_burst_through_transient_faults_delivers_every_alarm_exactly_once(state,
                                                                             no_rate_limit):
    # Timeout 3 s: within one invocation the function retries a 429 after its Retry-After and
    # a 500 or a dropped connection after 0.5 s, then 1 s; beyond that Lambda retries.
    pipeline = Pipeline.deploy(state, "burst-transient", timeout=3)
    pipeline.plan_faults(TRANSIENT_ROUND * TRANSIENT_ROUNDS)
    started = time.monotonic()
    run = "t" + uuid.uuid4().hex[:6]
    ids = pipeline.publish_burst(run, BURST)
    result, _ = pipeline.drain(run, ids, quiet=4.0)
    print(f"\ntransient faults: {result.line()} in {time.monotonic() - started:.1f} s")

    assert result == Tally(BURST, BURST, 0, 0, 0)
    left = requests.get(state.slack_http_url + "/labkit/slack/faults",
                        params={"channel": pipeline.name}, timeout=10).json()["faults"]
    assert left == []  # every planned fault was met by a request


def test_a_burst_while_slack_is_down_for_good_ends_in_the_dead_letter_queue(state,
                                                                          no_rate_limit):
    # Timeout 1 s: one attempt per invocation, so three attempts per alarm (Lambda's two
    # retries), then the dead-letter queue.
    pipeline = Pipeline.deploy(state, "burst-down", timeout=1)
    pipeline.plan_faults([{"kind": "500", "always": True}])
    started = time.monotonic()
    run = "p" + uuid.uuid4().hex[:6]
    ids = pipeline.publish_burst(run, BURST)
    result, _ = pipeline.drain(run, ids, quiet=1.0)
    print(f"\nSlack down for good: {result.line()} in {time.monotonic() - started:.1f} s")

    assert result == Tally(BURST, 0, BURST, 0, 0)


# --------------------------------------------------------------------------------------------
# A local cloud that dies, a kernel that restarts, two notebooks at once


def test_a_local_cloud_killed_mid_run_is_reported_by_the_next_labkit_call(home):
    lab = labkit.start(student="kim")
    lab.check("00")  # a step done on this cloud: its loss must be reported later
    sns = lab.client("sns")
    topic = sns.create_topic(Name=lab.names.topic, Tags=lab.tag_list)["TopicArn"]
    killed = lab.state
    published: list[str] = []

    def publish_until_it_fails() -> None:
        for i in range(100_000):
            published.append(sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"])

    publishing = ThreadPoolExecutor(1).submit(publish_until_it_fails)
    poll(lambda: len(published) >= 5)  # mid-run: the publishing is under way
    os.kill(killed.pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(killed.pid)], timeout=10)
    with pytest.raises(EndpointConnectionError):
        publishing.result(timeout=60)  # the run in progress fails...

    # ...and every next labkit call says what happened and what to do, no traceback needed.
    with pytest.raises(LabError) as slack_down:
        lab.slack_messages()
    assert slack_down.value.what and slack_down.value.todo
    with pytest.raises(LabError) as faults_down:
        lab.slack_faults.pending()
    assert "stopped or killed" in faults_down.value.what
    assert "labkit local up" in faults_down.value.todo
    quick = lab.client("sns", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(EndpointConnectionError) as aws_down:
        quick.list_topics()
    what, todo = explain(aws_down.value)
    assert "local cloud does not answer" in what and todo

    again = labkit.start(student="kim")
    notes = "\n".join(again.notes)
    assert again.state.cloud_id != killed.cloud_id
    assert "stale state file" in notes and str(killed.pid) in notes  # the dead one, found
    assert "restarted since you ran step(s) 00" in notes  # what that cost, and what to do
    assert again.client("sns").list_topics()["Topics"] == []


def run_cell(kernel: Any, code: str) -> str:
    """Execute *code* in a Jupyter kernel; return what it printed, fail on an error."""
    printed: list[str] = []
    errors: list[str] = []

    def collect(message: dict) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            errors.append("\n".join(message["content"]["traceback"]))

    reply = kernel.execute_interactive(code, timeout=120, output_hook=collect)
    assert reply["content"]["status"] == "ok", "\n".join(errors)
    return "".join(printed)


KERNEL_FIRST = """
import json, labkit
lab = labkit.start(student="rs")
lab.check("00")
lab.client("sns").create_topic(Name=lab.names.topic, Tags=lab.tag_list)
print(json.dumps({"cloud_id": lab.state.cloud_id, "pid": lab.state.pid}))
"""
KERNEL_AFTER_RESTART = """
import json, labkit
lab = labkit.start(student="rs")
topics = [t["TopicArn"].rsplit(":", 1)[-1] for t in lab.client("sns").list_topics()["Topics"]]
print(json.dumps({"cloud_id": lab.state.cloud_id, "pid": lab.state.pid, "topics": topics,
                  "notes": lab.notes}))
"""


def test_the_local_cloud_survives_a_notebook_kernel_restart(home):
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "LABKIT_HOME": str(home)}, cwd=str(ROOT))
    kernel = manager.client()
    kernel.start_channels()
    try:
        kernel.wait_for_ready(timeout=60)
        before = json.loads(run_cell(kernel, KERNEL_FIRST).strip().splitlines()[-1])
        old_kernel = manager.provisioner.pid
        manager.restart_kernel(now=True)  # kills the kernel that started the cloud
        kernel.wait_for_ready(timeout=60)
        assert manager.provisioner.pid != old_kernel
        after = json.loads(run_cell(kernel, KERNEL_AFTER_RESTART).strip().splitlines()[-1])
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)

    assert (after["cloud_id"], after["pid"]) == (before["cloud_id"], before["pid"])
    assert "rs-mission-sns" in after["topics"]
    assert not any("restarted" in note for note in after["notes"]), after["notes"]
    assert progress.read(home, "rs") == {"cloud_id": before["cloud_id"], "steps": ["00"]}


def test_two_notebooks_running_at_once_keep_their_state_apart(home):
    # No local cloud yet: both runs start one at the same moment and must end up sharing it.
    runs = {
        student: subprocess.Popen(
            [sys.executable, "-m", "labkit", "run", "--only", "01", "02", "--student", student,
             "--slack-channel", f"{student}-alerts", "--out", str(home / f"run-{student}"), "-q"],
            cwd=ROOT, env={**os.environ, "LABKIT_HOME": str(home)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for student in ("ann", "bob")}
    outputs = {student: run.communicate(timeout=300)[0] for student, run in runs.items()}
    for student, run in runs.items():
        assert run.returncode == 0, outputs[student]

    state = st.read_state(home)  # both runs' progress names this one cloud (below)
    sns, sqs = client(state, "sns"), client(state, "sqs")
    hooks = requests.get(state.slack_http_url + "/labkit/slack/webhooks", timeout=10).json()
    channels = Counter(h["channel"] for h in hooks["webhooks"])
    for student, other in (("ann", "bob"), ("bob", "ann")):
        assert progress.read(home, student) == {"cloud_id": state.cloud_id,
                                                "steps": ["01", "02"]}
        assert channels[f"{student}-alerts"] == 1
        texts = [m["text"] for m in requests.get(
            state.slack_http_url + "/api/messages", params={"channel": f"{student}-alerts"},
            timeout=10).json()["messages"]]
        assert texts.count(first_message(student)) == 1
        assert first_message(other) not in texts
        topic = f"arn:aws:sns:{REGION}:123456789012:{student}-mission-sns"
        tags = {t["Key"]: t["Value"]
                for t in sns.list_tags_for_resource(ResourceArn=topic)["Tags"]}
        assert tags["Student"] == student
        queue = sqs.get_queue_url(QueueName=f"{student}-mission-sns-inbox")["QueueUrl"]
        assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
