"""Fault plans of the local Slack: validation, how a plan is used up, and what each fault does
to a webhook request (429 with Retry-After, 500, delay, dropped connection)."""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.request
from types import SimpleNamespace
from typing import NoReturn

import pytest
from botocore.exceptions import ClientError
from werkzeug.serving import make_server
from werkzeug.test import Client

from labkit import i18n
from labkit.checks.report import CheckReport
from labkit.errors import LabError
from labkit.slack_faults import SlackFaults, fault_request
from labkit.local.slack import app as slack_module
from labkit.local.server import MaskingRequestHandler
from labkit.local.slack.app import make_slack_app
from labkit.local.slack.store import SlackStore
from labkit.local.slack.fault_plans import (
    Fault,
    FaultBook,
    FaultSpecError,
    http_answer,
    parse_fault,
    take,
)
from labkit.checks.step_08 import step_08

# --------------------------------------------------------------------------------------------
# Validation (pure)

VALID = [
    ({"kind": "429"}, Fault("429", 1, retry_after=1)),
    ({"kind": "429", "count": 3, "retry_after": 2}, Fault("429", 3, retry_after=2)),
    ({"kind": "429", "retry_after": 0}, Fault("429", 1, retry_after=0)),
    ({"kind": "500", "always": True}, Fault("500", None)),
    ({"kind": "500", "always": False, "count": 2}, Fault("500", 2)),
    ({"kind": "delay", "delay_ms": 250, "count": 4}, Fault("delay", 4, delay_ms=250)),
    ({"kind": "delay"}, Fault("delay", 1, delay_ms=1000)),
    ({"kind": "drop", "count": 10_000, "channel": "project"}, Fault("drop", 10_000)),
]


@pytest.mark.parametrize(("data", "expected"), VALID)
def test_valid_fault_specs(data, expected) -> None:
    assert parse_fault(data) == expected


INVALID = [
    ({"kind": "404"}, "kind must be one of 429, 500, delay, drop"),
    ({}, "kind must be one of"),
    ({"kind": "429", "count": 0}, "count must be a whole number from 1 to 10000, not 0"),
    ({"kind": "429", "count": 10_001}, "count must be a whole number from 1 to 10000"),
    ({"kind": "429", "count": "3"}, "count must be a whole number"),
    ({"kind": "429", "count": True}, "count must be a whole number"),
    ({"kind": "429", "count": 2.5}, "count must be a whole number"),
    ({"kind": "429", "retry_after": -1}, "retry_after must be a whole number from 0 to 3600"),
    ({"kind": "delay", "delay_ms": 0}, "delay_ms must be a whole number from 1 to 60000"),
    ({"kind": "delay", "delay_ms": 60_001}, "delay_ms must be a whole number from 1 to 60000"),
    ({"kind": "500", "retry_after": 1}, "retry_after applies to kind 429 only"),
    ({"kind": "drop", "delay_ms": 5}, "delay_ms applies to kind delay only"),
    ({"kind": "500", "always": True, "count": 2}, "either count"),
    ({"kind": "500", "always": "yes"}, "always must be true or false"),
    ({"kind": "500", "times": 2}, "unknown setting(s): times"),
    (["429"], "must be a JSON object"),
]


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_invalid_fault_specs_say_what_is_wrong(data, message) -> None:
    with pytest.raises(FaultSpecError) as raised:
        parse_fault(data)
    assert message in str(raised.value)


# --------------------------------------------------------------------------------------------
# Using a plan up (pure)

PLANS = [
    # (plan, kinds the next requests get; None = served normally)
    ((), [None, None]),
    ((Fault("429", 2),), ["429", "429", None]),
    ((Fault("500", 1), Fault("drop", 2), Fault("delay", 1)),
     ["500", "drop", "drop", "delay", None]),
    ((Fault("500", None),), ["500", "500", "500", "500"]),
    # A permanent fault never wears off, so whatever follows it never comes.
    ((Fault("500", None), Fault("429", 1)), ["500", "500", "500"]),
    ((Fault("429", 1), Fault("500", None)), ["429", "500", "500"]),
]


@pytest.mark.parametrize(("plan", "kinds"), PLANS)
def test_each_request_takes_the_fault_at_the_head_of_the_plan(plan, kinds) -> None:
    seen = []
    for _ in kinds:
        fault, plan = take(plan)
        seen.append(fault.kind if fault else None)
    assert seen == kinds


