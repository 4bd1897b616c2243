"""Tests of the Slack notifier Lambda function: message content, pure helpers, delivery, handler.

The function is deployed as a single file, so it is loaded here by path (a fresh copy per test,
which also gives every test an empty execution-environment cache). Deliveries go to a real HTTP
server on 127.0.0.1 that plays Slack's incoming webhook. The webhook sources (KMS, SSM, Secrets
Manager) are tested in test_slack_notifier_sources.py.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import urllib.parse
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

from .notifier_module import FUNCTION_VARIABLES, load_notifier

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "labkit" / "functions" / "slack_notifier.py"
EVENTS = ROOT / "tests" / "fixtures" / "events"
SECRET = "SeCrEtToKeN0123456789abc"  # the secret part of the test webhook URL

RED, GREEN, GREY = "#d62728", "#2ca02c", "#7f7f7f"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------




@pytest.fixture
def notifier(monkeypatch: pytest.MonkeyPatch) -> Any:
    for variable in (
        *FUNCTION_VARIABLES,
        "AWS_LAMBDA_FUNCTION_NAME",
    ):
        monkeypatch.delenv(variable, raising=False)
    module = load_notifier()
    yield module
    sys.modules.pop(module.__name__, None)


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def first_message(notifier: Any, fixture: str, **options: Any) -> dict[str, Any]:
    notification = next(notifier.read_notifications(load_event(fixture)))
    return notifier.build_message(notification, **options)


def blocks_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return payload["attachments"][0]["blocks"]


def texts_of(payload: dict[str, Any], *, mrkdwn_only: bool = False) -> list[str]:
    """Every piece of text Slack would render from the blocks."""
    texts = []
    for block in blocks_of(payload):
        if "text" in block and not (mrkdwn_only and block["text"]["type"] == "plain_text"):
            texts.append(block["text"]["text"])
        texts.extend(f["text"] for f in block.get("fields", []))
        texts.extend(e["text"] for e in block.get("elements", []))
    return texts


def header_of(payload: dict[str, Any]) -> str:
    return next(b["text"]["text"] for b in blocks_of(payload) if b["type"] == "header")


def field(payload: dict[str, Any], label: str) -> str:
    """The value of a "*Label*\\nvalue" field or section."""
    for text in texts_of(payload):
        if text.startswith(f"*{label}*\n"):
            return text.split("\n", 1)[1]
    raise AssertionError(f"no {label!r} in {texts_of(payload)}")


def assert_within_slack_limits(payload: dict[str, Any]) -> None:
    assert payload["text"].strip(), "a top-level text fallback is always needed"
    blocks = blocks_of(payload)
    assert 0 < len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
            assert block["text"]["type"] == "plain_text"
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
    sdk = pytest.importorskip("slack_sdk.models.blocks")
    for block in blocks:  # Slack's own SDK checks the same limits independently
        sdk.Block.parse(block).validate_json()


class SlackServer:
    """A local stand-in for a Slack incoming webhook.

    *answers* is a list of (status, body, headers) answers used in order (then 200 "ok"), or a
    function of the posted JSON body returning one. The answer "hang" never responds, until the
    test ends, to make the client time out.
    """

    def __init__(self, answers: list[Any] | Callable[[Any], Any] | None = None) -> None:
        self.answers = answers if callable(answers) else list(answers or [])
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw.decode("utf-8"))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                answer = server.next_answer(body)
                if answer == "hang":
                    server.release.wait(10)
                    return
                status, text, headers = answer
                data = text.encode("utf-8")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def next_answer(self, body: Any) -> Any:
        if callable(self.answers):
            return self.answers(body)
        return self.answers.pop(0) if self.answers else (200, "ok", {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/services/T000/B000/{SECRET}"

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slack() -> Any:
    servers: list[SlackServer] = []

    def start(answers: Any = None) -> SlackServer:
        servers.append(SlackServer(answers))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class FakeInvocation:
    """A Lambda context whose clock moves only when the code under test sleeps."""

    def __init__(self, remaining_ms: float = 30_000) -> None:
        self.remaining_ms = remaining_ms
        self.sleeps: list[float] = []

    def get_remaining_time_in_millis(self) -> float:
        return self.remaining_ms

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining_ms -= seconds * 1000


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def notification_logs(output: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(output) if line["message"] == "notification"]


def sns_record(message: str, message_id: str, subject: str | None = None) -> dict[str, Any]:
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "Subject": subject,
            "TopicArn": "arn:aws:sns:ap-northeast-2:123456789012:mission-sns",
            "Message": message,
            "Timestamp": "2024-05-14T06:12:41.123Z",
        },
    }


def alarm_json(name: str, state: str = "ALARM", **extra: Any) -> str:
    alarm = {
        "AlarmName": name,
        "NewStateValue": state,
        "OldStateValue": "OK",
        "NewStateReason": f"reason of {name}",
        "Region": "Asia Pacific (Seoul)",
        "AlarmArn": f"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:{name}",
        **extra,
    }
    return json.dumps(alarm)


def escaped(text: str) -> str:
    """Slack's escaping, written out independently of the code under test."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def uuid_for(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


# ---------------------------------------------------------------------------------------------
# The source lab's test event (the "done when" of the task)
# ---------------------------------------------------------------------------------------------


