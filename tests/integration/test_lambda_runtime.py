"""The local Lambda runtime: functions deployed to the local cloud really run, as on Lambda.

The tests share one local cloud (each deploys functions of names of its own; those that change
the cloud's settings, stop it or kill it start their own), deploy small handlers built here
with zipfile, and check what a boto3 user would see: the Invoke answer, the log in
CloudWatch Logs, what the handler itself observed, and what asynchronous invocations leave
behind. Asynchronous results are polled for with generous deadlines; nothing asserts speed.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import psutil
import pytest
import requests

from labkit.local import cloud
from labkit.local.awslambda.runtime import RETRY_DELAYS_ENV
from labkit.local.awslambda.sandbox import WORKER
from labkit.local.waits import WAIT_SCALE_ENV

from .support import poll

pytestmark = pytest.mark.integration

REGION = "ap-northeast-2"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]}
# Dead-letter queues and destinations are written with the function's role, as on AWS.
DELIVERY_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["sqs:SendMessage", "sns:Publish"], "Resource": "*"}]}
NOTIFIER = Path(__file__).resolve().parents[2] / "labkit" / "functions" / "slack_notifier.py"
SEED_EVENT = Path(__file__).resolve().parents[1] / "fixtures/events/seed_mission_slack_test.json"
STREAM_NAME = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def zipped(source: str, filename: str = "index.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()



class Lab:
    """An isolated local cloud with clients, an execution role and small helpers."""

    def __init__(self, home: Path) -> None:
        self.state, _, _ = cloud.up(home)
        self.session = boto3.session.Session(aws_access_key_id="testing",
                                             aws_secret_access_key="testing", region_name=REGION)
        self.lam, self.iam = self.client("lambda"), self.client("iam")
        self.logs, self.sns, self.sqs = self.client("logs"), self.client("sns"), self.client("sqs")
        self.role_arn = self.iam.create_role(
            RoleName="runtime-test-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        self.iam.attach_role_policy(
            RoleName="runtime-test-role",
            PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        self.iam.put_role_policy(RoleName="runtime-test-role", PolicyName="deliveries",
                                 PolicyDocument=json.dumps(DELIVERY_POLICY))

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.state.endpoint_url)

    def deploy(self, name: str, source: str, handler: str = "index.handler",
               filename: str = "index.py", **config: Any) -> str:
        return self.lam.create_function(
            FunctionName=name, Runtime="python3.11", Role=self.role_arn, Handler=handler,
            Code={"ZipFile": zipped(source, filename)}, **config)["FunctionArn"]

    def invoke(self, name: str, event: Any = None, **kwargs: Any) -> tuple[dict, Any]:
        answer = self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
        body = answer["Payload"].read()
        return answer, json.loads(body) if body else None

    def log_lines(self, name: str) -> list[str]:
        """Every log event of the function, oldest first, over all its streams."""
        group = f"/aws/lambda/{name}"
        try:
            streams = self.logs.describe_log_streams(logGroupName=group)["logStreams"]
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        events = []
        for stream in streams:
            events += self.logs.get_log_events(logGroupName=group,
                                               logStreamName=stream["logStreamName"],
                                               startFromHead=True)["events"]
        return [e["message"] for e in sorted(events, key=lambda e: e["timestamp"])]

    def start_times(self, name: str, request_id: str) -> list[int]:
        """When each attempt of one invocation started (its START line's time, in ms)."""
        group = f"/aws/lambda/{name}"
        events = [e for page in self.logs.get_paginator("filter_log_events").paginate(
                      logGroupName=group) for e in page["events"]
                  if e["message"].startswith(f"START RequestId: {request_id} ")]
        return sorted(e["timestamp"] for e in events)

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def receive(self, queue_url: str) -> dict:
        def one() -> dict | None:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"],
                                                WaitTimeSeconds=1).get("Messages", [])
            return messages[0] if messages else None
        return poll(one)


def tail(answer: dict) -> str:
    return base64.b64decode(answer["LogResult"]).decode("utf-8")