def test_a_taken_fault_counts_for_one_request_and_keeps_its_settings() -> None:
    fault, rest = take((Fault("429", 3, retry_after=7),))
    assert fault == Fault("429", 1, retry_after=7)
    assert rest == (Fault("429", 2, retry_after=7),)
    permanent, rest = take((Fault("delay", None, delay_ms=5),))
    assert permanent == Fault("delay", None, delay_ms=5) and permanent.permanent
    assert rest == (Fault("delay", None, delay_ms=5),)


ANSWERS = [
    (Fault("429", retry_after=3), (429, "rate_limited", [("Retry-After", "3")])),
    (Fault("429", retry_after=0), (429, "rate_limited", [("Retry-After", "0")])),
    (Fault("500"), (500, "internal_error", [])),
    (Fault("delay", delay_ms=10), None),  # goes on to the normal answer
    (Fault("drop"), None),  # no answer at all
]


@pytest.mark.parametrize(("fault", "answer"), ANSWERS)
def test_http_answer_of_each_fault(fault, answer) -> None:
    assert http_answer(fault) == answer


DESCRIPTIONS = [
    (Fault("429", 3, retry_after=1), "429 rate_limited (Retry-After 1 s) for the next 3 requests"),
    (Fault("500", None), "500 internal_error for every request"),
    (Fault("delay", 1, delay_ms=800), "delay of 800 ms for the next 1 request"),
    (Fault("drop", 2), "dropped connection for the next 2 requests"),
]


@pytest.mark.parametrize(("fault", "text"), DESCRIPTIONS)
def test_describe(fault, text) -> None:
    assert fault.describe() == text


def test_to_json_keeps_only_the_settings_of_the_kind() -> None:
    assert Fault("429", 2, retry_after=5).to_json() == {"kind": "429", "count": 2,
                                                         "retry_after": 5}
    assert Fault("delay", None, delay_ms=9).to_json() == {"kind": "delay", "count": None,
                                                          "delay_ms": 9}
    assert Fault("drop", 1).to_json() == {"kind": "drop", "count": 1}


def test_fault_book_keeps_one_plan_per_channel() -> None:
    book = FaultBook()
    assert book.add("a", Fault("429", 2)) == [Fault("429", 2)]
    book.add("a", Fault("500", 1))
    book.add("b", Fault("drop", None))
    assert book.take("a") == Fault("429", 1)
    assert book.plans("a") == {"a": [Fault("429", 1), Fault("500", 1)]}
    assert book.take("c") is None
    assert book.take("b") == Fault("drop", None)
    assert book.clear("b") == 1 and book.take("b") is None
    assert [book.take("a").kind, book.take("a").kind, book.take("a")] == ["429", "500", None]
    assert book.plans() == {}  # a used-up plan leaves nothing behind
    book.add("a", Fault("500", 3))
    book.add("b", Fault("500", 3))
    assert book.clear() == 2 and book.plans() == {}


# --------------------------------------------------------------------------------------------
# The client side's checks (before anything is sent)

