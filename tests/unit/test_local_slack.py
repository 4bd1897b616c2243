"""The local Slack answers webhook posts as Slack does and keeps every accepted message.

Expected answers come from Slack's incoming-webhook documentation ("Handling errors") and its
rate-limit page; see the docstring of labkit.local.slack.app.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import urlencode

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import Client

from labkit.local.slack.app import RateLimiter, make_slack_app, retry_after_seconds
from labkit.local.slack.store import SlackStore

# 2023-11-14T22:13:20Z is Unix time 1700000000.
FIXED_NOW = 1_700_000_000.0001


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> SlackStore:
    return SlackStore(clock=lambda: FIXED_NOW)


@pytest.fixture
def client(store: SlackStore) -> Client:
    """A client of an app without rate limiting, for tests about content."""
    return Client(make_slack_app(store, rate_limit=False))


def post_json(client: Client, path: str, payload: object):
    return client.post(path, data=json.dumps(payload), content_type="application/json")


def body(response) -> str:
    return response.get_data(as_text=True)


# --------------------------------------------------------------------------------------------
# Rate limiter (pure)


def test_rate_limiter_token_bucket_table() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(rate=1.0, burst=3, clock=clock)
    # (time, key, expected wait in seconds; 0 means allowed)
    steps = [
        (100.0, "a", 0.0),   # a full bucket holds 3 tokens
        (100.0, "a", 0.0),
        (100.0, "a", 0.0),
        (100.0, "a", 1.0),   # empty: one token comes back after a second
        (100.0, "b", 0.0),   # another key has its own bucket
        (100.5, "a", 0.5),   # half a token refilled
        (101.0, "a", 0.0),   # one whole token: allowed
        (101.0, "a", 1.0),
        (150.0, "a", 0.0),   # a long pause refills to the burst, no further
        (150.0, "a", 0.0),
        (150.0, "a", 0.0),
        (150.0, "a", 1.0),
    ]
    for now, key, expected in steps:
        clock.now = now
        assert limiter.acquire(key) == pytest.approx(expected), (now, key)


def test_rate_limiter_reset_refills_every_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(1.0)
    limiter.reset()
    assert limiter.acquire("a") == 0.0


def test_rate_limiter_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0)
    with pytest.raises(ValueError):
        RateLimiter(burst=0)


@pytest.mark.parametrize(
    ("wait", "header"),
    [(0.001, 1), (0.5, 1), (1.0, 1), (1.01, 2), (2.0, 2), (3.5, 4)],
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header


# --------------------------------------------------------------------------------------------
# The store


def test_webhook_ids_and_secret_have_slack_shapes(store: SlackStore) -> None:
    hook = store.create_webhook("project")
    assert hook.team_id == "T0LOCAL01"
    assert re.fullmatch(r"B[A-Z0-9]{10}", hook.hook_id)
    assert re.fullmatch(r"[A-Za-z0-9]{24}", hook.secret)
    assert hook.channel == "project"
    assert hook.created_at == "2023-11-14T22:13:20.000100Z"
    assert hook.path == f"/services/T0LOCAL01/{hook.hook_id}/{hook.secret}"


def test_create_webhook_is_get_or_create_per_channel(store: SlackStore) -> None:
    first = store.create_webhook("project")
    again = store.create_webhook("project")
    other = store.create_webhook("alerts")
    assert again == first
    assert other.hook_id != first.hook_id and other.secret != first.secret
    assert [w.channel for w in store.webhooks()] == ["project", "alerts"]


def test_webhook_repr_hides_the_secret(store: SlackStore) -> None:
    hook = store.create_webhook("project")
    assert hook.secret not in repr(hook)
    assert hook.hook_id in repr(hook)


def test_webhook_is_frozen(store: SlackStore) -> None:
    hook = store.create_webhook("project")
    with pytest.raises(AttributeError):
        hook.channel = "other"  # type: ignore[misc]


def test_store_filters_by_channel_and_after_id(store: SlackStore) -> None:
    project = store.create_webhook("project")
    alerts = store.create_webhook("alerts")
    store.add_message(project, {"text": "one"})
    store.add_message(alerts, {"text": "two"})
    store.add_message(project, {"text": "three"})
    assert [m["text"] for m in store.messages()] == ["one", "two", "three"]
    assert [m["text"] for m in store.messages(channel="project")] == ["one", "three"]
    assert [m["text"] for m in store.messages(after_id=1)] == ["two", "three"]
    assert [m["text"] for m in store.messages(channel="project", after_id=1)] == ["three"]


def test_store_returns_copies(store: SlackStore) -> None:
    hook = store.create_webhook("project")
    store.add_message(hook, {"text": "original"})
    store.messages()[0]["payload"]["text"] = "changed by a reader"
    assert store.messages()[0]["payload"]["text"] == "original"


def test_clear_keeps_webhooks_and_ids_keep_increasing(store: SlackStore) -> None:
    hook = store.create_webhook("project")
    store.add_message(hook, {"text": "one"})
    store.add_message(hook, {"text": "two"})
    assert store.clear() == 2
    assert store.messages() == []
    assert store.webhooks() == [hook]
    assert store.add_message(hook, {"text": "three"})["id"] == 3


def test_ts_stays_unique_when_the_clock_does_not_move(store: SlackStore) -> None:
    hook = store.create_webhook("project")
    first = store.add_message(hook, {"text": "a"})
    second = store.add_message(hook, {"text": "b"})
    assert first["ts"] == "1700000000.000100"
    assert second["ts"] == "1700000000.000101"


def test_store_is_safe_under_concurrent_posts(store: SlackStore) -> None:
    hook = store.create_webhook("project")

    def post_many() -> None:
        for _ in range(50):
            store.add_message(hook, {"text": "x"})

    threads = [threading.Thread(target=post_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = store.messages()
    assert sorted(m["id"] for m in messages) == list(range(1, 401))
    assert len({m["ts"] for m in messages}) == 400


# --------------------------------------------------------------------------------------------
# Incoming webhook: accepted messages


def test_json_post_answers_ok_and_is_stored(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    payload = {"text": "CPU alarm :rotating_light:", "attachments": [{"color": "danger"}]}
    response = post_json(client, hook.path, payload)
    assert response.status_code == 200
    assert body(response) == "ok"
    assert response.mimetype == "text/html"
    assert store.messages() == [{
        "id": 1,
        "ts": "1700000000.000100",
        "time": "2023-11-14T22:13:20.000100Z",
        "channel": "project",
        "webhook_id": hook.hook_id,
        "payload": payload,
        "text": "CPU alarm :rotating_light:",
    }]


def test_json_with_charset_is_accepted(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    response = client.post(hook.path, data='{"text": "h\u00e9"}'.encode(),
                           content_type="application/json; charset=utf-8")
    assert (response.status_code, body(response)) == (200, "ok")
    assert store.messages()[0]["text"] == "h\u00e9"


def test_form_encoded_payload_is_accepted(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    payload = {"text": "from a form & with symbols"}
    response = client.post(hook.path, data=urlencode({"payload": json.dumps(payload)}),
                           content_type="application/x-www-form-urlencoded")
    assert (response.status_code, body(response)) == (200, "ok")
    assert store.messages()[0]["payload"] == payload


def test_json_body_with_curls_default_form_type_is_accepted(
    store: SlackStore, client: Client
) -> None:
    hook = store.create_webhook("project")
    response = client.post(hook.path, data='{"text": "curl -d"}',
                           content_type="application/x-www-form-urlencoded")
    assert (response.status_code, body(response)) == (200, "ok")
    assert store.messages()[0]["text"] == "curl -d"


@pytest.mark.parametrize("payload", [
    {"blocks": [{"type": "divider"}]},
    {"attachments": [{"fallback": "only an attachment"}]},
])
def test_blocks_or_attachments_without_text_are_accepted(
    store: SlackStore, client: Client, payload: dict
) -> None:
    hook = store.create_webhook("project")
    response = post_json(client, hook.path, payload)
    assert (response.status_code, body(response)) == (200, "ok")
    assert store.messages()[0]["text"] == ""


def test_limits_are_inclusive(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    hundred = {"attachments": [{"text": "x"}] * 100}
    fifty = {"text": "t", "blocks": [{"type": "divider"}] * 50}
    assert post_json(client, hook.path, hundred).status_code == 200
    assert post_json(client, hook.path, fifty).status_code == 200


# --------------------------------------------------------------------------------------------
# Incoming webhook: refused messages


REFUSED = [
    # (body bytes, content type, status, Slack's answer)
    (b'{"text": ', "application/json", 400, "invalid_payload"),
    (b"[1, 2]", "application/json", 400, "invalid_payload"),
    (b'"just a string"', "application/json", 400, "invalid_payload"),
    (b"\xff\xfe not utf-8", "application/json", 400, "invalid_payload"),
    (b'{"text": 5}', "application/json", 400, "invalid_payload"),
    (b'{"attachments": {"text": "not a list"}}', "application/json", 400, "invalid_payload"),
    (b"payload=not+json", "application/x-www-form-urlencoded", 400, "invalid_payload"),
    (b"{}", "application/json", 400, "no_text"),
    (b'{"text": ""}', "application/json", 400, "no_text"),
    (b'{"blocks": [], "attachments": []}', "application/json", 400, "no_text"),
    (b'{"username": "bot", "icon_emoji": ":x:"}', "application/json", 400, "no_text"),
    (json.dumps({"attachments": [{"text": "x"}] * 101}).encode(), "application/json",
     400, "too_many_attachments"),
    (json.dumps({"text": "t", "blocks": [{"type": "divider"}] * 51}).encode(),
     "application/json", 400, "invalid_blocks"),
    (b'{"text": "t", "blocks": ["divider"]}', "application/json", 400, "invalid_blocks"),
    (b'{"text": "t", "blocks": {"type": "divider"}}', "application/json", 400, "invalid_blocks"),
]


@pytest.mark.parametrize(("data", "content_type", "status", "answer"), REFUSED)
def test_refused_payloads_get_slacks_answer_and_are_not_stored(
    store: SlackStore, client: Client, data: bytes, content_type: str, status: int, answer: str
) -> None:
    hook = store.create_webhook("project")
    response = client.post(hook.path, data=data, content_type=content_type)
    assert response.status_code == status
    assert body(response) == answer
    assert response.mimetype == "text/html"
    assert store.messages() == []


def test_unknown_hook_is_404_no_service(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    response = post_json(client, f"/services/T0LOCAL01/BNOSUCHHOOK/{hook.secret}", {"text": "x"})
    assert (response.status_code, body(response)) == (404, "no_service")


def test_unknown_team_is_404_no_service(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    response = post_json(client, f"/services/TOTHER0001/{hook.hook_id}/{hook.secret}",
                         {"text": "x"})
    assert (response.status_code, body(response)) == (404, "no_service")


def test_truncated_webhook_path_is_404_no_service(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    response = post_json(client, f"/services/T0LOCAL01/{hook.hook_id}", {"text": "x"})
    assert (response.status_code, body(response)) == (404, "no_service")


def test_wrong_secret_is_403_invalid_token(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    wrong = hook.secret[:-1] + ("a" if hook.secret[-1] != "a" else "b")
    response = post_json(client, f"/services/T0LOCAL01/{hook.hook_id}/{wrong}", {"text": "x"})
    assert (response.status_code, body(response)) == (403, "invalid_token")
    assert store.messages() == []


def test_secret_is_checked_before_the_payload(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    response = client.post(f"/services/T0LOCAL01/{hook.hook_id}/wrong", data=b"{",
                           content_type="application/json")
    assert (response.status_code, body(response)) == (403, "invalid_token")


# --------------------------------------------------------------------------------------------
# Rate limiting


def test_burst_beyond_the_bucket_gets_429_with_retry_after(store: SlackStore) -> None:
    clock = FakeClock(10.0)
    app = make_slack_app(store, limiter=RateLimiter(rate=1.0, burst=3, clock=clock))
    client = Client(app)
    hook = store.create_webhook("project")
    statuses = [post_json(client, hook.path, {"text": str(i)}).status_code for i in range(3)]
    assert statuses == [200, 200, 200]

    limited = post_json(client, hook.path, {"text": "too fast"})
    assert limited.status_code == 429
    assert body(limited) == "rate_limited"
    assert limited.headers["Retry-After"] == "1"

    clock.now += 1.0
    assert post_json(client, hook.path, {"text": "after waiting"}).status_code == 200
    assert [m["text"] for m in store.messages()] == ["0", "1", "2", "after waiting"]


def test_retry_after_reports_the_real_wait(store: SlackStore) -> None:
    clock = FakeClock()
    app = make_slack_app(store, limiter=RateLimiter(rate=0.25, burst=1, clock=clock))
    client = Client(app)
    hook = store.create_webhook("project")
    assert post_json(client, hook.path, {"text": "first"}).status_code == 200
    limited = post_json(client, hook.path, {"text": "second"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "4"  # one token every 4 s


def test_each_webhook_has_its_own_rate(store: SlackStore) -> None:
    clock = FakeClock()
    client = Client(make_slack_app(store, limiter=RateLimiter(rate=1.0, burst=1, clock=clock)))
    project = store.create_webhook("project")
    alerts = store.create_webhook("alerts")
    assert post_json(client, project.path, {"text": "a"}).status_code == 200
    assert post_json(client, project.path, {"text": "b"}).status_code == 429
    assert post_json(client, alerts.path, {"text": "c"}).status_code == 200


def test_refused_payloads_do_not_use_up_the_rate(store: SlackStore) -> None:
    clock = FakeClock()
    client = Client(make_slack_app(store, limiter=RateLimiter(rate=1.0, burst=1, clock=clock)))
    hook = store.create_webhook("project")
    for _ in range(3):
        assert post_json(client, hook.path, {}).status_code == 400
    assert post_json(client, hook.path, {"text": "good"}).status_code == 200


def test_rate_limit_off_accepts_a_burst(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    statuses = {post_json(client, hook.path, {"text": str(i)}).status_code for i in range(20)}
    assert statuses == {200}
    assert len(store.messages()) == 20


def test_rate_limit_can_be_switched_at_run_time(store: SlackStore) -> None:
    clock = FakeClock()
    client = Client(make_slack_app(store, limiter=RateLimiter(rate=1.0, burst=2, clock=clock)))
    hook = store.create_webhook("project")
    assert client.get("/labkit/slack/settings").json == {"rate_limit": True}
    statuses = [post_json(client, hook.path, {"text": "x"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]

    off = client.post("/labkit/slack/settings", json={"rate_limit": False})
    assert off.json == {"rate_limit": False}
    assert {post_json(client, hook.path, {"text": "x"}).status_code for _ in range(10)} == {200}

    on = client.post("/labkit/slack/settings", json={"rate_limit": True})
    assert on.json == {"rate_limit": True}
    statuses = [post_json(client, hook.path, {"text": "x"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # switching on starts again from a full burst of 2


@pytest.mark.parametrize("bad", [{"rate_limit": "no"}, {"rate_limit": 0}, {}, ["rate_limit"]])
def test_settings_refuse_anything_but_a_boolean(store: SlackStore, client: Client, bad) -> None:
    response = client.post("/labkit/slack/settings", json=bad)
    assert response.status_code == 400
    assert client.get("/labkit/slack/settings").json == {"rate_limit": False}


# --------------------------------------------------------------------------------------------
# Messages API


def test_messages_api_lists_filters_and_clears(store: SlackStore, client: Client) -> None:
    project = store.create_webhook("project")
    alerts = store.create_webhook("alerts")
    post_json(client, project.path, {"text": "one"})
    post_json(client, alerts.path, {"text": "two"})
    post_json(client, project.path, {"text": "three"})

    listed = client.get("/api/messages")
    assert listed.status_code == 200
    assert listed.mimetype == "application/json"
    assert [m["text"] for m in listed.json["messages"]] == ["one", "two", "three"]
    assert [m["id"] for m in listed.json["messages"]] == [1, 2, 3]

    by_channel = client.get("/api/messages?channel=project").json["messages"]
    assert [m["text"] for m in by_channel] == ["one", "three"]
    after = client.get("/api/messages?channel=project&after=1").json["messages"]
    assert [m["text"] for m in after] == ["three"]

    cleared = client.delete("/api/messages")
    assert cleared.status_code == 200
    assert cleared.json == {"cleared": 3}
    assert client.get("/api/messages").json == {"messages": []}


def test_messages_api_refuses_a_non_integer_after(client: Client) -> None:
    assert client.get("/api/messages?after=abc").status_code == 400


# --------------------------------------------------------------------------------------------
# Control API


def test_create_webhook_over_http(store: SlackStore, client: Client) -> None:
    response = client.post("/labkit/slack/webhooks", json={"channel": "project"})
    assert response.status_code == 200
    data = response.json
    hook = store.webhooks()[0]
    assert data == {
        "channel": "project",
        "team_id": "T0LOCAL01",
        "hook_id": hook.hook_id,
        "path": f"/services/T0LOCAL01/{hook.hook_id}/{hook.secret}",
    }
    # The same channel again gets the same webhook; a leading '#' is the same channel.
    assert client.post("/labkit/slack/webhooks", json={"channel": "#project"}).json == data
    assert post_json(client, data["path"], {"text": "posted via the returned path"}).status_code \
        == 200


@pytest.mark.parametrize("bad", [
    {"channel": ""}, {"channel": "Has Space"}, {"channel": "UPPER"}, {"channel": "x" * 81},
    {"channel": 7}, {}, ["project"],
])
def test_create_webhook_refuses_a_bad_channel(store: SlackStore, client: Client, bad) -> None:
    response = client.post("/labkit/slack/webhooks", json=bad)
    assert response.status_code == 400
    assert store.webhooks() == []


def test_list_webhooks_omits_the_secret(store: SlackStore, client: Client) -> None:
    hook = store.create_webhook("project")
    response = client.get("/labkit/slack/webhooks")
    assert response.status_code == 200
    assert response.json == {"webhooks": [{
        "channel": "project",
        "team_id": "T0LOCAL01",
        "hook_id": hook.hook_id,
        "created_at": "2023-11-14T22:13:20.000100Z",
    }]}
    assert hook.secret not in body(response)


def test_secret_appears_only_in_the_create_answer(
    store: SlackStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="labkit.local.slack.app")
    clock = FakeClock()
    client = Client(make_slack_app(store, limiter=RateLimiter(rate=1.0, burst=1, clock=clock)))
    created = client.post("/labkit/slack/webhooks", json={"channel": "project"})
    hook = store.webhooks()[0]
    assert hook.secret in body(created)

    guess = hook.secret[::-1]  # a wrong secret may be someone's real one: never log it either
    wrong = f"/services/T0LOCAL01/{hook.hook_id}/{guess}"
    responses = [
        post_json(client, hook.path, {"text": "accepted"}),
        post_json(client, hook.path, {"text": "rate limited"}),
        post_json(client, hook.path, {}),
        client.post(hook.path, data=b"{", content_type="application/json"),
        post_json(client, wrong, {"text": "wrong secret"}),
        client.get("/api/messages"),
        client.get("/labkit/slack/webhooks"),
        client.get("/labkit/slack/settings"),
        client.get(hook.path),  # wrong method
        client.delete("/api/messages"),
    ]
    assert [r.status_code for r in responses[:5]] == [200, 429, 400, 400, 403]
    for response in responses:
        assert hook.secret not in body(response)
        assert hook.secret not in str(response.headers)
    assert caplog.records, "the app logs what it does"
    for record in caplog.records:
        assert hook.secret not in record.getMessage()
        assert guess not in record.getMessage()


def test_unknown_route_is_404(client: Client) -> None:
    assert client.get("/nothing/here").status_code == 404


# --------------------------------------------------------------------------------------------
# A real client over a real socket


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean (and free of webhook paths)


def test_slack_sdk_webhook_client_talks_to_the_local_slack(
    store: SlackStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slack_sdk.webhook import WebhookClient

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = make_server("127.0.0.1", 0, make_slack_app(store, rate_limit=False),
                         threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = store.create_webhook("project")
        base = f"http://127.0.0.1:{server.server_port}"

        sent = WebhookClient(base + hook.path, timeout=5).send(
            text="fallback", blocks=[{"type": "section",
                                      "text": {"type": "mrkdwn", "text": "*hello*"}}])
        assert (sent.status_code, sent.body) == (200, "ok")

        wrong = f"{base}/services/T0LOCAL01/{hook.hook_id}/{'x' * 24}"
        refused = WebhookClient(wrong, timeout=5).send(text="nope")
        assert (refused.status_code, refused.body) == (403, "invalid_token")
    finally:
        server.shutdown()
        thread.join(timeout=5)

    [message] = store.messages()
    assert message["text"] == "fallback"
    assert message["payload"]["blocks"][0]["text"]["text"] == "*hello*"
