"""The local Slack's channel page: its pieces, its routes and its event stream.

A real browser shows the page in tests/browser/test_channel_page.py; these tests pin down what
the server sends it.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import timezone

import pytest
from werkzeug.test import Client

from labkit.local.slack.channel_page import (
    ChannelPages,
    content_security_policy,
    page_url,
    render_index,
    render_message,
    render_page,
    resume_after,
    sse_event,
)
from labkit.local.slack.app import make_slack_app
from labkit.local.slack.store import SlackStore
from labkit.show.slack_preview import render_html

FIXED_NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
# A made-up webhook URL in the shape secret scanners look for (ids used for test data only).
FAKE_WEBHOOK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXwx"


@pytest.fixture
def store() -> SlackStore:
    return SlackStore(clock=lambda: FIXED_NOW)


def post(store: SlackStore, channel: str, payload: dict) -> dict:
    return store.add_message(store.create_webhook(channel), payload)


# --------------------------------------------------------------------------------------------
# Pure pieces


@pytest.mark.parametrize(("base", "channel", "expected"), [
    ("http://127.0.0.1:4751", "project", "http://127.0.0.1:4751/channels/project"),
    ("http://127.0.0.1:4751/", "project", "http://127.0.0.1:4751/channels/project"),
    ("http://127.0.0.1:4751", "#project", "http://127.0.0.1:4751/channels/project"),
    ("https://127.0.0.1:4752", "kim_alerts-2", "https://127.0.0.1:4752/channels/kim_alerts-2"),
    ("", "a/b c", "/channels/a%2Fb%20c"),
])
def test_page_url(base: str, channel: str, expected: str) -> None:
    assert page_url(base, channel) == expected


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"data": "x"}, "data: x\n\n"),
    ({"data": "x", "event": "hello"}, "event: hello\ndata: x\n\n"),
    ({"data": "x", "event": "message", "event_id": 7}, "id: 7\nevent: message\ndata: x\n\n"),
    ({"data": "a\nb"}, "data: a\ndata: b\n\n"),
    ({"data": "x", "retry_ms": 1000}, "retry: 1000\ndata: x\n\n"),
    ({"data": "", "event": "hello"}, "event: hello\ndata: \n\n"),
])
def test_sse_event(kwargs: dict, expected: str) -> None:
    assert sse_event(**kwargs) == expected


@pytest.mark.parametrize(("after", "last_event_id", "expected"), [
    (None, None, 0),
    ("5", None, 5),
    ("5", "9", 9),  # a reconnecting browser knows better than the URL it first opened
    (None, "9", 9),
    ("5", "junk", 5),
    ("-3", None, 0),
    ("abc", None, 0),
    ("", "", 0),
    (" 4 ", None, 4),
])
def test_resume_after(after: str | None, last_event_id: str | None, expected: int) -> None:
    assert resume_after(after, last_event_id) == expected


def test_a_message_is_slacks_picture_in_an_article_with_its_id_and_ts(store) -> None:
    message = post(store, "project", {"text": "*CPU* high <!channel>"})
    html_text = render_message(message, tz=timezone.utc)
    picture = render_html(message["payload"], app_name="Lab Alerts", when=message["ts"],
                          tz=timezone.utc)
    assert html_text == (f'<article class="message" id="m{message["id"]}" '
                         f'data-id="{message["id"]}" data-ts="{message["ts"]}">{picture}'
                         "</article>")
    assert "<b>CPU</b>" in html_text and "@channel" in html_text
    assert ">10:13 PM</span>" in html_text


def test_the_time_is_marked_for_the_page_with_the_full_date_as_tooltip(store) -> None:
    # The page rewrites the marked time in the viewer's zone; the tooltip is Slack's full date.
    message = post(store, "project", {"text": "hi"})
    html_text = render_message(message, tz=timezone.utc)
    assert '<span class="labkit-slack-time" title="Nov 14, 2023 at 10:13 PM"' in html_text


def test_a_webhook_url_inside_a_message_is_masked(store) -> None:
    message = post(store, "project", {"text": f"oops: <{FAKE_WEBHOOK}|our hook> {FAKE_WEBHOOK}",
                                      "attachments": [{"title": "t", "title_link": FAKE_WEBHOOK}]})
    html_text = render_message(message)
    assert "XXXXXXXXXXXXXXXXXXXXXXwx" not in html_text
    # Two links (the text's and the title's) and the bare URL in the text.
    assert html_text.count("/services/T00000000/B00000000/••••wx") == 3


def test_the_page_holds_the_messages_and_resumes_after_the_newest(store) -> None:
    first = post(store, "project", {"text": "first"})
    second = post(store, "project", {"text": "second", "attachments": [{"color": "danger",
                                                                        "text": "bar"}]})
    page = render_page("project", [first, second], instance="inst01", nonce="n0nce",
                       tz=timezone.utc)
    assert page.index('id="m1"') < page.index('id="m2"')
    assert f'data-after="{second["id"]}"' in page
    assert 'data-events="/channels/project/events"' in page
    assert 'data-instance="inst01"' in page
    assert '<script nonce="n0nce">' in page
    assert '<div id="empty" hidden>' in page
    assert 'class="labkit-slack-bar" style="flex:none;width:4px;border-radius:8px;' \
           'background:#a30200"' in page


def test_an_empty_channel_says_how_messages_get_there() -> None:
    page = render_page("project", [], instance="i", nonce="n")
    assert 'data-after="0"' in page
    assert '<div id="empty">No messages yet.' in page


def test_a_channel_name_cannot_inject_markup() -> None:
    evil = '"><script>alert(1)</script>'
    page = render_page(evil, [], instance="i", nonce="n")
    assert "<script>alert(1)" not in page
    assert len(re.findall(r"<script", page)) == 1  # the page's own, with its nonce
    assert "&lt;script&gt;" in page
    index = render_index([evil])
    assert "<script" not in index


def test_the_index_links_every_channel() -> None:
    page = render_index(["project", "kim-alerts"])
    assert re.findall(r'href="([^"]+)"', page) == ["/channels/project", "/channels/kim-alerts"]
    assert "No channel" in render_index([])


def test_content_security_policy_runs_only_the_nonced_script() -> None:
    policy = content_security_policy("abc")
    assert "script-src 'nonce-abc'" in policy
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy and "script-src 'unsafe-inline'" not in policy
    assert "script-src 'none'" in content_security_policy(None)


# --------------------------------------------------------------------------------------------
# The store's wait


def test_wait_for_messages_returns_at_once_when_some_are_there(store) -> None:
    message = post(store, "project", {"text": "hi"})
    assert store.wait_for_messages("project", 0, timeout=60) == [message]


def test_wait_for_messages_gives_up_empty_after_its_timeout(store) -> None:
    post(store, "other", {"text": "not this channel"})
    assert store.wait_for_messages("project", 0, timeout=0.01) == []


def test_wait_for_messages_wakes_when_a_message_arrives(store) -> None:
    webhook = store.create_webhook("project")
    posted = threading.Event()
    got: list = []

    def waiter() -> None:
        posted.set()
        got.extend(store.wait_for_messages("project", 0, timeout=60))

    thread = threading.Thread(target=waiter)
    thread.start()
    posted.wait()
    store.add_message(webhook, {"text": "wake up"})
    thread.join()
    assert [m["text"] for m in got] == ["wake up"]


# --------------------------------------------------------------------------------------------
# Routes of the local Slack app


@pytest.fixture
def client(store: SlackStore) -> Client:
    return Client(make_slack_app(store, rate_limit=False))


def test_the_page_route_serves_the_channels_messages_only(store, client) -> None:
    post(store, "project", {"text": "for project"})
    post(store, "other", {"text": "for other"})
    response = client.get("/channels/project")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "for project" in page and "for other" not in page
    nonce = re.search(r'<script nonce="([^"]+)">', page).group(1)
    assert f"'nonce-{nonce}'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_each_page_gets_its_own_nonce(client) -> None:
    policies = {client.get("/channels/project").headers["Content-Security-Policy"]
                for _ in range(3)}
    assert len(policies) == 3


def test_the_index_route_lists_channels_with_webhooks(store, client) -> None:
    store.create_webhook("project")
    response = client.get("/channels")
    assert 'href="/channels/project"' in response.get_data(as_text=True)
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]


def test_the_events_route_is_an_event_stream(store, client) -> None:
    post(store, "project", {"text": "one"})
    response = client.get("/channels/project/events?after=0", buffered=False)
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    chunks = response.iter_encoded()
    assert next(chunks).startswith(b"retry: 1000\nevent: hello\n")
    assert b"id: 1\nevent: message\n" in next(chunks)
    response.close()


def test_the_other_routes_still_answer(client) -> None:
    assert client.get("/api/messages").status_code == 200
    assert client.post("/services/T0LOCAL01/B0NOPE/x", json={"text": "x"}).status_code == 404


# --------------------------------------------------------------------------------------------
# The stream


def frames(chunk: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in chunk.strip().split("\n"))


def test_the_stream_says_hello_then_sends_new_messages_of_its_channel(store) -> None:
    pages = ChannelPages(store, keepalive=60, tz=timezone.utc)
    stream = pages.stream("project", after_id=0)
    hello = frames(next(stream))
    assert hello == {"retry": "1000", "event": "hello", "data": pages.instance}

    post(store, "other", {"text": "elsewhere"})
    message = post(store, "project", {"text": "*here*", "attachments": [{"color": "good"}]})
    event = frames(next(stream))
    assert event["id"] == str(message["id"])
    assert event["event"] == "message"
    data = json.loads(event["data"])
    assert data == {"id": message["id"], "html": render_message(message, tz=timezone.utc)}


def test_the_stream_resumes_after_the_given_id(store) -> None:
    first = post(store, "project", {"text": "seen"})
    second = post(store, "project", {"text": "not yet seen"})
    stream = ChannelPages(store, keepalive=60).stream("project", after_id=first["id"])
    next(stream)  # hello
    assert json.loads(frames(next(stream))["data"])["id"] == second["id"]


def test_the_stream_sends_a_keepalive_comment_when_nothing_arrives(store) -> None:
    stream = ChannelPages(store, keepalive=0.01).stream("project", after_id=0)
    next(stream)
    assert next(stream) == ": keep-alive\n\n"


def test_a_new_local_slack_has_a_new_instance_id(store) -> None:
    # A page compares it with the one it was served by, to notice a restarted local cloud.
    assert ChannelPages(store).instance != ChannelPages(store).instance