BAD_REQUESTS = [
    (dict(kind="418"), "kind must be one of 429, 500, delay, drop"),
    (dict(kind="429", count=0), "count must be a whole number from 1 to 10000"),
    (dict(kind="delay", delay_ms=-5), "delay_ms must be a whole number"),
    (dict(kind="500", retry_after=2), "retry_after applies to kind 429 only"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_REQUESTS)
def test_wrong_input_is_a_lab_error_with_what_to_do(arguments, message) -> None:
    with pytest.raises(LabError) as raised:
        fault_request(**arguments)
    assert message in raised.value.what
    assert "labkit local fault 429 --count 3" in raised.value.todo


def test_fault_request_bodies() -> None:
    assert fault_request("429", 3, retry_after=2, channel="#ops") == {
        "channel": "ops", "kind": "429", "count": 3, "retry_after": 2}
    assert fault_request(500, always=True) == {"channel": "project", "kind": "500",
                                               "always": True}


def test_fault_injection_on_target_aws_explains_it_needs_the_local_slack() -> None:
    lab = SimpleNamespace(is_local=False, state=None)
    with pytest.raises(LabError) as raised:
        SlackFaults.for_lab(lab)  # type: ignore[arg-type]
    assert "needs the local Slack" in raised.value.what
    assert "target='local'" in raised.value.todo


# --------------------------------------------------------------------------------------------
# The local Slack with faults planned


@pytest.fixture
def store() -> SlackStore:
    return SlackStore()


@pytest.fixture
def client(store: SlackStore) -> Client:
    return Client(make_slack_app(store, rate_limit=False))


def post(client: Client, path: str, payload: object):
    return client.post(path, data=json.dumps(payload), content_type="application/json")


def plan(client: Client, **fault) -> object:
    return post(client, "/labkit/slack/faults", fault)


def test_faults_answer_webhook_posts_in_order_then_slack_behaves(client, store) -> None:
    hook = store.create_webhook("project")
    assert plan(client, channel="#project", kind="429", count=2, retry_after=3).status_code == 200
    assert plan(client, channel="project", kind="500").status_code == 200
    answers = [post(client, hook.path, {"text": f"m{i}"}) for i in range(4)]
    assert [(a.status_code, a.get_data(as_text=True)) for a in answers] == [
        (429, "rate_limited"), (429, "rate_limited"), (500, "internal_error"), (200, "ok")]
    assert answers[0].headers["Retry-After"] == "3"
    assert [m["text"] for m in store.messages()] == ["m3"]  # a faulted post is not kept


def test_a_delay_waits_then_posts(client, store, monkeypatch) -> None:
    slept = []
    monkeypatch.setattr(slack_module.time, "sleep", slept.append)
    hook = store.create_webhook("project")
    plan(client, channel="project", kind="delay", delay_ms=1500)
    answer = post(client, hook.path, {"text": "slow"})
    assert (answer.status_code, slept) == (200, [1.5])
    assert [m["text"] for m in store.messages()] == ["slow"]


def test_faults_belong_to_one_channel_and_wrong_requests_do_not_use_them(client, store) -> None:
    project, other = store.create_webhook("project"), store.create_webhook("other")
    plan(client, channel="project", kind="500", always=True)
    assert post(client, other.path, {"text": "fine"}).status_code == 200
    wrong_secret = project.path.rsplit("/", 1)[0] + "/not-the-secret"
    assert post(client, wrong_secret, {"text": "x"}).status_code == 403
    assert client.get("/labkit/slack/faults?channel=project").get_json()["faults"][0][
        "count"] is None
    assert post(client, project.path, {"text": "down"}).status_code == 500


def test_admin_routes_list_and_clear(client, store) -> None:
    hook = store.create_webhook("project")
    plan(client, channel="project", kind="429", count=2)
    plan(client, channel="later", kind="drop")
    listed = client.get("/labkit/slack/faults").get_json()["faults"]
    assert listed == [
        {"channel": "project", "hook_id": hook.hook_id, "kind": "429", "count": 2,
         "retry_after": 1, "description": "429 rate_limited (Retry-After 1 s) for the next 2 "
                                          "requests"},
        # A fault may be planned before the channel's webhook exists.
        {"channel": "later", "hook_id": None, "kind": "drop", "count": 1,
         "description": "dropped connection for the next 1 request"},
    ]
    assert hook.secret not in json.dumps(listed)
    assert client.delete("/labkit/slack/faults?channel=later").get_json() == {"cleared": 1}
    assert client.delete("/labkit/slack/faults").get_json() == {"cleared": 1}
    assert client.get("/labkit/slack/faults").get_json() == {"faults": []}


@pytest.mark.parametrize(("fault", "error"), [
    ({"channel": "project", "kind": "teapot"}, "kind must be one of"),
    ({"channel": "Not A Channel", "kind": "500"}, "channel must be a Slack channel name"),
    ({"kind": "500"}, "channel must be a Slack channel name"),
])
def test_admin_route_refuses_a_wrong_fault(client, fault, error) -> None:
    answer = plan(client, **fault)
    assert answer.status_code == 400 and error in answer.get_json()["error"]


def test_drop_closes_the_connection_without_an_answer(store) -> None:
    app = make_slack_app(store, rate_limit=False)
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=MaskingRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = store.create_webhook("project")
        app.faults.add("project", Fault("drop", 1))
        url = f"http://127.0.0.1:{server.server_port}{hook.path}"

        def send(text: str):
            request = urllib.request.Request(url, data=json.dumps({"text": text}).encode(),
                                             headers={"Content-Type": "application/json"})
            return urllib.request.urlopen(request, timeout=5)

        # What the function's urllib sees: no status line at all, a connection error.
        with pytest.raises(http.client.RemoteDisconnected):
            send("dropped")
        with send("after") as response:
            assert (response.status, response.read()) == (200, b"ok")
        assert [m["text"] for m in store.messages()] == ["after"]
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------------
# In the lab's language: what a learner reads, while the local Slack's API stays English

HANGUL = re.compile("[\uac00-\ud7a3]")


@pytest.fixture
def korean():
    """The lab's language is Korean for the test; English again afterwards."""
    i18n.set_language("ko")
    yield
    i18n.set_language("en")


def test_a_wrong_fault_is_explained_in_the_lab_s_language(korean) -> None:
    with pytest.raises(LabError) as raised:
        fault_request(kind="418")
    assert HANGUL.search(raised.value.what) and "'418'" in raised.value.what
    assert HANGUL.search(raised.value.todo)
    assert "labkit local fault 429 --count 3 --retry-after 1" in raised.value.todo
    with pytest.raises(LabError) as raised:
        SlackFaults.for_lab(SimpleNamespace(is_local=False, state=None))  # type: ignore[arg-type]
    assert HANGUL.search(raised.value.what) and "target='local'" in raised.value.todo


def test_descriptions_follow_the_language_and_keep_codes(korean) -> None:
    assert Fault("429", 3, retry_after=2).describe() == \
        "다음 요청 3번에 429 rate_limited (Retry-After 2초)"
    assert Fault("500", None).describe() == "모든 요청에 500 internal_error"


def test_pending_describes_the_local_slack_s_faults_in_the_lab_s_language(korean) -> None:
    # What the local Slack's process answers: its descriptions are in English.
    answer = {"channel": "project", "hook_id": None, "kind": "delay", "count": 2,
              "delay_ms": 250, "description": "delay of 250 ms for the next 2 requests"}
    faults = SlackFaults("http://local-slack")
    faults._call = (  # type: ignore[method-assign]
        lambda method, path, body=None: {"faults": [answer]})
    assert faults.pending() == [{**answer, "description": "다음 요청 2번에 250 ms 지연"}]


# --------------------------------------------------------------------------------------------
# Notebook 08's check, on a lab whose pipeline is gone


class GoneClient:
    """A boto3 client of a target where nothing of notebook 08 exists."""

    def describe_log_groups(self, **_: object) -> dict:
        return {"logGroups": []}

    def __getattr__(self, operation: str):
        def not_found(**_: object) -> NoReturn:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, operation)
        return not_found