def runtime_settings(patch: pytest.MonkeyPatch) -> None:
    """The environment the cloud process of these tests starts in."""
    # Short retry delays keep the asynchronous tests quick; they are read by the cloud process.
    patch.setenv("LABKIT_LAMBDA_RETRY_DELAYS", "0.3,0.6")
    # The runtime as a learner meets it: a function's sleeps are whole (the test session
    # shortens them elsewhere; the functions here poll a gate with short sleeps, which would
    # otherwise use up their timeout ten times sooner).
    patch.setenv(WAIT_SCALE_ENV, "1")
    # Something the local cloud's environment holds that a function must never see.
    patch.setenv("LABKIT_TEST_PRIVATE", "not-for-functions")


@pytest.fixture(scope="module")
def shared_lab(tmp_path_factory) -> Iterator[Lab]:
    """One local cloud for the tests that deploy and invoke functions of names of their own."""
    home = tmp_path_factory.mktemp("runtime-home")
    with pytest.MonkeyPatch.context() as patch:
        runtime_settings(patch)
        shared = Lab(home)
    yield shared
    cloud.down(home)


@pytest.fixture
def lab(shared_lab) -> Lab:
    return shared_lab


@pytest.fixture
def own_lab(home, monkeypatch) -> Lab:
    """A local cloud of its own, for a test that stops or kills it."""
    runtime_settings(monkeypatch)
    return Lab(home)


@pytest.fixture
def lesson_lab(home, monkeypatch) -> Lab:
    """A local cloud with the lesson's waits: Lambda's retry delays of 1 s, then 2 s."""
    monkeypatch.delenv(RETRY_DELAYS_ENV, raising=False)
    monkeypatch.setenv(WAIT_SCALE_ENV, "1")
    return Lab(home)


@pytest.fixture
def short_lab(home, monkeypatch) -> Lab:
    """A local cloud whose waits last a tenth of their length (LABKIT_WAIT_SCALE)."""
    monkeypatch.setenv(WAIT_SCALE_ENV, "0.1")
    return Lab(home)


COUNTER = '''
import os
count = 0
print("initialising")

def handler(event, context):
    global count
    count += 1
    return {"count": count, "pid": os.getpid(), "stream": context.log_stream_name}
'''


def test_warm_invocations_share_module_state_and_report_init_only_on_the_cold_start(lab):
    lab.deploy("counter", COUNTER)
    first, one = lab.invoke("counter", LogType="Tail")
    second, two = lab.invoke("counter", LogType="Tail")
    third, three = lab.invoke("counter", LogType="Tail")

    assert [one["count"], two["count"], three["count"]] == [1, 2, 3]
    assert one["pid"] == two["pid"] == three["pid"]
    assert one["stream"] == two["stream"] == three["stream"]
    assert "Init Duration:" in tail(first) and "initialising" in tail(first)
    assert "Init Duration:" not in tail(second) and "initialising" not in tail(second)
    assert "Init Duration:" not in tail(third)
    assert all(a["StatusCode"] == 200 and "FunctionError" not in a for a in (first, second, third))
    assert first["ExecutedVersion"] == "$LATEST"


def test_a_code_or_configuration_change_starts_a_fresh_environment(lab):
    lab.deploy("changing", COUNTER, Timeout=5)
    _, before = lab.invoke("changing")
    _, warm = lab.invoke("changing")
    assert warm["count"] == 2

    lab.lam.update_function_configuration(FunctionName="changing",
                                          Environment={"Variables": {"COLOUR": "blue"}})
    answer, after_config = lab.invoke("changing", LogType="Tail")
    assert after_config["count"] == 1 and "Init Duration:" in tail(answer)
    assert after_config["pid"] != before["pid"]
    assert after_config["stream"] != before["stream"]
    # The environment of the old configuration is stopped, not left idle.
    poll(lambda: not psutil.pid_exists(before["pid"]) or
         psutil.Process(before["pid"]).status() == psutil.STATUS_ZOMBIE)

    lab.lam.update_function_code(FunctionName="changing",
                                 ZipFile=zipped(COUNTER.replace("count += 1", "count += 10")))
    _, after_code = lab.invoke("changing")
    assert after_code["count"] == 10 and after_code["pid"] != after_config["pid"]


