"""The local Slack's channel pages: a channel's messages as Slack shows them, arriving live.

Routes, served by the local Slack on both its ports (http and https):

* ``GET /channels`` lists the channels that have a webhook, each linking to its page.
* ``GET /channels/<channel>`` shows every stored message of the channel, rendered by
  :mod:`labkit.show.slack_preview` (the same picture as the notebooks' previews), and a small script
  that appends new messages as they arrive, without reloading.
* ``GET /channels/<channel>/events`` is that script's feed: Server-Sent Events, one ``message``
  event per new message carrying its id and rendered HTML.

Why Server-Sent Events rather than polling: the local Slack runs on werkzeug's threaded server,
where a response held open costs one thread and nothing more, while a page polling twice a second
would add two lines a second to the local cloud's log. A stream waits on the store
(:meth:`SlackStore.wait_for_messages`), so a message shows as soon as it is stored. The browser's
``EventSource`` reconnects by itself and sends the last id it saw (``Last-Event-ID``), so a
dropped connection loses nothing. A comment every ``keepalive`` seconds makes a stream notice a
closed tab (the write fails) and free its thread.

A restarted local cloud numbers messages from 1 again, so ids alone would hide its new messages
from an open page. Every stream therefore starts with a ``hello`` event naming this local
Slack's instance; a page that was served by another instance reloads itself.

Safety: every piece of payload text is escaped by the renderer, webhook URLs inside messages are
masked, and the page's Content-Security-Policy runs only its own script (by nonce), so even a
renderer bug could not run a payload's script.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Iterator
from datetime import tzinfo
from string import Template
from typing import Any
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ...masking import mask_secrets
from ...show.slack_preview import render_html
from .store import SlackStore

KEEPALIVE_SECONDS = 15.0
# How long the browser waits before reconnecting a dropped stream (its default is about 3 s).
RECONNECT_MS = 1000
APP_NAME = "Lab Alerts"


# --------------------------------------------------------------------------------------------
# Pure pieces


def page_url(base_url: str, channel: str) -> str:
    """The address of *channel*'s page on the local Slack at *base_url* (``http://host:port``)."""
    return f"{base_url.rstrip('/')}/channels/{quote(channel.removeprefix('#'), safe='')}"