def lab_after_notebook_08(messages: list[dict], pending: list[dict]) -> SimpleNamespace:
    return SimpleNamespace(
        is_local=True, config=SimpleNamespace(prefix="kim-"), region="ap-northeast-2",
        account="123456789012", client=lambda service: GoneClient(),
        slack_messages=lambda after, channel: messages,
        slack_faults=SimpleNamespace(pending=lambda channel: pending))


def test_step_08_texts_come_from_the_catalogue_in_the_lab_s_language(korean) -> None:
    lab = lab_after_notebook_08(
        messages=[{"payload": {"text": "flaky-outage"}}] * 2,
        pending=[{"kind": "500"}])
    report = CheckReport("08")
    step_08(lab, report, rate_limited=[
        {"message": "notification", "outcome": "delivered", "attempts": 3}],
        labels=["flaky-outage"])  # type: ignore[arg-type]
    assert [item.ok for item in report.items] == [True, False, False, True]
    assert all(HANGUL.search(item.text) for item in report.items)
    counted, planned = report.items[1], report.items[2]
    assert "#kim-mission-flaky" in counted.text and "flaky-outage 2" in counted.hint
    assert "#kim-mission-flaky" in planned.text and "lab.slack_faults.clear" in planned.hint


def test_step_08_keeps_its_english_wording() -> None:
    lab = lab_after_notebook_08(messages=[], pending=[])
    report = CheckReport("08")
    step_08(lab, report, outage=[])  # type: ignore[arg-type]
    assert [(item.ok, item.text, item.hint) for item in report.items] == [
        (False, "When 500s outlasted one invocation, Lambda retried it and the alarm was "
                "delivered", "Run the 500 cell again; it waits for Lambda's retry."),
        (True, "No fault is left planned on #kim-mission-flaky",
         "Run lab.slack_faults.clear(channel) (the cleanup cell does)."),
        (True, "Nothing of this notebook's pipeline is left",
         "Still there: . Run the cleanup cells."),
    ]
    lab.is_local = False
    report = CheckReport("08")
    step_08(lab, report, outage=[])  # type: ignore[arg-type]
    assert [(item.ok, item.text) for item in report.items] == [
        (True, "Nothing was created on AWS: fault injection needs the local Slack")]