def test_seed_test_event_reaches_slack_as_a_red_alarm(notifier, slack, monkeypatch, capsys):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    monkeypatch.setenv("slackChannel", "project")

    result = notifier.lambda_handler(load_event("seed_mission_slack_test.json"), FakeInvocation())

    assert result == {"records": 1, "delivered": 1, "duplicate": 0, "failed": 0}
    assert len(server.requests) == 1
    payload = server.requests[0]["body"]
    assert server.requests[0]["headers"]["Content-Type"].startswith("application/json")
    assert payload["attachments"][0]["color"] == RED
    assert "ALARM" in header_of(payload) and "Example alarm name" in header_of(payload)
    reason = (
        "Threshold Crossed: 1 datapoint (10.0) was greater than or equal to the threshold (1.0)."
    )
    assert reason in texts_of(payload)
    assert field(payload, "Region").startswith("eu-west-1")  # "EU - Ireland" mapped to its code
    assert "Example alarm name" in payload["text"] and "eu-west-1" in payload["text"]
    assert field(payload, "Trigger") == "DeliveryErrors Sum ≥ 1 for 1 of 1 datapoints of 300 s"
    assert field(payload, "Description") == "Example alarm description."
    assert payload["channel"] == "#project"
    assert_within_slack_limits(payload)


# ---------------------------------------------------------------------------------------------
# Message content, per kind of notification
# ---------------------------------------------------------------------------------------------

KINDS = [
    # fixture, colour, words in the header, texts that must appear in the blocks
    (
        "metric_alarm_alarm.json",
        RED,
        ["ALARM", "mission-cpu-alarm"],
        [
            "CPUUtilization Average ≥ 50 for 1 of 1 datapoints of 60 s",
            "InstanceId = i-0a1b2c3d4e5f67890",
            "AWS/EC2 › CPUUtilization",
        ],
    ),
    (
        "metric_alarm_ok.json",
        GREEN,
        ["OK", "mission-cpu-alarm"],
        ["CPUUtilization Average ≥ 50 for 1 of 1 datapoints of 60 s"],
    ),
    (
        "metric_alarm_insufficient_data.json",
        GREY,
        ["INSUFFICIENT_DATA", "mission-cpu-alarm"],
        ["Insufficient Data: 1 datapoint was unknown."],
    ),
    (
        "metric_math_alarm.json",
        RED,
        ["ALARM", "api-5xx-rate"],
        [
            "5xx rate (%) (100 * errors / requests) &gt; 5 for 3 of 5 datapoints of 300 s",
            "errors = AWS/ApiGateway › 5XXError Sum, 300 s (ApiName=mission-api)",
            "e1 = 100 * errors / requests “5xx rate (%)”",
        ],
    ),
    (
        "anomaly_detection_alarm.json",
        RED,
        ["ALARM", "latency-anomaly"],
        [
            "TargetResponseTime p90 outside the band ad1 for 1 of 1 datapoints of 300 s",
            "ad1 = ANOMALY_DETECTION_BAND(m1, 2)",
        ],
    ),
    (
        "composite_alarm.json",
        RED,
        ["ALARM", "mission-service-unhealthy"],
        [
            'ALARM("mission-cpu-alarm") AND ALARM("api-5xx-rate")',
            "• mission-cpu-alarm → ALARM at 2024-05-14 06:12:41 UTC",
            "• api-5xx-rate → ALARM at 2024-05-14 06:10:12 UTC",
        ],
    ),
]


@pytest.mark.parametrize(
    "fixture, colour, header_words, expected",
    KINDS,
    ids=[kind[0].removesuffix(".json") for kind in KINDS],
)
def test_alarm_messages(notifier, fixture, colour, header_words, expected):
    payload = first_message(notifier, fixture)
    alarm = json.loads(load_event(fixture)["Records"][0]["Sns"]["Message"])

    assert payload["attachments"][0]["color"] == colour
    assert all(word in header_of(payload) for word in header_words)
    everything = "\n".join(texts_of(payload))
    for text in expected:
        assert text in everything
    assert escaped(alarm["NewStateReason"]) in everything  # "OK -> ALARM" becomes "OK -&gt; ALARM"
    assert field(payload, "State") == f"{alarm['OldStateValue']} → *{alarm['NewStateValue']}*"
    assert field(payload, "Region") == "ap-northeast-2 (Asia Pacific (Seoul))"
    assert field(payload, "Account") == "123456789012"
    assert field(payload, "Time").endswith(" UTC")
    if alarm.get("AlarmDescription"):
        assert field(payload, "Description") == alarm["AlarmDescription"]
    else:
        assert not any(t.startswith("*Description*") for t in texts_of(payload))
    link = (
        "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
        f"#alarmsV2:alarm/{alarm['AlarmName']}"
    )
    assert any(f"<{link}|" in text for text in texts_of(payload))
    assert alarm["AlarmName"] in payload["text"] and alarm["NewStateValue"] in payload["text"]
    assert_within_slack_limits(payload)


def test_alarm_time_field_is_utc_time_of_the_state_change(notifier):
    payload = first_message(notifier, "metric_alarm_alarm.json")
    assert field(payload, "Time") == "2024-05-14 06:12:41 UTC"


FALLBACKS = [
    # fixture, words in the header, texts that must appear
    (
        "plain_text.json",
        ["Deploy finished"],
        ["Deployment 42 finished.\nAll checks passed &lt;3 &amp; no rollbacks."],
    ),
    (
        "eventbridge_via_sns.json",
        ["EventBridge: EC2 Instance State-change Notification"],
        ['"instance-id": "i-0a1b2c3d4e5f67890"', "*source*: aws.ec2", "*region*: ap-northeast-2"],
    ),
    (
        "eventbridge_direct.json",
        ["EventBridge: EC2 Instance State-change Notification"],
        ['"state": "stopped"'],
    ),
    (
        "malformed_json.json",
        ["not valid JSON"],
        ['{"AlarmName": "half-written", "NewStateValue": "ALA'],
    ),
]


