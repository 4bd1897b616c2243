"""The local Lambda runtime's pure parts, its worker's building blocks, and moto's internals.

Expected values come from the AWS Lambda developer guide (environment variables, log and
REPORT format, Python error documents, asynchronous invocation records, dead-letter
attributes, the SNS event). The last section fails loudly when a moto upgrade moves anything
``labkit.local.awslambda.runtime`` patches or reads.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import threading
import time
import zipfile
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from labkit.local.awslambda import worker as worker
from labkit.local.awslambda.async_invoke import AsyncInvoker
from labkit.local.awslambda.environment import (
    FunctionSpec,
    config_key,
    lambda_environment,
    log_stream_name,
    unsupported_reason,
)
from labkit.local.awslambda.events import (
    DEFAULT_RETRY_DELAYS,
    Arn,
    AsyncSettings,
    dead_letter_attributes,
    delay_before_retry,
    invocation_record,
    retry_delays,
    sns_lambda_event,
)
from labkit.local.awslambda.logs import (
    billed_duration_ms,
    exit_error,
    iso_ms,
    log_tail,
    ordered,
    report_line,
    timeout_error,
    timeout_line,
)

ARN = "arn:aws:lambda:ap-northeast-2:123456789012:function:mission-lambda"
SPEC = FunctionSpec(
    name="mission-lambda", arn=ARN, version="$LATEST", account_id="123456789012",
    region="ap-northeast-2", handler="index.handler", runtime="python3.12", timeout=3,
    memory_mb=128, role_arn="arn:aws:iam::123456789012:role/mission-role",
    variables={"slackChannel": "project"}, code_sha256="ab" * 32,
)
CREDENTIALS = {"AccessKeyId": "ASIAROLE", "SecretAccessKey": "role-secret",
               "SessionToken": "role-token"}


# --------------------------------------------------------------------------------------------
# lambda_env


def environment(spec: FunctionSpec = SPEC, base: dict | None = None) -> dict[str, str]:
    return lambda_environment(spec, log_stream="2024/05/14/[$LATEST]" + "0" * 32,
                              task_root="/code/abc", credentials=CREDENTIALS,
                              endpoint_url="http://127.0.0.1:4750", ca_bundle="/ca/bundle.pem",
                              base={} if base is None else base)


@pytest.mark.parametrize("name, value", [
    ("AWS_LAMBDA_FUNCTION_NAME", "mission-lambda"),
    ("AWS_REGION", "ap-northeast-2"),
    ("AWS_DEFAULT_REGION", "ap-northeast-2"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/mission-lambda"),
    ("AWS_LAMBDA_LOG_STREAM_NAME", "2024/05/14/[$LATEST]" + "0" * 32),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
    ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12"),
    ("_HANDLER", "index.handler"),
    ("LAMBDA_TASK_ROOT", "/code/abc"),
    ("TZ", ":UTC"),
    ("AWS_ACCESS_KEY_ID", "ASIAROLE"),
    ("AWS_ACCESS_KEY", "ASIAROLE"),
    ("AWS_SECRET_ACCESS_KEY", "role-secret"),
    ("AWS_SESSION_TOKEN", "role-token"),
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:4750"),
    ("SSL_CERT_FILE", "/ca/bundle.pem"),
    ("REQUESTS_CA_BUNDLE", "/ca/bundle.pem"),
    ("AWS_CONFIG_FILE", os.devnull),
    ("AWS_SHARED_CREDENTIALS_FILE", os.devnull),
    ("slackChannel", "project"),
])
def test_the_environment_holds_lambdas_variables(name, value):
    assert environment()[name] == value


def test_reserved_variables_win_over_the_functions_own():
    spec = replace(SPEC, variables={"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "mine",
                                    "TZ": "Asia/Seoul", "LANG": "C.UTF-8"})
    env = environment(spec)
    assert env["AWS_REGION"] == "ap-northeast-2" and env["AWS_ACCESS_KEY_ID"] == "ASIAROLE"
    assert env["TZ"] == "Asia/Seoul" and env["LANG"] == "C.UTF-8"  # not reserved on Lambda


def test_only_basics_pass_through_from_the_local_clouds_environment():
    base = {"PATH": "/usr/bin", "HOME": "/home/learner", "AWS_ACCESS_KEY_ID": "learner-key",
            "AWS_SECRET_ACCESS_KEY": "learner-secret", "AWS_PROFILE": "work",
            "LABKIT_HOME": "/tmp/lab", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"}
    env = environment(base=base)
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/learner"
    assert "learner-key" not in env.values() and "learner-secret" not in env.values()
    assert not {"AWS_PROFILE", "LABKIT_HOME", "SLACK_WEBHOOK_URL"} & set(env)


@pytest.mark.parametrize("change", [
    {"code_sha256": "cd" * 32}, {"handler": "other.handler"}, {"runtime": "python3.13"},
    {"variables": {"slackChannel": "alerts"}}, {"timeout": 10}, {"memory_mb": 256},
    {"role_arn": "arn:aws:iam::123456789012:role/other"}, {"version": "3"},
    {"arn": ARN.replace("mission-lambda", "other-lambda")},
    {"kms_key_arn": "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef"},
])
def test_any_code_or_configuration_change_changes_the_environment_key(change):
    assert config_key(replace(SPEC, **change)) != config_key(SPEC)


def test_the_environment_key_is_stable():
    same = replace(SPEC, variables={"b": "2", "a": "1"})
    assert config_key(same) == config_key(replace(SPEC, variables={"a": "1", "b": "2"}))
    assert config_key(SPEC) == config_key(replace(SPEC))


@pytest.mark.parametrize("version, expected", [
    ("$LATEST", "2024/05/14/[$LATEST]0123456789abcdef0123456789abcdef"),
    ("7", "2024/05/14/[7]0123456789abcdef0123456789abcdef"),
])
def test_log_stream_names_follow_lambda(version, expected):
    when = datetime(2024, 5, 14, 23, 59, tzinfo=timezone.utc)
    assert log_stream_name(version, when, "0123456789abcdef0123456789abcdef") == expected


def test_generated_log_stream_names_are_unique_and_well_formed():
    names = {log_stream_name("$LATEST") for _ in range(50)}
    assert len(names) == 50
    assert all(len(name.split("]")[1]) == 32 for name in names)


@pytest.mark.parametrize("arn, version, qualified", [
    (ARN, "$LATEST", ARN + ":$LATEST"),
    (ARN + ":3", "3", ARN + ":3"),
])
def test_qualified_arn(arn, version, qualified):
    assert replace(SPEC, arn=arn, version=version).qualified_arn == qualified


@pytest.mark.parametrize("change, supported", [
    ({}, True), ({"runtime": "python3.9"}, True), ({"runtime": "nodejs20.x"}, False),
    ({"package_type": "Image"}, False), ({"runtime": ""}, False),
])
def test_only_python_zip_functions_run_locally(change, supported):
    assert (unsupported_reason(replace(SPEC, **change)) is None) is supported


# --------------------------------------------------------------------------------------------
# lambda_logs


@pytest.mark.parametrize("duration, init, billed", [
    (12.34, None, 13),
    (0.2, None, 1),
    (1.0, None, 1),
    (100.0, None, 100),
    (100.001, None, 101),
    (12.34, 210.55, 223),  # INIT is billed too (since August 2025)
    (0.0, 0.0, 1),
])
def test_billed_duration_rounds_up_to_the_millisecond(duration, init, billed):
    assert billed_duration_ms(duration, init) == billed


@pytest.mark.parametrize("kwargs, expected", [
    ({"duration_ms": 12.344, "memory_mb": 128, "max_memory_mb": 45},
     "REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 45 MB"),
    ({"duration_ms": 12.34, "memory_mb": 128, "max_memory_mb": 45, "init_ms": 210.55},
     "REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 223 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 45 MB\tInit Duration: 210.55 ms"),
    ({"duration_ms": 3001.5, "memory_mb": 256, "max_memory_mb": 60, "status": "timeout"},
     "REPORT RequestId: r1\tDuration: 3001.50 ms\tBilled Duration: 3002 ms\t"
     "Memory Size: 256 MB\tMax Memory Used: 60 MB\tStatus: timeout"),
    ({"duration_ms": 5.0, "memory_mb": 128, "max_memory_mb": 30, "status": "error",
      "error_type": "Runtime.ExitError"},
     "REPORT RequestId: r1\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\t"
     "Max Memory Used: 30 MB\tStatus: error\tError Type: Runtime.ExitError"),
])
def test_report_line(kwargs, expected):
    assert report_line("r1", **kwargs) == expected


def test_timeout_documents():
    assert timeout_error("r1", 3) == {
        "errorMessage": "RequestId: r1 Error: Task timed out after 3.00 seconds",
        "errorType": "Sandbox.Timedout"}
    assert timeout_line("r1", 3.0412, 1_700_000_000_123) == (
        "2023-11-14T22:13:20.123Z r1 Task timed out after 3.04 seconds")


@pytest.mark.parametrize("code, how", [
    (1, "exit status 1"), (0, "exit status 0"), (-9, "signal: killed"), (-11, "signal: 11"),
])
def test_exit_errors(code, how):
    assert exit_error("r1", code) == {
        "errorMessage": f"RequestId: r1 Error: Runtime exited with error: {how}",
        "errorType": "Runtime.ExitError"}


def test_log_tail_is_the_last_4_kb_base64():
    assert base64.b64decode(log_tail(["START", "hello\n", "END"])) == b"START\nhello\nEND\n"
    long = [f"line {i:05d}" for i in range(2000)]
    decoded = base64.b64decode(log_tail(long))
    assert len(decoded) == 4096 and decoded.endswith(b"line 01999\n")


def test_iso_ms_and_ordering():
    assert iso_ms(1_700_000_000_007) == "2023-11-14T22:13:20.007Z"
    assert ordered([(5, "a"), (3, "b"), (9, "c")]) == [(5, "a"), (5, "b"), (9, "c")]


# --------------------------------------------------------------------------------------------
# lambda_events


@pytest.mark.parametrize("setting, expected", [
    (None, DEFAULT_RETRY_DELAYS), ("", DEFAULT_RETRY_DELAYS), ("1,2", (1.0, 2.0)),
    ("0.5", (0.5,)), (" 0 , 3 ", (0.0, 3.0)), ("soon", DEFAULT_RETRY_DELAYS),
    ("-1,2", DEFAULT_RETRY_DELAYS), (",", DEFAULT_RETRY_DELAYS),
])
def test_retry_delays_setting(setting, expected):
    assert retry_delays(setting) == expected


@pytest.mark.parametrize("delays, retry, wait", [
    ((1.0, 2.0), 1, 1.0), ((1.0, 2.0), 2, 2.0), ((1.0, 2.0), 3, 2.0), ((0.5,), 2, 0.5),
    ((), 1, 0.0),
])
def test_delay_before_each_retry(delays, retry, wait):
    assert delay_before_retry(delays, retry) == wait


@pytest.mark.parametrize("config, expected", [
    (None, AsyncSettings(2, None, None)),
    ({"MaximumRetryAttempts": 0}, AsyncSettings(0, None, None)),
    ({"MaximumRetryAttempts": 1, "DestinationConfig": {
        "OnFailure": {"Destination": "arn:aws:sqs:r:1:q"}, "OnSuccess": {}}},
     AsyncSettings(1, None, "arn:aws:sqs:r:1:q")),
    ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sns:r:1:t"}}},
     AsyncSettings(2, "arn:aws:sns:r:1:t", None)),
])
def test_async_settings(config, expected):
    assert AsyncSettings.from_config(config) == expected


def sns_event(**overrides):
    arguments = dict(
        message='{"AlarmName": "x"}', message_id="m-1",
        topic_arn="arn:aws:sns:ap-northeast-2:123456789012:mission-sns",
        subscription_arn="arn:aws:sns:ap-northeast-2:123456789012:mission-sns:sub-1",
        subject="ALARM: x", timestamp="2024-05-14T10:00:00.123Z", signature_version="1",
        signature="c2ln", signing_cert_url="https://sns.ap-northeast-2.amazonaws.com/cert.pem",
        message_attributes={"team": {"Type": "String", "Value": "ops"},
                            "level": {"Type": "Number", "Value": 3}})
    arguments.update(overrides)
    return sns_lambda_event(**arguments)


def test_the_sns_event_has_the_documented_shape():
    event = sns_event()
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].endswith(":mission-sns:sub-1")
    assert list(record["Sns"]) == [
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
        "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"]
    sns = record["Sns"]
    assert sns["Type"] == "Notification" and sns["MessageId"] == "m-1"
    assert sns["UnsubscribeUrl"] == (
        "https://sns.ap-northeast-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        "arn:aws:sns:ap-northeast-2:123456789012:mission-sns:sub-1")
    assert sns["MessageAttributes"] == {"team": {"Type": "String", "Value": "ops"},
                                        "level": {"Type": "Number", "Value": "3"}}


def test_the_seed_fixture_and_the_generated_event_agree_on_keys():
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "events"
    fixture = fixtures / "seed_mission_slack_test.json"
    seed = json.loads(fixture.read_text())["Records"][0]
    generated = sns_event()["Records"][0]
    assert set(seed) == set(generated) and set(seed["Sns"]) == set(generated["Sns"])


@pytest.mark.parametrize("subject, expected", [(None, None), ("", None), ("Hi", "Hi")])
def test_sns_subject_is_null_without_one(subject, expected):
    assert sns_event(subject=subject)["Records"][0]["Sns"]["Subject"] == expected


def test_invocation_record_for_a_failure():
    record = invocation_record(
        request_id="r1", function_arn=ARN + ":$LATEST", executed_version="$LATEST",
        succeeded=False, attempts=3, request_payload='{"n": 1}',
        response_payload='{"errorMessage": "boom", "errorType": "RuntimeError"}',
        epoch_ms=1_573_755_365_568)
    assert record == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {"requestId": "r1", "functionArn": ARN + ":$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {"n": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "boom", "errorType": "RuntimeError"},
    }


def test_invocation_record_for_a_success_keeps_non_json_as_text():
    record = invocation_record(request_id="r2", function_arn=ARN, executed_version="$LATEST",
                               succeeded=True, attempts=1, request_payload="not json",
                               response_payload="null", epoch_ms=0)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == "not json" and record["responsePayload"] is None
    assert "functionError" not in record["responseContext"]


def test_dead_letter_attributes():
    attributes = dead_letter_attributes("r1", "é" * 1000)  # 2000 bytes of UTF-8
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": "r1"}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    message = attributes["ErrorMessage"]["StringValue"]
    assert message == "é" * 512 and len(message.encode()) == 1024


@pytest.mark.parametrize("text, parsed", [
    ("arn:aws:sqs:ap-northeast-2:123456789012:failed",
     Arn("sqs", "ap-northeast-2", "123456789012", "failed")),
    ("arn:aws:lambda:us-east-1:1:function:f:3", Arn("lambda", "us-east-1", "1", "function:f:3")),
])
def test_arn_parse(text, parsed):
    assert Arn.parse(text) == parsed


@pytest.mark.parametrize("text", ["", "sqs:queue", "urn:aws:sqs:r:1:q"])
def test_arn_parse_rejects_non_arns(text):
    with pytest.raises(ValueError):
        Arn.parse(text)


# --------------------------------------------------------------------------------------------
# lambda_async: retries and destinations, with the running and sending replaced


class Recorder:
    def __init__(self, outcomes: list[bool], settings: AsyncSettings, dlq: str | None = None):
        self.outcomes, self.settings = list(outcomes), settings
        self.spec = replace(SPEC, dead_letter_arn=dlq)
        self.runs: list[tuple[str, str, float]] = []
        self.sent: list[tuple[str, str, dict | None, str]] = []
        self.done = threading.Event()

    def run(self, function, event_text, request_id):
        self.runs.append((event_text, request_id, time.monotonic()))
        ok = self.outcomes.pop(0)
        return ok, json.dumps({"ok": True} if ok else {"errorMessage": "boom",
                                                        "errorType": "RuntimeError"})

    def describe(self, function):
        return self.spec, self.settings

    def send(self, spec, target, body, attributes, kind):
        self.sent.append((target, body, attributes, kind))
        self.done.set()


def run_async(recorder: Recorder, delays=(0.05, 0.1)) -> None:
    """Submit one event and wait until its outcome was sent somewhere."""
    invoker = AsyncInvoker(recorder.run, recorder.describe, recorder.send, delays)
    invoker.submit(object(), '{"n": 1}', "req-1")
    assert recorder.done.wait(30)
    time.sleep(0.2)  # room for a (wrong) extra attempt or record to show up
    invoker.shutdown()


def test_a_failing_event_runs_three_times_then_goes_to_the_dead_letter_queue():
    recorder = Recorder([False, False, False], AsyncSettings(), dlq="arn:aws:sqs:r:1:dlq")
    run_async(recorder)
    assert [r[:2] for r in recorder.runs] == [('{"n": 1}', "req-1")] * 3
    gaps = [b[2] - a[2] for a, b in zip(recorder.runs, recorder.runs[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1
    [(target, body, attributes, kind)] = recorder.sent
    assert (target, body, kind) == ("arn:aws:sqs:r:1:dlq", '{"n": 1}', "dlq")
    assert attributes["ErrorMessage"]["StringValue"] == "boom"


def test_on_failure_destination_and_dead_letter_queue_both_receive():
    recorder = Recorder([False, False], AsyncSettings(1, None, "arn:aws:sqs:r:1:fail"),
                        dlq="arn:aws:sns:r:1:dlq")
    invoker = AsyncInvoker(recorder.run, recorder.describe, recorder.send, (0.01,))
    invoker.submit(object(), '{"n": 1}', "req-1")
    deadline = time.monotonic() + 30
    while len(recorder.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    invoker.shutdown()
    assert len(recorder.runs) == 2
    kinds = {kind: (target, body) for target, body, _, kind in recorder.sent}
    assert kinds["dlq"] == ("arn:aws:sns:r:1:dlq", '{"n": 1}')
    record = json.loads(kinds["failure"][1])
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == ARN + ":$LATEST"


def test_no_retries_when_maximum_retry_attempts_is_zero():
    recorder = Recorder([False], AsyncSettings(0, None, "arn:aws:sqs:r:1:fail"))
    run_async(recorder)
    assert len(recorder.runs) == 1
    assert json.loads(recorder.sent[0][1])["requestContext"]["approximateInvokeCount"] == 1


def test_a_success_after_a_retry_goes_to_the_on_success_destination_only():
    recorder = Recorder([False, True], AsyncSettings(2, "arn:aws:sqs:r:1:ok", "arn:aws:sqs:r:1:no"),
                        dlq="arn:aws:sqs:r:1:dlq")
    run_async(recorder)
    assert len(recorder.runs) == 2
    [(target, body, _, kind)] = recorder.sent
    assert (target, kind) == ("arn:aws:sqs:r:1:ok", "success")
    assert json.loads(body)["requestContext"]["condition"] == "Success"


# --------------------------------------------------------------------------------------------
# lambda_worker's building blocks (run in this process)


@pytest.fixture
def task_root(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("good_module", "broken_syntax", "bad_import"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("handler, files, error_type, message", [
    ("handler", {}, "Runtime.MalformedHandlerName",
     "Bad handler 'handler': not enough values to unpack (expected 2, got 1)"),
    ("sys.handler", {}, "Runtime.BuiltInModuleConflict",
     "Cannot use built-in module sys as a handler module"),
    ("missing_module.handler", {}, "Runtime.ImportModuleError",
     "Unable to import module 'missing_module': No module named 'missing_module'"),
    ("bad_import.handler", {"bad_import.py": "import not_there_at_all\n"},
     "Runtime.ImportModuleError",
     "Unable to import module 'bad_import': No module named 'not_there_at_all'"),
    ("good_module.nope", {"good_module.py": "def handler(e, c):\n    return 1\n"},
     "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'good_module'"),
])
def test_handler_loading_errors(task_root, handler, files, error_type, message):
    for name, text in files.items():
        (task_root / name).write_text(text)
    with pytest.raises(worker.InitError) as caught:
        worker.load_handler(handler)
    assert caught.value.error_type == error_type and caught.value.message == message


def test_syntax_errors_in_the_handler_module(task_root):
    (task_root / "broken_syntax.py").write_text("def handler(:\n")
    with pytest.raises(worker.InitError) as caught:
        worker.load_handler("broken_syntax.handler")
    assert caught.value.error_type == "Runtime.UserCodeSyntaxError"
    assert caught.value.message.startswith("Syntax error in module 'broken_syntax': ")
    assert "broken_syntax.py" in caught.value.stack_trace[0]


def test_error_documents_list_only_the_functions_frames(task_root):
    (task_root / "good_module.py").write_text(
        "def handler(event, context):\n    return {}['missing']\n")
    handler = worker.load_handler("good_module.handler")
    try:
        handler({}, None)
    except KeyError as exc:
        document = worker.error_from_exception(exc, "r1")
    assert document["errorType"] == "KeyError" and document["errorMessage"] == "'missing'"
    assert document["requestId"] == "r1"
    assert len(document["stackTrace"]) == 2  # this test's frame and the handler's
    assert "good_module.py\", line 2, in handler" in document["stackTrace"][-1]
    assert worker.error_log_text(document).startswith(
        "[ERROR] KeyError: 'missing'\nTraceback (most recent call last):\n  File ")


class FakeChannel:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


def test_printed_output_becomes_one_log_event_per_line():
    channel = FakeChannel()
    stream = worker.LogStream(channel)  # type: ignore[arg-type]
    stream.write("one\ntwo\nthr")
    stream.write("ee")
    assert [m["text"] for m in channel.sent] == ["one", "two"]
    stream.flush()
    assert [m["text"] for m in channel.sent] == ["one", "two", "three"]
    with pytest.raises(TypeError):
        stream.write(b"bytes")  # type: ignore[arg-type]


def test_logging_records_carry_the_request_id_in_lambdas_format():
    import logging

    channel = FakeChannel()
    handler = worker.ChannelHandler(channel)  # type: ignore[arg-type]
    formatter = logging.Formatter(worker.LOG_FORMAT, worker.LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(worker.RequestIdFilter())
    logger = logging.getLogger("lambda-worker-test")
    logger.addHandler(handler)
    logger.propagate = False
    worker.RequestContext.request_id = "req-42"
    try:
        logger.warning("two\nlines")
    finally:
        logger.removeHandler(handler)
    [event] = channel.sent
    level, stamp, request_id, message = event["text"].split("\t", 3)
    assert level == "[WARNING]" and request_id == "req-42" and message == "two\nlines"
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_context_counts_down_from_the_timeout(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    context = worker.LambdaContext("r1", ARN, 3000)
    first = context.get_remaining_time_in_millis()
    time.sleep(0.02)
    second = context.get_remaining_time_in_millis()
    assert 3000 >= first > second >= 0
    assert (context.function_name, context.memory_limit_in_mb) == ("fn", "256")
    assert context.invoked_function_arn == ARN and context.aws_request_id == "r1"
    assert worker.LambdaContext("r2", ARN, 0).get_remaining_time_in_millis() == 0


def test_peak_memory_is_this_process_own():
    assert 1 <= worker.max_memory_mb() < 4096


# --------------------------------------------------------------------------------------------
# moto's model, as the runtime reads it (whether moto still has each part: test_moto_patches.py)


def zip_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", text)
    return buffer.getvalue()


def test_moto_models_carry_what_the_runtime_reads_and_keep_dead_letter_config():
    import boto3
    from moto import mock_aws

    from labkit.local import moto_patches
    from labkit.local.awslambda import runtime

    moto_patches.install(only={"labkit.local.awslambda.runtime"})
    try:
        with mock_aws():
            lam = boto3.client("lambda", region_name="ap-northeast-2")
            sns = boto3.client("sns", region_name="ap-northeast-2")
            code = zip_bytes("def handler(event, context):\n    return 1\n")
            role = boto3.client("iam", region_name="ap-northeast-2").create_role(
                RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            arn = lam.create_function(
                FunctionName="probe", Runtime="python3.12", Role=role, Handler="index.handler",
                Code={"ZipFile": code}, Timeout=9, MemorySize=256,
                Environment={"Variables": {"k": "v"}},
                DeadLetterConfig={"TargetArn": "arn:aws:sqs:ap-northeast-2:123456789012:dlq"},
            )["FunctionArn"]
            assert lam.get_function_configuration(FunctionName="probe")["DeadLetterConfig"] == {
                "TargetArn": "arn:aws:sqs:ap-northeast-2:123456789012:dlq"}
            lam.put_function_event_invoke_config(FunctionName="probe", MaximumRetryAttempts=0)

            fn = runtime.function_for_arn(arn)
            spec, package = runtime.function_spec(fn)
            assert package == code
            assert spec.code_sha256 == hashlib.sha256(code).hexdigest()
            assert (spec.name, spec.arn, spec.version) == ("probe", arn, "$LATEST")
            assert (spec.handler, spec.runtime, spec.timeout, spec.memory_mb) == (
                "index.handler", "python3.12", 9, 256)
            assert (spec.role_arn, dict(spec.variables)) == (role, {"k": "v"})
            assert (spec.account_id, spec.region) == ("123456789012", "ap-northeast-2")
            assert spec.dead_letter_arn == "arn:aws:sqs:ap-northeast-2:123456789012:dlq"
            assert runtime.async_settings(fn).max_retries == 0

            lam.update_function_configuration(FunctionName="probe",
                                              DeadLetterConfig={"TargetArn": ""})
            assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName="probe")

            # A lambda subscription still has what deliver_sns reads.
            topic = sns.create_topic(Name="t")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
            from moto.sns.models import sns_backends

            [subscription] = sns_backends["123456789012"]["ap-northeast-2"].subscriptions.values()
            assert (subscription.protocol, subscription.endpoint) == ("lambda", arn)
            assert subscription.topic.arn == topic and subscription.arn.startswith(topic + ":")
            signed = subscription.get_post_data("m", "id-1", "s", message_attributes=None)
            assert {"Timestamp", "SignatureVersion", "Signature", "SigningCertURL"} <= set(signed)
    finally:
        moto_patches.uninstall(only={"labkit.local.awslambda.runtime"})
    from moto.awslambda.models import LambdaFunction

    # moto got its own methods back
    assert LambdaFunction.invoke.__module__ == "moto.awslambda.models"
    assert not any(moto_patches.is_installed(hook) for hook in moto_patches.TABLE
                   if hook.labkit == "labkit.local.awslambda.runtime")


# --------------------------------------------------------------------------------------------
# lambda_sandbox.EnvironmentPool, with stand-ins for the worker processes


class FakeEnvironment:
    def __init__(self, key: str, function_arn: str = ARN) -> None:
        self.key, self.function_arn = key, function_arn
        self.created = self.last_used = time.monotonic()
        self.alive = True
        self.process = None

    def kill(self) -> None:
        self.alive = False


def pool(idle_seconds: float = 600, max_age_seconds: float = 3600):
    from labkit.local.awslambda.sandbox import EnvironmentPool

    return EnvironmentPool(idle_seconds, max_age_seconds)


def test_an_idle_environment_is_reused_only_for_its_own_configuration():
    environments = pool()
    env = FakeEnvironment("k1")
    environments.add(env)  # type: ignore[arg-type]
    assert environments.take("k1") is None  # busy: a second caller needs its own
    environments.give_back(env)  # type: ignore[arg-type]
    assert environments.take("k2") is None
    assert environments.take("k1") is env
    assert environments.take("k1") is None


def test_a_dead_or_too_old_environment_is_not_kept():
    environments = pool(max_age_seconds=0)
    old = FakeEnvironment("k1")
    environments.add(old)  # type: ignore[arg-type]
    environments.give_back(old)  # type: ignore[arg-type]
    assert not old.alive and environments.take("k1") is None

    environments = pool()
    dead = FakeEnvironment("k1")
    environments.add(dead)  # type: ignore[arg-type]
    environments.give_back(dead)  # type: ignore[arg-type]
    dead.alive = False
    assert environments.take("k1") is None


def test_a_new_configuration_retires_the_old_ones_of_the_same_function_only():
    environments = pool()
    old, other = FakeEnvironment("k1"), FakeEnvironment("k9", ARN + "-other")
    for env in (old, other):
        environments.add(env)  # type: ignore[arg-type]
        environments.give_back(env)  # type: ignore[arg-type]
    assert environments.retire_other_configs(ARN, "k2") == 1
    assert not old.alive and other.alive
    assert environments.take("k9") is other


def test_idle_environments_are_reaped_and_all_are_stopped_on_close():
    environments = pool(idle_seconds=0.05)
    idle, busy = FakeEnvironment("k1"), FakeEnvironment("k2")
    environments.add(idle)  # type: ignore[arg-type]
    environments.add(busy)  # type: ignore[arg-type]
    environments.give_back(idle)  # type: ignore[arg-type]
    time.sleep(0.1)
    assert environments.reap() == 1 and not idle.alive and busy.alive
    environments.close()
    assert not busy.alive
    with pytest.raises(RuntimeError):
        environments.add(FakeEnvironment("k3"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The function's customer managed key (KMSKeyArn)


@pytest.mark.parametrize("kms_code, lambda_code, reason", [
    ("DisabledException", "KMSDisabledException", "the KMS key used is disabled"),
    ("KMSInvalidStateException", "KMSInvalidStateException", "the KMS key is invalid for Decrypt"),
    ("NotFoundException", "KMSNotFoundException", "the KMS key was not found"),
    ("AccessDeniedException", "KMSAccessDeniedException", "KMS access was denied"),
])
def test_kms_refusals_become_lambdas_invoke_errors(kms_code, lambda_code, reason):
    from labkit.local.awslambda.kms_key import lambda_error

    problem = lambda_error(kms_code, "arn:aws:kms:ap-northeast-2:123456789012:key/k is disabled.")
    assert problem.code == lambda_code
    assert problem.message == (
        f"Lambda was unable to decrypt the environment variables because {reason}. Please check "
        f"the function's KMS key settings. KMS Exception: {kms_code}KMS Message: "
        "arn:aws:kms:ap-northeast-2:123456789012:key/k is disabled.")


def test_the_invoke_error_is_a_bad_gateway():
    from labkit.local.awslambda.kms_key import InvokeKMSError, KeyProblem

    error = InvokeKMSError(KeyProblem("KMSDisabledException", "disabled"))
    assert error.code == 502
    assert json.loads(error.get_body()) == {"__type": "KMSDisabledException",
                                            "message": "disabled"}


def test_without_a_key_or_without_variables_there_is_nothing_to_decrypt():
    from labkit.local.awslambda.kms_key import key_problem

    arn = "arn:aws:kms:ap-northeast-2:123456789012:key/not-checked"
    assert key_problem(None, {"COLOUR": "blue"}) is None
    assert key_problem(arn, {}) is None
    assert key_problem(arn, {"COLOUR": "blue"}).code == "KMSNotFoundException"
    assert key_problem("not-an-arn", {"COLOUR": "blue"}).code == "KMSNotFoundException"