SLOW = '''
import os, time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"pid": os.getpid()}
'''


def test_timeout_stops_the_environment_and_reports_as_lambda_does(lab):
    lab.deploy("slow", SLOW, Timeout=1)
    _, warm = lab.invoke("slow")

    answer, error = lab.invoke("slow", {"sleep": 30}, LogType="Tail")
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds",
                        error["errorMessage"])
    log = tail(answer)
    assert re.search(r"\d{4}-\d\d-\d\dT[\d:.]+Z [0-9a-f-]{36} Task timed out after 1\.\d\d seconds",
                     log)
    assert "Status: timeout" in log

    # The timed-out environment is gone; the next invocation starts a fresh one.
    poll(lambda: not psutil.pid_exists(warm["pid"]) or
         psutil.Process(warm["pid"]).status() == psutil.STATUS_ZOMBIE)
    again, fresh = lab.invoke("slow", LogType="Tail")
    assert fresh["pid"] != warm["pid"] and "Init Duration:" in tail(again)
    assert any("Task timed out after" in line for line in lab.log_lines("slow"))


SLEEPER = '''
import time

def handler(event, context):
    before = context.get_remaining_time_in_millis()
    time.sleep(event["sleep"])
    return {"before": before, "after": context.get_remaining_time_in_millis()}
'''


def test_shortened_sleeps_count_in_full_so_the_timeout_comes_as_it_would(short_lab):
    """With the waits shortened, a function still loses every second it sleeps: its remaining
    time, its REPORT line and its timeout go as they would with whole seconds."""
    short_lab.deploy("sleeper", SLEEPER, Timeout=3)
    answer, seen = short_lab.invoke("sleeper", {"sleep": 2}, LogType="Tail")
    assert "FunctionError" not in answer
    assert seen["before"] - seen["after"] >= 2000
    duration = re.search(r"\tDuration: (\d+\.\d\d) ms", tail(answer))
    assert duration and float(duration.group(1)) >= 2000

    # 2 s more would fit in whole seconds too; 30 s would not, whichever way they pass.
    answer, error = short_lab.invoke("sleeper", {"sleep": 30}, LogType="Tail")
    assert answer["FunctionError"] == "Unhandled" and error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 3.00 seconds")
    assert re.search(r"Task timed out after 3\.\d\d seconds", tail(answer))
    assert "Status: timeout" in tail(answer)


FAILING = '''
ACTIONS = {"square": lambda n: n * n}

def handler(event, context):
    return ACTIONS[event["action"]](event["number"])
'''


def test_function_errors_come_back_unhandled_with_lambdas_error_document(lab):
    lab.deploy("failing", FAILING)
    answer, error = lab.invoke("failing", {"action": "cube", "number": 3}, LogType="Tail")

    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] == "KeyError" and error["errorMessage"] == "'cube'"
    assert re.fullmatch(r"[0-9a-f-]{36}", error["requestId"])
    assert len(error["stackTrace"]) == 1
    assert re.match(r'  File ".*index\.py", line 5, in handler\n    return ACTIONS',
                    error["stackTrace"][0])
    log = tail(answer)
    assert f"START RequestId: {error['requestId']} Version: $LATEST" in log
    assert "[ERROR] KeyError: 'cube'\nTraceback (most recent call last):" in log

    _, fine = lab.invoke("failing", {"action": "square", "number": 3})
    assert fine == 9


def test_import_errors_are_reported_as_the_runtime_does(lab):
    lab.deploy("broken", "import not_a_module_anywhere\n")
    answer, error = lab.invoke("broken")
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == ("Unable to import module 'index': "
                                     "No module named 'not_a_module_anywhere'")

    lab.deploy("misnamed", COUNTER, handler="index.missing")
    _, error = lab.invoke("misnamed")
    assert error["errorType"] == "Runtime.HandlerNotFound"