@pytest.mark.parametrize(
    "fixture, header_words, expected",
    FALLBACKS,
    ids=[kind[0].removesuffix(".json") for kind in FALLBACKS],
)
def test_anything_else_gets_a_readable_fallback(notifier, fixture, header_words, expected):
    payload = first_message(notifier, fixture)

    assert payload["attachments"][0]["color"] not in (RED, GREEN, GREY)
    assert all(word in header_of(payload) for word in header_words)
    everything = "\n".join(texts_of(payload))
    for text in expected:
        assert text in everything
    assert payload["text"].strip()
    assert_within_slack_limits(payload)


def test_json_that_is_not_an_alarm_is_shown_pretty_printed(notifier):
    notification = notifier.Notification(json.dumps({"build": 7, "status": "green"}), subject="CI")
    payload = notifier.build_message(notification)
    assert header_of(payload).endswith("CI")
    assert '```\n{\n  "build": 7,\n  "status": "green"\n}\n```' in texts_of(payload)


def test_empty_message_still_makes_a_message(notifier):
    payload = notifier.build_message(notifier.Notification(""))
    assert payload["text"] == "(empty message)"
    assert_within_slack_limits(payload)


def test_region_falls_back_to_the_topic_arn_when_nothing_else_names_it(notifier):
    alarm = {"AlarmName": "a", "NewStateValue": "OK", "Region": "Somewhere New"}
    notification = notifier.Notification(json.dumps(alarm), topic_arn="arn:aws:sns:eu-north-1:1:t")
    payload = notifier.build_message(notification)
    assert field(payload, "Region") == "eu-north-1 (Somewhere New)"


def test_no_region_at_all_means_no_console_link(notifier):
    payload = notifier.build_message(
        notifier.Notification(json.dumps({"AlarmName": "a", "NewStateValue": "OK"}))
    )
    assert field(payload, "Region") == "unknown region"
    assert not any("console.aws.amazon.com" in text for text in texts_of(payload))


def test_user_text_is_escaped_everywhere_it_is_mrkdwn(notifier):
    payload = first_message(notifier, "awkward_names_alarm.json", mention="<!here>")
    mrkdwn = "\n".join(texts_of(payload, mrkdwn_only=True))

    # No control sequence from the alarm survives: no @channel, no fake link, no @-mention.
    for raw in ("<!channel>", "<https://example.com|pinged>", "<@U0123ABCD>", "<ops>", "<crossed>"):
        assert raw not in mrkdwn and raw not in payload["text"]
    assert (
        "Threshold &lt;crossed&gt; &amp; the &lt;!channel&gt; was "
        "&lt;https://example.com|pinged&gt;."
        in mrkdwn
    )
    assert field(payload, "Description") == "Owner: &lt;@U0123ABCD&gt; &amp; team &lt;ops&gt;"
    # The configured mention is the only live control sequence in the top-level text.
    assert payload["text"].startswith("<!here> ")
    assert payload["text"].count("<") == 1
    # The header is plain_text, which Slack does not parse, so it keeps the name as written.
    assert "web/prod CPU 경보 <!channel> & #1" in header_of(payload)
    assert_within_slack_limits(payload)


def test_console_link_of_an_awkward_name_round_trips(notifier):
    payload = first_message(notifier, "awkward_names_alarm.json")
    link_text = next(t for t in texts_of(payload) if "console.aws.amazon.com" in t)
    url = link_text[1 : link_text.index("|")]
    fragment = urllib.parse.urlsplit(url).fragment
    assert fragment.startswith("alarmsV2:alarm/")
    encoded = fragment.removeprefix("alarmsV2:alarm/")
    assert not set(encoded) & set("/ #|<>&?")
    assert urllib.parse.unquote(encoded) == "web/prod CPU 경보 <!channel> & #1"


MENTIONS = [
    ("metric_alarm_alarm.json", "<!here>", "<!here> "),
    ("metric_alarm_alarm.json", "here", "<!here> "),
    ("metric_alarm_alarm.json", "<@U012ABCDEF>", "<@U012ABCDEF> "),
    ("metric_alarm_ok.json", "<!here>", None),
    ("metric_alarm_insufficient_data.json", "<!here>", None),
    ("plain_text.json", "<!here>", None),
]


@pytest.mark.parametrize("fixture, mention, prefix", MENTIONS)
def test_mention_only_on_alarm(notifier, fixture, mention, prefix):
    payload = first_message(notifier, fixture, mention=mention)
    if prefix:
        assert payload["text"].startswith(prefix)
    else:
        assert "<!" not in payload["text"] and "<@" not in payload["text"]
    # The attachment's own fallback never carries the mention.
    assert "<!here>" not in payload["attachments"][0]["fallback"]


@pytest.mark.parametrize(
    "channel, sent",
    [
        ("project", "#project"),
        ("#project", "#project"),
        ("@someone", "@someone"),
        ("C0123ABCDE", "C0123ABCDE"),
        (" project ", "#project"),
    ],
)
def test_channel_override(notifier, channel, sent):
    assert first_message(notifier, "metric_alarm_ok.json", channel=channel)["channel"] == sent


def test_no_channel_key_without_slack_channel(notifier):
    assert "channel" not in first_message(notifier, "metric_alarm_ok.json")


# ---------------------------------------------------------------------------------------------
# Slack's limits
# ---------------------------------------------------------------------------------------------