def sse_event(data: str, *, event: str = "", event_id: int | None = None,
              retry_ms: int | None = None) -> str:
    """One Server-Sent Events frame: optional ``retry``, ``id`` and ``event`` lines, the data.

    Data spanning several lines is sent as several ``data:`` lines, which the browser joins
    back with newlines.
    """
    lines = []
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def _message_id(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def resume_after(after: str | None, last_event_id: str | None) -> int:
    """The message id a stream starts after.

    ``Last-Event-ID`` (sent by a reconnecting browser) wins over the ``after`` query parameter
    (the newest id the page had when it opened the stream); anything that is not a
    non-negative integer counts as absent, and absent means from the start.
    """
    for value in (last_event_id, after):
        parsed = _message_id(value)
        if parsed is not None:
            return parsed
    return 0


def render_message(message: dict[str, Any], *, tz: tzinfo | None = None) -> str:
    """One stored message as the page shows it: Slack's picture in an ``<article>``.

    The article carries the message's id (for the page to skip duplicates) and its Slack ``ts``
    (for the page to show the time in the viewer's zone). Webhook URLs are masked: a message may
    quote one, and the page must not show it.
    """
    picture = render_html(message.get("payload") or {}, app_name=APP_NAME,
                          when=message.get("ts"), tz=tz)
    return (f'<article class="message" id="m{int(message["id"])}" '
            f'data-id="{int(message["id"])}" data-ts="{html.escape(str(message.get("ts", "")))}">'
            f"{mask_secrets(picture)}</article>")


def event_for(message: dict[str, Any], *, tz: tzinfo | None = None) -> str:
    """The ``message`` event that brings *message* to an open page."""
    data = json.dumps({"id": message["id"], "html": render_message(message, tz=tz)})
    return sse_event(data, event="message", event_id=message["id"])


_STYLE = """
body { margin: 0; font-family: Slack-Lato, Lato, 'Helvetica Neue', Helvetica, 'Segoe UI',
       Arial, sans-serif; color: #1d1c1d; background: #ffffff; }
header { position: sticky; top: 0; z-index: 1; display: flex; align-items: center; gap: 12px;
         padding: 10px 20px; background: #ffffff; border-bottom: 1px solid #dddddd; }
header h1 { margin: 0; font-size: 18px; font-weight: 900; }
header .note { color: #616061; font-size: 13px; }
#status { margin-left: auto; font-size: 12px; border-radius: 10px; padding: 2px 8px;
          color: #616061; background: #f0f0f0; }
#status.live { color: #ffffff; background: #2eb67d; }
main { padding: 8px 4px 24px; }
#empty { color: #616061; padding: 24px 16px; }
/* In a channel Slack draws messages flat, one under the other, not as cards. */
.message .labkit-slack-preview { border-color: transparent !important; max-width: none !important;
                                 border-radius: 0 !important; }
.message:hover .labkit-slack-preview { background: #f8f8f8 !important; }
ul.channels { font-size: 16px; line-height: 2; }
a { color: #1264a3; }
"""

# Appends what the stream sends; no server data is spliced into it (it reads data- attributes).
_SCRIPT = """
(function () {
  "use strict";
  var list = document.getElementById("messages");
  var status = document.getElementById("status");
  var empty = document.getElementById("empty");
  var lastId = Number(list.dataset.after) || 0;

  // Slack shows times in the viewer's zone; the local cloud may run in another one.
  function localTime(article) {
    var shown = article.querySelector(".labkit-slack-time");
    var seconds = parseFloat(article.dataset.ts);
    if (!shown || isNaN(seconds)) { return; }
    var when = new Date(seconds * 1000);
    shown.textContent = when.toLocaleTimeString([], {hour: "numeric", minute: "2-digit"})
      .replace(/\\s/g, " ");
    shown.title = when.toLocaleString();
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
  }

  function add(message) {
    if (message.id <= lastId || document.getElementById("m" + message.id)) { return; }
    var follow = nearBottom();
    var holder = document.createElement("div");
    holder.innerHTML = message.html;  // rendered by the local Slack, payload text escaped
    var article = holder.firstElementChild;
    localTime(article);
    list.appendChild(article);
    lastId = message.id;
    empty.hidden = true;
    if (follow) { article.scrollIntoView({block: "end"}); }
  }

  function setStatus(text, live) {
    status.textContent = text;
    status.className = live ? "live" : "";
  }

  function connect() {
    var source = new EventSource(list.dataset.events + "?after=" + lastId);
    source.onopen = function () { setStatus("live", true); };
    source.addEventListener("hello", function (event) {
      // Another local Slack (the cloud was restarted): its ids start again from 1.
      if (event.data !== list.dataset.instance) { window.location.reload(); }
    });
    source.addEventListener("message", function (event) { add(JSON.parse(event.data)); });
    source.onerror = function () {
      setStatus("reconnecting\\u2026", false);
      // The browser retries a dropped stream itself, but gives up on an error answer.
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 3000); }
    };
  }

  document.querySelectorAll("article[data-ts]").forEach(localTime);
  window.scrollTo(0, document.documentElement.scrollHeight);
  connect();
})();
"""

_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>#$channel · local Slack</title>
<style>$style</style>
</head>
<body>
<header><h1>#$channel</h1><span class="note">local Slack: messages appear here as they
arrive</span><span id="status">connecting…</span></header>
<main>
<div id="messages" data-events="$events" data-after="$after" data-instance="$instance">
$messages</div>
<div id="empty"$empty_hidden>No messages yet. Post to the channel's webhook: they appear here
without reloading the page.</div>
</main>
<script nonce="$nonce">$script</script>
</body>
</html>
""")

_INDEX = Template("""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>local Slack</title><style>$style</style></head>
<body>
<header><h1>local Slack</h1><span class="note">channels with a webhook</span></header>
<main>$body</main>
</body>
</html>
""")


def render_page(channel: str, messages: list[dict[str, Any]], *, instance: str, nonce: str,
                tz: tzinfo | None = None) -> str:
    """The whole channel page: *messages* (oldest first) and the script that adds new ones."""
    after = messages[-1]["id"] if messages else 0
    return _PAGE.substitute(
        channel=html.escape(channel),
        style=_STYLE,
        events=html.escape(f"/channels/{quote(channel, safe='')}/events"),
        after=int(after),
        instance=html.escape(instance),
        messages="\n".join(render_message(m, tz=tz) for m in messages),
        empty_hidden=" hidden" if messages else "",
        nonce=html.escape(nonce),
        script=_SCRIPT,
    )


def render_index(channels: list[str]) -> str:
    """The list of channels, each linking to its page."""
    if channels:
        items = "".join(f'<li><a href="{html.escape(page_url("", c))}">#{html.escape(c)}</a></li>'
                        for c in channels)
        body = f'<ul class="channels">{items}</ul>'
    else:
        body = ('<p id="empty">No channel has a webhook yet: notebook 01 makes one '
                "(<code>lab.webhook()</code>).</p>")
    return _INDEX.substitute(style=_STYLE, body=body)


def content_security_policy(nonce: str | None) -> str:
    """Only the page's own script runs (none without a nonce), it may only talk to this server,
    and nothing else loads."""
    scripts = f"'nonce-{nonce}'" if nonce else "'none'"
    return (f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'")


# --------------------------------------------------------------------------------------------
# The routes


class ChannelPages:
    """The channel pages of one local Slack; its WSGI app serves :meth:`rules`."""

    def __init__(self, store: SlackStore, *, keepalive: float = KEEPALIVE_SECONDS,
                 tz: tzinfo | None = None) -> None:
        self.store = store
        self.keepalive = keepalive
        self.tz = tz
        self.instance = secrets.token_hex(8)

    def rules(self) -> list[Rule]:
        """The routing rules; their endpoints are this object's views."""
        return [
            Rule("/channels", endpoint=self.on_index, methods=["GET"]),
            Rule("/channels/<channel>", endpoint=self.on_page, methods=["GET"]),
            Rule("/channels/<channel>/events", endpoint=self.on_events, methods=["GET"]),
        ]

    def on_index(self, request: Request) -> Response:
        channels = [w.channel for w in self.store.webhooks()]
        return self._html(render_index(channels))

    def on_page(self, request: Request, channel: str) -> Response:
        nonce = secrets.token_urlsafe(16)
        page = render_page(channel, self.store.messages(channel=channel),
                           instance=self.instance, nonce=nonce, tz=self.tz)
        return self._html(page, nonce)

    def on_events(self, request: Request, channel: str) -> Response:
        after = resume_after(request.args.get("after"), request.headers.get("Last-Event-ID"))
        return Response(self.stream(channel, after), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache"})

    def stream(self, channel: str, after_id: int) -> Iterator[str]:
        """The event stream of one open page: hello, then each new message, forever."""
        yield sse_event(self.instance, event="hello", retry_ms=RECONNECT_MS)
        while True:
            messages = self.store.wait_for_messages(channel, after_id, self.keepalive)
            if not messages:
                yield ": keep-alive\n\n"
                continue
            for message in messages:
                yield event_for(message, tz=self.tz)
            after_id = messages[-1]["id"]

    @staticmethod
    def _html(page: str, nonce: str | None = None) -> Response:
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = content_security_policy(nonce)
        return response