LOGGING = '''
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("printed line one\\nprinted line two")
    logger.info("logged %s", "with the logging module")
    return "ok"
'''


def test_logs_reach_cloudwatch_in_lambdas_format(lab):
    lab.deploy("logging", LOGGING, MemorySize=256)
    answer, _ = lab.invoke("logging", LogType="Tail")
    lines = poll(lambda: lab.log_lines("logging"))

    streams = lab.logs.describe_log_streams(logGroupName="/aws/lambda/logging")["logStreams"]
    assert len(streams) == 1 and STREAM_NAME.match(streams[0]["logStreamName"])
    start = next(line for line in lines if line.startswith("START RequestId: "))
    invocation_id = start.split()[2]
    assert start == f"START RequestId: {invocation_id} Version: $LATEST"
    assert "printed line one" in lines and "printed line two" in lines
    assert any(re.fullmatch(
        rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{invocation_id}\t"
        r"logged with the logging module", line) for line in lines)
    assert f"END RequestId: {invocation_id}" in lines
    report = next(line for line in lines if line.startswith("REPORT"))
    assert re.fullmatch(
        rf"REPORT RequestId: {invocation_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms", report)
    assert lines.index(start) < lines.index(f"END RequestId: {invocation_id}") < lines.index(report)
    assert tail(answer).rstrip("\n").split("\n")[-1] == report


ENVIRONMENT = '''
import os, boto3

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()
    return {
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "caller": identity["Arn"],
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
    }
'''