def test_long_reason_is_cut_with_an_ellipsis_and_no_broken_entity(notifier):
    reason = "Threshold Crossed: " + "a < b & c > d " * 600  # escapes to far beyond 3000
    alarm = json.loads(alarm_json("long", NewStateReason=reason))
    payload = notifier.alarm_message(alarm)
    section = next(t for t in texts_of(payload) if t.startswith("Threshold Crossed"))

    assert len(section) <= 3000 and section.endswith("…")
    assert len(section) > 2900  # cut at the limit, not far before it
    body = section[:-1]
    assert body.rfind("&") < body.rfind(";")  # the last entity is complete
    assert "&lt; b &amp; c &gt;" in section
    assert len(payload["text"]) <= 500 and payload["text"].endswith("…")
    assert_within_slack_limits(payload)


def test_long_alarm_name_keeps_the_header_within_150(notifier):
    alarm = json.loads(alarm_json("n" * 255))
    payload = notifier.alarm_message(alarm)
    assert len(header_of(payload)) == 150 and header_of(payload).endswith("…")
    assert_within_slack_limits(payload)


def test_composite_with_hundreds_of_children_stays_within_limits(notifier):
    children = [
        {
            "Arn": f"arn:aws:cloudwatch:us-east-1:1:alarm:child-{i}",
            "State": {"Value": "ALARM", "Timestamp": "2024-05-14T06:12:41.020+0000"},
        }
        for i in range(300)
    ]
    rule = " OR ".join(f'ALARM("child-{i}")' for i in range(300))
    alarm = json.loads(alarm_json("big-composite", AlarmRule=rule, TriggeringChildren=children))
    payload = notifier.alarm_message(alarm)

    triggered = field(payload, "Triggered by")
    assert triggered.startswith("• child-0 → ALARM") and triggered.endswith("…")
    rule_text = next(t for t in texts_of(payload) if t.startswith("*Rule*"))
    assert rule_text.endswith("…\n```")  # the code block is still closed after the cut
    assert_within_slack_limits(payload)


def test_metric_math_with_many_queries_stays_within_limits(notifier):
    metrics = [
        {
            "Id": f"m{i}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "Custom",
                    "MetricName": f"Metric{i}",
                    "Dimensions": [{"name": "Host", "value": "h" * 80}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for i in range(200)
    ]
    metrics.append({"Id": "e1", "Expression": "SUM(METRICS())", "ReturnData": True})
    trigger = {
        "Metrics": metrics,
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    payload = notifier.alarm_message(json.loads(alarm_json("many", Trigger=trigger)))
    assert field(payload, "Trigger") == "SUM(METRICS()) &gt; 1 for 1 of 1 datapoints of 60 s"
    assert field(payload, "Metrics").endswith("…")
    assert_within_slack_limits(payload)


def test_huge_plain_message_is_cut(notifier):
    payload = notifier.build_message(notifier.Notification("x" * 50_000, subject="s" * 400))
    assert len(header_of(payload)) <= 150
    assert_within_slack_limits(payload)


def test_block_count_never_exceeds_fifty(notifier):
    blocks = [notifier.section_block(f"line {i}") for i in range(80)]
    payload = notifier._payload("text", "#000000", blocks)
    assert len(blocks_of(payload)) == 50
    assert blocks_of(payload)[-1]["type"] == "context"  # says that something was cut
    assert blocks_of(payload)[48]["text"]["text"] == "line 48"


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------

CPU_TRIGGER = {
    "MetricName": "CPUUtilization",
    "Namespace": "AWS/EC2",
    "StatisticType": "Statistic",
    "Statistic": "AVERAGE",
    "Unit": None,
    "Period": 60,
    "EvaluationPeriods": 1,
    "DatapointsToAlarm": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Threshold": 50.0,
}


@pytest.mark.parametrize(
    "changes, words",
    [
        ({}, "CPUUtilization Average ≥ 50 for 1 of 1 datapoints of 60 s"),
        (
            {"ComparisonOperator": "GreaterThanThreshold"},
            "CPUUtilization Average > 50 for 1 of 1 datapoints of 60 s",
        ),
        (
            {"ComparisonOperator": "LessThanThreshold", "Threshold": 0.25},
            "CPUUtilization Average < 0.25 for 1 of 1 datapoints of 60 s",
        ),
        (
            {"ComparisonOperator": "LessThanOrEqualToThreshold"},
            "CPUUtilization Average ≤ 50 for 1 of 1 datapoints of 60 s",
        ),
        (
            {"DatapointsToAlarm": 3, "EvaluationPeriods": 5, "Period": 300},
            "CPUUtilization Average ≥ 50 for 3 of 5 datapoints of 300 s",
        ),
        (
            {"DatapointsToAlarm": None, "EvaluationPeriods": 2},
            "CPUUtilization Average ≥ 50 for 2 of 2 datapoints of 60 s",
        ),
        (
            {"Statistic": "SAMPLE_COUNT"},
            "CPUUtilization SampleCount ≥ 50 for 1 of 1 datapoints of 60 s",
        ),
        ({"Statistic": "MAXIMUM"}, "CPUUtilization Maximum ≥ 50 for 1 of 1 datapoints of 60 s"),
        (
            {"StatisticType": "ExtendedStatistic", "Statistic": None, "ExtendedStatistic": "p99"},
            "CPUUtilization p99 ≥ 50 for 1 of 1 datapoints of 60 s",
        ),
        (
            {"Unit": "Percent"},
            "CPUUtilization Average ≥ 50 Percent for 1 of 1 datapoints of 60 s",
        ),
        (
            {"Threshold": 1234567.5},
            "CPUUtilization Average ≥ 1234567.5 for 1 of 1 datapoints of 60 s",
        ),
        (
            {"EvaluationPeriods": None, "DatapointsToAlarm": None},
            "CPUUtilization Average ≥ 50 over 60 s",
        ),
    ],
)
def test_trigger_in_words(notifier, changes, words):
    assert notifier.trigger_in_words({**CPU_TRIGGER, **changes}) == words


def test_trigger_in_words_metric_math_names_the_returned_expression(notifier):
    trigger = {
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 0.0,
        "Metrics": [
            {"Expression": "FILL(m1, 0)", "Id": "e1", "Label": "Expression1", "ReturnData": "True"},
            {
                "Id": "m1",
                "ReturnData": "False",
                "MetricStat": {
                    "Metric": {"MetricName": "CallCount", "Namespace": "AWS/Usage"},
                    "Period": 60,
                    "Stat": "Average",
                },
            },
        ],
    }
    assert (
        notifier.trigger_in_words(trigger)
        == "Expression1 (FILL(m1, 0)) ≥ 0 for 1 of 1 datapoints of 60 s"
    )


def test_trigger_period_comes_from_the_metric_when_the_trigger_has_none(notifier):
    trigger = {
        "EvaluationPeriods": 2,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 3,
        "Metrics": [
            {
                "Id": "m1",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {"MetricName": "Errors", "Namespace": "AWS/Lambda"},
                    "Period": 120,
                    "Stat": "Sum",
                },
            }
        ],
    }
    assert notifier.trigger_in_words(trigger) == "Errors Sum > 3 for 2 of 2 datapoints of 120 s"


@pytest.mark.parametrize(
    "region, name, partition, link",
    [
        (
            "ap-northeast-2",
            "mission-cpu-alarm",
            "",
            "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
            "#alarmsV2:alarm/mission-cpu-alarm",
        ),
        (
            "us-east-1",
            "web/prod high CPU",
            "",
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
            "#alarmsV2:alarm/web%2Fprod%20high%20CPU",
        ),
        (
            "ap-northeast-2",
            "CPU 경보",
            "",
            "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
            "#alarmsV2:alarm/CPU%20%EA%B2%BD%EB%B3%B4",
        ),
        (
            "eu-west-1",
            "a#b?c&d|e>f",
            "",
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
            "#alarmsV2:alarm/a%23b%3Fc%26d%7Ce%3Ef",
        ),
        (
            "cn-north-1",
            "x",
            "aws-cn",
            "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/x",
        ),
        (
            "us-gov-west-1",
            "x",
            "",
            "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1"
            "#alarmsV2:alarm/x",
        ),
    ],
)
def test_console_link(notifier, region, name, partition, link):
    assert notifier.console_link(region, name, partition) == link


@pytest.mark.parametrize(
    "alarm, topic_arn, region",
    [
        (
            {"AlarmArn": "arn:aws:cloudwatch:ap-northeast-2:1:alarm:x", "Region": "EU (Ireland)"},
            None,
            "ap-northeast-2",
        ),
        (
            {
                "AlarmArn": "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE",
                "Region": "US East (N. Virginia)",
            },
            None,
            "us-east-1",
        ),
        ({"Region": "Asia Pacific (Seoul)"}, None, "ap-northeast-2"),
        ({"Region": "EU - Ireland"}, None, "eu-west-1"),
        ({"Region": "EU (Ireland)"}, None, "eu-west-1"),
        ({"Region": "Europe (Ireland)"}, None, "eu-west-1"),
        ({"Region": "US - N. Virginia"}, None, "us-east-1"),
        ({"Region": "US West (Oregon)"}, None, "us-west-2"),
        ({"Region": "South America (São Paulo)"}, None, "sa-east-1"),
        ({"Region": "Canada (Central)"}, None, "ca-central-1"),
        ({"Region": "Mexico (Central)"}, None, "mx-central-1"),
        ({"Region": "AWS GovCloud (US-West)"}, None, "us-gov-west-1"),
        ({"Region": "Middle East (UAE)"}, None, "me-central-1"),
        ({"Region": "ap-southeast-1"}, None, "ap-southeast-1"),
        ({"Region": "Atlantis (Deep)"}, "arn:aws:sns:eu-west-3:000000000000:t", "eu-west-3"),
        ({}, "arn:aws:sns:eu-west-1:000000000000:cloudwatch-alarms", "eu-west-1"),
        ({"Region": "Atlantis (Deep)"}, None, None),
        ({}, None, None),
    ],
)
def test_alarm_region(notifier, alarm, topic_arn, region):
    assert notifier.alarm_region(alarm, topic_arn) == region


@pytest.mark.parametrize(
    "url, masked",
    [
        (
            "https://hooks.slack.com/services/T00000000/B00000000/abcdefSECRET",
            "https://hooks.slack.com/services/T00000000/B00000000/••••",
        ),
        (
            "https://hooks.slack.com/services/T00000000/B00000000/abcdefSECRET/",
            "https://hooks.slack.com/services/T00000000/B00000000/••••",
        ),
        (
            "http://127.0.0.1:8443/services/T0/B0/abcdefSECRET?x=1",
            "http://127.0.0.1:8443/services/T0/B0/••••",
        ),
        ("https://user:pw@example.com/hook/abcdefSECRET", "https://example.com/hook/••••"),
        ("https://example.com", "https://example.com"),
    ],
)
def test_mask_url(notifier, url, masked):
    assert notifier.mask_url(url) == masked
    assert "SECRET" not in notifier.mask_url(url) and "pw" not in notifier.mask_url(url)


@pytest.mark.parametrize(
    "attempt, retry_after, delay",
    [
        (1, None, 0.5),
        (2, None, 1.0),
        (3, None, 2.0),
        (4, None, 4.0),
        (5, None, 4.0),
        (9, None, 4.0),
        (1, 7.0, 7.0),
        (3, 0.0, 0.0),
        (2, 30.0, 30.0),
    ],
)
def test_retry_delay(notifier, attempt, retry_after, delay):
    assert notifier.retry_delay(attempt, retry_after) == delay


NOW = datetime(2024, 5, 14, 6, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("3", 3.0),
        (" 2 ", 2.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=10), usegmt=True), 10.0),
        (format_datetime(NOW - timedelta(seconds=10), usegmt=True), 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(notifier, header, seconds):
    assert notifier.parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    "status, retryable",
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (403, False),
        (404, False),
        (410, False),
        (301, False),
    ],
)
def test_retryable_status(notifier, status, retryable):
    assert notifier.is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    "text, limit, cut",
    [
        ("short", 10, "short"),
        ("abcdefghij", 5, "abcd…"),
        ("ab &amp; cd", 6, "ab …"),  # "&amp;" would be halved: dropped whole
        ("ab &amp; cd", 9, "ab &amp;…"),
    ],
)
def test_truncate(notifier, text, limit, cut):
    assert notifier.truncate(text, limit) == cut
    assert len(notifier.truncate(text, limit)) <= limit


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("&lt;", "&amp;lt;"),
        ("plain", "plain"),
    ],
)
def test_escape(notifier, raw, escaped):
    assert notifier.escape(raw) == escaped