def test_the_handler_sees_lambdas_environment_and_its_roles_credentials(lab):
    arn = lab.deploy("environment", ENVIRONMENT, Timeout=7, MemorySize=256,
                     Environment={"Variables": {"slackChannel": "project",
                                                "AWS_LAMBDA_FUNCTION_NAME": "spoofed"}})
    answer, seen = lab.invoke("environment", LogType="Tail")
    env, context = seen["environ"], seen["context"]

    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "environment"  # reserved: not overridable
    assert env["slackChannel"] == "project"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/environment"
    assert STREAM_NAME.match(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["_HANDLER"] == "index.handler"
    assert env["LAMBDA_TASK_ROOT"] == seen["cwd"]
    assert env["TZ"] == ":UTC"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_ENDPOINT_URL"] == lab.state.endpoint_url
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == lab.state.ca_bundle

    # The execution role's temporary credentials, not the learner's own.
    assert env["AWS_ACCESS_KEY_ID"] != "testing" and env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_SECRET_ACCESS_KEY"] != "testing" and env["AWS_SESSION_TOKEN"]
    assert seen["caller"].endswith(":assumed-role/runtime-test-role/environment")
    assert "LABKIT_TEST_PRIVATE" not in env and "LABKIT_HOME" not in env

    assert context["function_name"] == "environment"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/environment"
    assert context["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert f"START RequestId: {context['aws_request_id']} " in tail(answer)
    assert 0 < context["remaining"] <= 7000


GATED = '''
import json, os, time

def handler(event, context):
    gate = event.get("gate") or json.loads(event["Records"][0]["Sns"]["Message"])["gate"]
    deadline = time.monotonic() + 20
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            print("gave up waiting")
            return {"pid": os.getpid(), "released": False}
        time.sleep(0.05)
    print("released " + json.dumps(event))
    return {"pid": os.getpid(), "released": True}
'''


def test_event_invocations_answer_202_at_once_and_run_in_the_background(lab, tmp_path):
    lab.deploy("gated", GATED, Timeout=30)
    gate = tmp_path / "gate"
    answer = lab.lam.invoke(FunctionName="gated", InvocationType="Event",
                            Payload=json.dumps({"gate": str(gate)}))
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    # The handler is still waiting for the gate: Invoke did not wait for it.
    assert not any(line.startswith("END RequestId") for line in lab.log_lines("gated"))

    gate.touch()
    lines = poll(lambda: [line for line in lab.log_lines("gated") if line.startswith("released")])
    assert json.loads(lines[0].removeprefix("released ")) == {"gate": str(gate)}
    assert not any("gave up waiting" in line for line in lab.log_lines("gated"))


def test_concurrent_invocations_get_separate_environments(lab, tmp_path):
    lab.deploy("parallel", GATED, Timeout=30)
    gate = tmp_path / "gate"
    results: dict[str, Any] = {}
    blocked = threading.Thread(target=lambda: results.update(
        blocked=lab.invoke("parallel", {"gate": str(gate)})[1]))
    blocked.start()
    poll(lambda: any(line.startswith("START") for line in lab.log_lines("parallel")))

    opened = tmp_path / "already-open"
    opened.touch()
    _, free = lab.invoke("parallel", {"gate": str(opened)})  # runs while the first one waits
    gate.touch()
    blocked.join(60)
    assert free["released"] and results["blocked"]["released"]
    assert free["pid"] != results["blocked"]["pid"]
    streams = lab.logs.describe_log_streams(logGroupName="/aws/lambda/parallel")["logStreams"]
    assert len(streams) == 2


ALWAYS_FAILS = '''
def handler(event, context):
    if event.get("fail", True):
        raise RuntimeError("boom " + str(event.get("n")))
    return {"fine": event.get("n")}
'''


def starts_of(lines: list[str], request_id: str) -> list[str]:
    return [line for line in lines if line.startswith(f"START RequestId: {request_id} ")]


def test_failed_async_invocations_are_retried_twice_then_go_to_the_dead_letter_queue(
        lesson_lab):
    """The one test of Lambda's retry delays at the lesson's real values (1 s, then 2 s; AWS:
    one minute, then two): every other test and notebook run shortens them."""
    lab = lesson_lab
    queue_url, queue_arn = lab.queue("failed-events")
    lab.deploy("retried", ALWAYS_FAILS, DeadLetterConfig={"TargetArn": queue_arn})
    assert lab.lam.get_function_configuration(FunctionName="retried")["DeadLetterConfig"] == {
        "TargetArn": queue_arn}

    event = {"n": 7}
    assert lab.lam.invoke(FunctionName="retried", InvocationType="Event",
                          Payload=json.dumps(event))["StatusCode"] == 202
    message = lab.receive(queue_url)

    assert json.loads(message["Body"]) == event
    attributes = message["MessageAttributes"]
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"]["StringValue"] == "boom 7"
    request_id = attributes["RequestID"]["StringValue"]
    lines = lab.log_lines("retried")
    starts = starts_of(lines, request_id)
    assert len(starts) == 3  # the first attempt and Lambda's two retries, same request id
    assert sum("[ERROR] RuntimeError: boom 7" in line for line in lines) == 3
    # Each retry starts no sooner than its delay after the attempt before it started.
    first, second, third = lab.start_times("retried", request_id)
    assert second - first >= 1000 and third - second >= 2000, (first, second, third)


def test_on_failure_and_on_success_destinations_receive_invocation_records(lab):
    failures_url, failures_arn = lab.queue("on-failure")
    successes_url, successes_arn = lab.queue("on-success")
    arn = lab.deploy("destined", ALWAYS_FAILS)
    lab.lam.put_function_event_invoke_config(
        FunctionName="destined", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn},
                           "OnSuccess": {"Destination": successes_arn}})

    lab.lam.invoke(FunctionName="destined", InvocationType="Event", Payload=json.dumps({"n": 1}))
    record = json.loads(lab.receive(failures_url)["Body"])
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    context = record["requestContext"]
    assert context["functionArn"] == f"{arn}:$LATEST"
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 2  # MaximumRetryAttempts=1
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "boom 1"
    assert len(starts_of(lab.log_lines("destined"), context["requestId"])) == 2

    lab.lam.invoke(FunctionName="destined", InvocationType="Event",
                   Payload=json.dumps({"n": 2, "fail": False}))
    success = json.loads(lab.receive(successes_url)["Body"])
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["responsePayload"] == {"fine": 2}
    assert "functionError" not in success["responseContext"]