@pytest.mark.parametrize(
    "value, text",
    [
        ("2017-01-12T16:30:42.236+0000", "2017-01-12 16:30:42 UTC"),
        ("2024-05-14T08:12:41.020+0200", "2024-05-14 06:12:41 UTC"),
        ("2024-05-14T06:12:41Z", "2024-05-14 06:12:41 UTC"),
        ("yesterday", "yesterday"),
    ],
)
def test_format_time(notifier, value, text):
    assert notifier.format_time(value) == text


@pytest.mark.parametrize(
    "value, text", [(50.0, "50"), (1, "1"), (0.25, "0.25"), (None, "?"), ("7.0", "7")]
)
def test_format_number(notifier, value, text):
    assert notifier.format_number(value) == text


def test_read_notifications_unwraps_sqs_records_carrying_sns(notifier):
    envelope = {
        "Type": "Notification",
        "MessageId": uuid_for(1),
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Subject": "s",
        "Message": alarm_json("from-sqs"),
    }
    event = {
        "Records": [{"messageId": "m-1", "body": json.dumps(envelope), "eventSource": "aws:sqs"}]
    }
    notification = next(notifier.read_notifications(event))
    assert notification.message_id == uuid_for(1)
    assert notification.alarm()["AlarmName"] == "from-sqs"


# ---------------------------------------------------------------------------------------------
# Delivery to a local HTTP server
# ---------------------------------------------------------------------------------------------

PAYLOAD = {"text": "hello", "attachments": [{"color": RED, "blocks": []}]}


def test_delivery_200(notifier, slack):
    server = slack()
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep
    )
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 1, 200)
    assert server.requests[0]["body"] == PAYLOAD
    assert server.requests[0]["path"] == f"/services/T000/B000/{SECRET}"
    assert clock.sleeps == []


def test_delivery_429_honours_retry_after(notifier, slack):
    server = slack([(429, "rate_limited", {"Retry-After": "7"}), (200, "ok", {})])
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep
    )
    assert (delivery.ok, delivery.attempts) == (True, 2)
    assert clock.sleeps == [7.0]
    assert len(server.requests) == 2


def test_delivery_5xx_backs_off_exponentially(notifier, slack):
    server = slack([(500, "rollup_error", {}), (503, "", {}), (502, "", {}), (200, "ok", {})])
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep
    )
    assert (delivery.ok, delivery.attempts) == (True, 4)
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_delivery_gives_up_after_max_attempts(notifier, slack):
    server = slack(lambda body: (500, "", {}))
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep, max_attempts=3
    )
    assert (delivery.ok, delivery.permanent, delivery.attempts, delivery.status) == (
        False,
        False,
        3,
        500,
    )
    assert len(server.requests) == 3 and clock.sleeps == [0.5, 1.0]


def test_delivery_timeout_is_retried(notifier, slack):
    server = slack(["hang", (200, "ok", {})])
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep, timeout=0.3
    )
    assert (delivery.ok, delivery.attempts) == (True, 2)
    assert clock.sleeps == [0.5]


def test_delivery_network_error_is_retried_then_reported(notifier):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T000/B000/{SECRET}"
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep, max_attempts=3
    )
    assert (delivery.ok, delivery.permanent, delivery.attempts, delivery.status) == (
        False,
        False,
        3,
        None,
    )
    assert "refused" in delivery.error.lower()
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    "status, code",
    [
        (400, "invalid_payload"),
        (400, "no_text"),
        (403, "invalid_token"),
        (404, "no_service"),
        (410, "channel_is_archived"),
    ],
)
def test_delivery_permanent_4xx_is_not_retried(notifier, slack, status, code):
    server = slack([(status, code, {})])
    clock = FakeInvocation()
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep
    )
    assert (delivery.ok, delivery.permanent, delivery.attempts) == (False, True, 1)
    assert (delivery.status, delivery.slack_error) == (status, code)
    assert len(server.requests) == 1 and clock.sleeps == []


def test_backoff_never_outlives_the_invocation(notifier, slack):
    server = slack(lambda body: (503, "", {}))
    clock = FakeInvocation(remaining_ms=3_000)
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep, max_attempts=50
    )
    assert not delivery.ok and not delivery.permanent
    assert clock.sleeps == [0.5, 1.0]  # a third wait (2 s) would leave no time for the attempt
    assert (
        clock.remaining_ms >= (notifier.TIME_RESERVE_SECONDS + notifier.MIN_ATTEMPT_SECONDS) * 1000
    )
    assert len(server.requests) == 3
    assert "not enough time" in delivery.error


def test_retry_after_longer_than_the_time_left_is_not_waited_for(notifier, slack):
    server = slack([(429, "rate_limited", {"Retry-After": "30"})])
    clock = FakeInvocation(remaining_ms=10_000)
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep
    )
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 429)
    assert clock.sleeps == []


def test_no_attempt_without_time_left(notifier, slack):
    server = slack()
    clock = FakeInvocation(remaining_ms=200)
    delivery = notifier.post_to_slack(
        server.url, PAYLOAD, clock.get_remaining_time_in_millis, sleep=clock.sleep
    )
    assert (delivery.ok, delivery.attempts) == (False, 0)
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# The handler: every record, failures, duplicates, logs
# ---------------------------------------------------------------------------------------------


def test_every_record_is_tried_and_a_failure_raises_at_the_end(
    notifier, slack, monkeypatch, capsys
):
    server = slack(
        lambda body: (400, "invalid_payload", {}) if "broken" in body["text"] else (200, "ok", {})
    )
    monkeypatch.setenv("slackHookUrl", server.url)
    event = {
        "Records": [
            sns_record(alarm_json("first"), uuid_for(1)),
            sns_record(alarm_json("broken"), uuid_for(2)),
            sns_record(alarm_json("third"), uuid_for(3)),
        ]
    }

    with pytest.raises(notifier.DeliveryError, match="1 of 3"):
        notifier.lambda_handler(event, FakeInvocation())

    assert [r["body"]["text"].split(": ")[1].split(" in ")[0] for r in server.requests] == [
        "first",
        "broken",
        "third",
    ]
    logs = notification_logs(capsys.readouterr().out)
    assert [(line["alarm"], line["outcome"]) for line in logs] == [
        ("first", "delivered"),
        ("broken", "failed"),
        ("third", "delivered"),
    ]
    assert logs[1]["slack_error"] == "invalid_payload" and logs[1]["http_status"] == 400
    assert logs[1]["webhook"].endswith("/services/T000/B000/••••")


def test_lambda_retry_posts_only_what_failed(notifier, slack, monkeypatch):
    failures = {"second": 1}

    def answer(body: Any) -> Any:
        if "second" in body["text"] and failures["second"]:
            failures["second"] -= 1
            return (404, "no_service", {})
        return (200, "ok", {})

    server = slack(answer)
    monkeypatch.setenv("slackHookUrl", server.url)
    event = {
        "Records": [
            sns_record(alarm_json("first"), uuid_for(1)),
            sns_record(alarm_json("second"), uuid_for(2)),
        ]
    }
    with pytest.raises(notifier.DeliveryError):
        notifier.lambda_handler(event, FakeInvocation())
    assert len(server.requests) == 2

    result = notifier.lambda_handler(event, FakeInvocation())  # what Lambda's retry does

    assert result == {"records": 2, "delivered": 1, "duplicate": 1, "failed": 0}
    assert len(server.requests) == 3 and "second" in server.requests[2]["body"]["text"]


def test_a_malformed_record_does_not_lose_the_others(notifier, slack, monkeypatch, capsys):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    event = {
        "Records": [
            "not a record",
            {"Sns": {"Message": {"AlarmName": "dict-not-string", "NewStateValue": "OK"}}},
            sns_record("{broken json", uuid_for(7)),
            sns_record(alarm_json("fine"), uuid_for(8)),
        ]
    }

    result = notifier.lambda_handler(event, FakeInvocation())

    assert result["delivered"] == 4 and result["failed"] == 0
    texts = [r["body"]["text"] for r in server.requests]
    assert "not a record" in texts[0]
    assert "dict-not-string" in texts[1]
    assert "fine" in texts[3]
    assert len(notification_logs(capsys.readouterr().out)) == 4


def test_a_formatting_bug_still_delivers_the_raw_message(notifier, slack, monkeypatch, capsys):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(notifier, "alarm_message", broken)
    result = notifier.lambda_handler(
        {"Records": [sns_record(alarm_json("x"), uuid_for(1))]}, FakeInvocation()
    )
    assert result["delivered"] == 1
    assert '"AlarmName": "x"' in server.requests[0]["body"]["text"]
    assert any(
        line["message"].startswith("formatting failed")
        for line in log_lines(capsys.readouterr().out)
    )


def test_same_message_id_is_posted_once_per_environment(notifier, slack, monkeypatch, capsys):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    event = load_event("metric_alarm_alarm.json")

    first = notifier.lambda_handler(event, FakeInvocation())
    second = notifier.lambda_handler(event, FakeInvocation())

    assert first["delivered"] == 1 and second == {
        "records": 1,
        "delivered": 0,
        "duplicate": 1,
        "failed": 0,
    }
    assert len(server.requests) == 1
    assert [line["outcome"] for line in notification_logs(capsys.readouterr().out)] == [
        "delivered",
        "duplicate",
    ]