def test_sns_publish_returns_at_once_and_the_function_gets_the_real_event(lab, tmp_path):
    function_arn = lab.deploy("subscriber", GATED, Timeout=30)
    topic_arn = lab.sns.create_topic(Name="alarms")["TopicArn"]
    lab.lam.add_permission(FunctionName="subscriber", StatementId="sns",
                           Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                           SourceArn=topic_arn)
    subscription_arn = lab.sns.subscribe(TopicArn=topic_arn, Protocol="lambda",
                                         Endpoint=function_arn)["SubscriptionArn"]
    gate = tmp_path / "gate"
    message = json.dumps({"gate": str(gate), "AlarmName": "mission-cpu-alarm"})
    published = lab.sns.publish(TopicArn=topic_arn, Message=message, Subject="ALARM: test",
                                MessageAttributes={"team": {"DataType": "String",
                                                            "StringValue": "ops"}})
    assert not any(line.startswith("END RequestId") for line in lab.log_lines("subscriber"))

    gate.touch()
    line = poll(lambda: [x for x in lab.log_lines("subscriber") if x.startswith("released")])[0]
    event = json.loads(line.removeprefix("released "))
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription_arn
    sns = record["Sns"]
    assert sns["Type"] == "Notification"
    assert sns["TopicArn"] == topic_arn
    assert sns["MessageId"] == published["MessageId"]
    assert sns["Subject"] == "ALARM: test"
    assert sns["Message"] == message
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sns["Timestamp"])
    assert sns["MessageAttributes"] == {"team": {"Type": "String", "Value": "ops"}}
    assert sns["Signature"] and sns["SignatureVersion"] in {"1", "2"}
    assert sns["SigningCertUrl"].startswith(f"https://sns.{REGION}.amazonaws.com/")
    assert sns["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription_arn}")


def test_dry_run_validates_without_running(lab):
    lab.deploy("dry", COUNTER)
    answer = lab.lam.invoke(FunctionName="dry", InvocationType="DryRun")
    assert answer["StatusCode"] == 204
    assert lab.log_lines("dry") == []  # nothing ran, so nothing was logged
    _, first = lab.invoke("dry")
    assert first["count"] == 1
    with pytest.raises(lab.lam.exceptions.ResourceNotFoundException):
        lab.lam.invoke(FunctionName="no-such-function", InvocationType="DryRun")
    with pytest.raises(lab.lam.exceptions.ResourceNotFoundException):
        lab.lam.invoke(FunctionName="no-such-function")