def test_the_sample_events_made_up_id_is_never_suppressed(notifier, slack, monkeypatch):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    event = load_event("seed_mission_slack_test.json")  # MessageId "xxxxxxxx-xxxx-..."
    notifier.lambda_handler(event, FakeInvocation())
    notifier.lambda_handler(event, FakeInvocation())
    assert len(server.requests) == 2


def test_remembered_ids_are_bounded(notifier, slack, monkeypatch):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    monkeypatch.setattr(notifier, "REMEMBERED_IDS", 3)
    event = {"Records": [sns_record(alarm_json(f"a{i}"), uuid_for(i)) for i in range(5)]}
    notifier.lambda_handler(event, FakeInvocation())
    assert list(notifier._delivered_ids) == [uuid_for(2), uuid_for(3), uuid_for(4)]
    notifier.lambda_handler(
        {"Records": [event["Records"][0]]}, FakeInvocation()
    )  # forgotten: sent again
    assert len(server.requests) == 6


def test_a_failed_delivery_is_not_remembered(notifier, slack, monkeypatch):
    server = slack([(400, "invalid_payload", {})])
    monkeypatch.setenv("slackHookUrl", server.url)
    event = {"Records": [sns_record(alarm_json("a"), uuid_for(1))]}
    with pytest.raises(notifier.DeliveryError):
        notifier.lambda_handler(event, FakeInvocation())
    assert notifier.lambda_handler(event, FakeInvocation())["delivered"] == 1


def test_rate_limit_in_the_handler_is_retried(notifier, slack, monkeypatch, capsys):
    server = slack([(429, "rate_limited", {"Retry-After": "0"})])
    monkeypatch.setenv("slackHookUrl", server.url)
    result = notifier.lambda_handler(load_event("metric_alarm_ok.json"), FakeInvocation())
    assert result["delivered"] == 1 and len(server.requests) == 2
    assert notification_logs(capsys.readouterr().out)[0]["attempts"] == 2


def test_one_structured_log_line_per_record(notifier, slack, monkeypatch, capsys):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    event = {
        "Records": [
            *load_event("metric_alarm_alarm.json")["Records"],
            *load_event("plain_text.json")["Records"],
        ]
    }
    notifier.lambda_handler(event, FakeInvocation())

    lines = notification_logs(capsys.readouterr().out)
    assert len(lines) == 2
    for line in lines:
        assert {"level", "message_id", "alarm", "state", "outcome", "attempts", "ms"} <= line.keys()
        assert isinstance(line["ms"], int) and line["ms"] >= 0
    assert lines[0]["message_id"] == "5f2c8a4e-1b7d-5e3f-9c60-2d4a8b1e7f03"
    assert (lines[0]["alarm"], lines[0]["state"], lines[0]["outcome"], lines[0]["attempts"]) == (
        "mission-cpu-alarm",
        "ALARM",
        "delivered",
        1,
    )
    assert (lines[1]["alarm"], lines[1]["state"]) == (None, None)


def test_the_webhook_url_never_reaches_the_logs(notifier, slack, monkeypatch, capsys):
    server = slack(lambda body: (403, "invalid_token", {}))
    monkeypatch.setenv("slackHookUrl", server.url)
    with pytest.raises(notifier.DeliveryError) as raised:
        notifier.lambda_handler(load_event("metric_alarm_alarm.json"), FakeInvocation())
    output = capsys.readouterr().out
    assert output and SECRET not in output and SECRET not in str(raised.value)
    assert "/services/T000/B000/••••" in output  # masked, still recognisable


def test_no_webhook_configured_fails_every_record_with_a_clear_message(notifier, capsys):
    with pytest.raises(
        notifier.WebhookConfigError, match="kmsEncryptedHookUrl.*slackHookUrlParameter"
    ):
        notifier.lambda_handler(load_event("seed_mission_slack_test.json"), FakeInvocation())
    lines = notification_logs(capsys.readouterr().out)
    assert [line["outcome"] for line in lines] == ["failed"]
    assert "No Slack webhook URL is configured" in lines[0]["error"]


def test_event_without_records_is_one_message(notifier, slack, monkeypatch):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    result = notifier.lambda_handler(load_event("eventbridge_direct.json"), None)
    assert result["delivered"] == 1
    assert "EC2 Instance State-change Notification" in server.requests[0]["body"]["text"]


def test_empty_records_do_nothing(notifier):
    assert notifier.lambda_handler({"Records": []}, None) == {
        "records": 0,
        "delivered": 0,
        "duplicate": 0,
        "failed": 0,
    }


def test_mention_and_channel_come_from_the_environment(notifier, slack, monkeypatch):
    server = slack()
    monkeypatch.setenv("slackHookUrl", server.url)
    monkeypatch.setenv("slackMention", "<!here>")
    monkeypatch.setenv("slackChannel", "#alerts")
    notifier.lambda_handler(load_event("metric_alarm_alarm.json"), FakeInvocation())
    body = server.requests[0]["body"]
    assert body["text"].startswith("<!here> ") and body["channel"] == "#alerts"


# ---------------------------------------------------------------------------------------------
# The file itself: deployable on its own
# ---------------------------------------------------------------------------------------------


def test_the_function_imports_only_the_standard_library_and_boto3():
    import ast

    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"boto3"}


def test_handler_name_matches_the_deployment(notifier):
    assert callable(notifier.lambda_handler)
    assert SOURCE.name == "slack_notifier.py"