def test_nothing_is_logged_when_the_role_may_not_write_logs(lab):
    bare = lab.iam.create_role(RoleName="no-logs-role",
                               AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lab.lam.create_function(FunctionName="silent", Runtime="python3.11", Role=bare,
                            Handler="index.handler", Code={"ZipFile": zipped(LOGGING)})
    answer, result = lab.invoke("silent", LogType="Tail")
    assert result == "ok" and "printed line one" in tail(answer)
    assert lab.log_lines("silent") == []

    lab.iam.attach_role_policy(
        RoleName="no-logs-role",
        PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    lab.invoke("silent")  # same environment: the policy applies from now on
    assert "printed line one" in lab.log_lines("silent")


def test_payloads_that_are_not_json_are_refused(lab):
    lab.deploy("strict", COUNTER)
    with pytest.raises(lab.lam.exceptions.InvalidRequestContentException):
        lab.lam.invoke(FunctionName="strict", Payload=b"{not json")
    assert lab.log_lines("strict") == []


def test_idle_environments_are_stopped_after_a_while(home, monkeypatch):
    monkeypatch.setenv("LABKIT_LAMBDA_IDLE_SECONDS", "1")
    lab = Lab(home)
    lab.deploy("idle", COUNTER)
    _, first = lab.invoke("idle")
    poll(lambda: not psutil.pid_exists(first["pid"]) or
         psutil.Process(first["pid"]).status() == psutil.STATUS_ZOMBIE)
    answer, second = lab.invoke("idle", LogType="Tail")
    assert second["count"] == 1 and "Init Duration:" in tail(answer)


def test_deleting_a_function_stops_its_environments(lab):
    lab.deploy("short-lived", COUNTER)
    _, seen = lab.invoke("short-lived")
    worker = psutil.Process(seen["pid"])
    lab.deploy("stays", COUNTER)
    _, other = lab.invoke("stays")

    lab.lam.delete_function(FunctionName="short-lived")
    poll(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE)
    assert psutil.Process(other["pid"]).is_running()  # other functions stay warm
    assert lab.invoke("stays")[1]["pid"] == other["pid"]


def test_environments_end_with_the_local_cloud(own_lab, home):
    lab = own_lab
    lab.deploy("lingering", COUNTER)
    _, seen = lab.invoke("lingering")
    worker = psutil.Process(seen["pid"])
    assert worker.is_running()

    cloud.down(home)
    poll(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE)


def test_environments_exit_when_the_local_cloud_dies_abruptly(own_lab, tmp_path):
    lab = own_lab
    lab.deploy("orphan", GATED, Timeout=60)
    gate = tmp_path / "never-opened"
    threading.Thread(target=lambda: _ignore_errors(
        lambda: lab.invoke("orphan", {"gate": str(gate)})), daemon=True).start()
    poll(lambda: any(line.startswith("START") for line in lab.log_lines("orphan")))
    server = psutil.Process(lab.state.pid)
    workers = [p for p in server.children(recursive=True)
               if str(WORKER) in p.cmdline()]
    assert workers  # one environment, busy in its handler

    server.kill()  # no shutdown code runs: the worker must notice by itself
    server.wait(30)
    for worker in workers:
        poll(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE)


def _ignore_errors(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:
        pass


def test_sns_to_the_lab_notifier_to_the_local_slack(lab):
    hook = requests.post(lab.state.slack_http_url + "/labkit/slack/webhooks",
                         json={"channel": "project"}, timeout=10).json()
    function_arn = lab.lam.create_function(
        FunctionName="mission-lambda", Runtime="python3.11", Role=lab.role_arn,
        Handler="slack_notifier.lambda_handler", Timeout=30,
        Code={"ZipFile": zipped(NOTIFIER.read_text(), "slack_notifier.py")},
        Environment={"Variables": {"slackHookUrl": lab.state.slack_https_url + hook["path"],
                                   "slackChannel": "project"}},
    )["FunctionArn"]
    topic_arn = lab.sns.create_topic(Name="mission-sns")["TopicArn"]
    lab.lam.add_permission(FunctionName="mission-lambda", StatementId="sns",
                           Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                           SourceArn=topic_arn)
    lab.sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)

    seed = json.loads(SEED_EVENT.read_text())["Records"][0]["Sns"]
    lab.sns.publish(TopicArn=topic_arn, Message=seed["Message"], Subject="ALARM: mission")

    def messages() -> list[dict]:
        return requests.get(lab.state.slack_http_url + "/api/messages",
                            params={"channel": "project"}, timeout=10).json()["messages"]
    delivered = poll(messages)
    assert len(delivered) == 1
    posted = json.dumps(delivered[0])
    assert "Example alarm name" in posted and "ALARM" in posted
    # The function logs its line after Slack answered: it may reach the log a moment later.
    notes = poll(lambda: [line for line in lab.log_lines("mission-lambda")
                          if '"notification"' in line])
    assert notes and json.loads(notes[0])["outcome"] == "delivered"


def test_unique_request_ids(lab):
    lab.deploy("ids", 'def handler(event, context):\n    return context.aws_request_id\n')
    ids = {lab.invoke("ids")[1] for _ in range(3)}
    assert len(ids) == 3 and all(uuid.UUID(i) for i in ids)
