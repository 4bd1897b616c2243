"""The local Slack: incoming webhooks that answer like Slack's, and a store of every message.

The lab's Lambda function posts to a webhook URL exactly as it would post to hooks.slack.com;
this WSGI application gives the same answers Slack gives, so the function's error handling is
exercised for real, and it keeps every accepted message so notebooks and tests can read them.

Slack's behaviour reproduced here, from Slack's documentation:

* "Sending messages using incoming webhooks" (https://api.slack.com/messaging/webhooks), its
  section "Handling errors", and the changelog "Improving error conditions for Incoming Webhooks"
  (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
  200 ``ok``; 400 ``invalid_payload`` when the body cannot be understood for its content type;
  400 ``no_text`` when there is nothing to show; 400 ``too_many_attachments`` above 100;
  404 ``no_service`` for a webhook that does not exist; 403 ``invalid_token`` for a bad secret.
  The answer is a bare word served as ``text/html``, not JSON.
* "Rate limits" (https://api.slack.com/docs/rate-limits), row "Posting messages": one message
  per second, short bursts above that allowed; beyond them HTTP 429 with a ``Retry-After``
  header giving whole seconds to wait. The local Slack counts per webhook.
* Block Kit ("Blocks" reference): at most 50 blocks a message, each an object with a ``type``;
  webhooks refuse anything else with 400 ``invalid_blocks``.

Besides the webhooks, the app serves a small JSON API for labkit: read and clear the stored
messages, create and list webhooks, switch rate limiting on and off, and plan faults per
webhook (see ``slack_faults.py``); its paths are in ``api.py``. It is meant to listen
on 127.0.0.1 only. People read a channel on its page, ``/channels/<channel>``, where messages
appear as Slack shows them, live (see ``channel_page.py``).

A webhook's secret is a bearer credential: only the create-webhook answer carries it; it never
appears in any other answer, in ``repr()`` or in this module's log records.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .api import FAULTS_PATH, MESSAGES_PATH, SETTINGS_PATH, WEBHOOKS_PATH
from .channel_page import ChannelPages
from .fault_plans import FaultBook, FaultSpecError, drop_connection, http_answer, parse_fault
from .store import SlackStore

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 100
MAX_BLOCKS = 50
RATE_PER_SECOND = 1.0
RATE_BURST = 3

# Slack channel names: lower-case letters, digits, hyphens and underscores, at most 80 long.
_CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")


# --------------------------------------------------------------------------------------------
# Rate limiting


class RateLimiter:
    """A token bucket per key: ``rate`` tokens a second, holding at most ``burst`` tokens.

    Slack allows "about one message per second" with short bursts; a token bucket is the
    simplest model of that. ``clock`` is injectable so tests can move time by hand.
    """

    def __init__(
        self,
        rate: float = RATE_PER_SECOND,
        burst: int = RATE_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until one is free."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def reset(self) -> None:
        """Forget every bucket, so each key starts again with a full burst."""
        with self._lock:
            self._buckets.clear()


def retry_after_seconds(wait: float) -> int:
    """The ``Retry-After`` value for a wait: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


# --------------------------------------------------------------------------------------------
# The WSGI application


class PayloadError(Exception):
    """A webhook request Slack would refuse: the HTTP status and Slack's error string."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def parse_webhook_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    """Read a webhook request's payload the way Slack does, or raise :class:`PayloadError`.

    Slack takes a JSON body, or a form-encoded body whose ``payload`` field holds the JSON.
    A JSON body sent with a form content type (curl's ``-d`` default) is accepted as well.
    """
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(400, "invalid_payload") from None
    raw = text
    if mimetype == "application/x-www-form-urlencoded":
        fields = parse_qs(text, keep_blank_values=True)
        if "payload" in fields:
            raw = fields["payload"][0]
    try:
        payload = json.loads(raw)
    except ValueError:
        raise PayloadError(400, "invalid_payload") from None
    if not isinstance(payload, dict):
        raise PayloadError(400, "invalid_payload")
    return payload


def check_message(payload: dict[str, Any]) -> None:
    """Raise :class:`PayloadError` when Slack would refuse this message's content."""
    text = payload.get("text")
    blocks = payload.get("blocks")
    attachments = payload.get("attachments")
    if text is not None and not isinstance(text, str):
        raise PayloadError(400, "invalid_payload")
    if attachments is not None and not isinstance(attachments, list):
        raise PayloadError(400, "invalid_payload")
    if blocks is not None and not _valid_blocks(blocks):
        raise PayloadError(400, "invalid_blocks")
    if attachments and len(attachments) > MAX_ATTACHMENTS:
        raise PayloadError(400, "too_many_attachments")
    if not (text and text.strip()) and not blocks and not attachments:
        raise PayloadError(400, "no_text")


def _valid_blocks(blocks: Any) -> bool:
    return (
        isinstance(blocks, list)
        and len(blocks) <= MAX_BLOCKS
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    )


def _slack_answer(status: int, body: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    # Slack answers webhooks with a bare word served as text/html (not JSON).
    return Response(body, status=status, content_type="text/html", headers=list(headers))


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def scaled_clock(scale: float,
                 clock: Callable[[], float] | None = None) -> Callable[[], float]:
    """A clock running ``1 / scale`` times faster than *clock* (default ``time.monotonic``)."""
    if scale == 1.0:
        return clock or time.monotonic
    return lambda: (clock or time.monotonic)() / scale


class SlackApp:
    """The local Slack as a WSGI application over a :class:`SlackStore`."""

    def __init__(self, store: SlackStore, *, rate_limit: bool = True,
                 limiter: RateLimiter | None = None, wait_scale: float = 1.0) -> None:
        self.store = store
        self.rate_limit = rate_limit
        # With waits shortened, a second of the rate limit passes as fast as a second of the
        # sender's sleep after Retry-After does, so a 429 lasts exactly as long for both.
        self.limiter = limiter or RateLimiter(clock=scaled_clock(wait_scale))
        self.faults = FaultBook()
        self.pages = ChannelPages(store)
        self.url_map = Map([
            *self.pages.rules(),  # /channels/<channel>: the channel page, see channel_page.py
            Rule("/services/<team>/<hook>/<secret>", endpoint="webhook", methods=["POST"]),
            # Any other shape under /services/ is a webhook that does not exist, as on Slack.
            Rule("/services/<path:rest>", endpoint="no_service", methods=["POST"]),
            # labkit's JSON API (its paths: api.py).
            Rule(MESSAGES_PATH, endpoint="list_messages", methods=["GET"]),
            Rule(MESSAGES_PATH, endpoint="clear_messages", methods=["DELETE"]),
            Rule(WEBHOOKS_PATH, endpoint="create_webhook", methods=["POST"]),
            Rule(WEBHOOKS_PATH, endpoint="list_webhooks", methods=["GET"]),
            Rule(SETTINGS_PATH, endpoint="get_settings", methods=["GET"]),
            Rule(SETTINGS_PATH, endpoint="set_settings", methods=["POST"]),
            Rule(FAULTS_PATH, endpoint="list_faults", methods=["GET"]),
            Rule(FAULTS_PATH, endpoint="add_fault", methods=["POST"]),
            Rule(FAULTS_PATH, endpoint="clear_faults", methods=["DELETE"]),
        ])

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            # The channel page's rules name their views directly; the others by method name.
            view = endpoint if callable(endpoint) else getattr(self, f"on_{endpoint}")
            response = view(request, **args)
        except HTTPException as exc:
            # werkzeug's own 404/405 pages; they never echo the request path.
            response = exc.get_response(environ)
        return response(environ, start_response)

    # -- incoming webhooks ----------------------------------------------------------------

    def on_webhook(self, request: Request, team: str, hook: str, secret: str) -> Response:
        webhook = self.store.find(hook)
        if webhook is None or webhook.team_id != team:
            return _slack_answer(404, "no_service")
        if not hmac.compare_digest(webhook.secret.encode(), secret.encode()):
            log.info("refused a post to %s with a wrong secret", webhook.hook_id)
            return _slack_answer(403, "invalid_token")
        fault = self.faults.take(webhook.channel)  # a misbehaviour planned by a test or learner
        if fault is not None:
            log.info("fault on %s: %s", webhook.hook_id, fault.describe())
            if fault.kind == "drop":
                drop_connection(request.environ)
            if fault.kind == "delay":
                # Not shortened: a slow answer is work the sender waits for with its HTTP
                # timeout, which no scale shortens, so it must keep its real length.
                time.sleep(fault.delay_ms / 1000)
            else:
                return _slack_answer(*http_answer(fault))  # type: ignore[misc]
        try:
            payload = parse_webhook_body(request.content_type, request.get_data())
            check_message(payload)
        except PayloadError as exc:
            log.info("refused a post to %s: %s", webhook.hook_id, exc.error)
            return _slack_answer(exc.status, exc.error)
        # Only acceptable messages count against the rate, so a learner's malformed tries do
        # not make the next good message wait.
        if self.rate_limit:
            wait = self.limiter.acquire(webhook.hook_id)
            if wait > 0:
                seconds = retry_after_seconds(wait)
                log.info("rate limited %s for %d s", webhook.hook_id, seconds)
                return _slack_answer(429, "rate_limited", [("Retry-After", str(seconds))])
        record = self.store.add_message(webhook, payload)
        log.info("message %d to #%s via %s", record["id"], webhook.channel, webhook.hook_id)
        return _slack_answer(200, "ok")

    def on_no_service(self, request: Request, rest: str) -> Response:
        return _slack_answer(404, "no_service")

    # -- messages API -----------------------------------------------------------------------

    def on_list_messages(self, request: Request) -> Response:
        channel = request.args.get("channel") or None
        after = request.args.get("after", "0") or "0"
        try:
            after_id = int(after)
        except ValueError:
            return _json({"error": "after must be an integer message id"}, 400)
        return _json({"messages": self.store.messages(channel=channel, after_id=after_id)})

    def on_clear_messages(self, request: Request) -> Response:
        return _json({"cleared": self.store.clear()})

    # -- labkit control -----------------------------------------------------------------------

    def on_create_webhook(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        channel = body.get("channel") if isinstance(body, dict) else None
        if isinstance(channel, str):
            channel = channel.removeprefix("#")
        if not isinstance(channel, str) or not _CHANNEL_NAME.fullmatch(channel):
            return _json({
                "error": "channel must be a Slack channel name: lower-case letters, digits, "
                         "'-' and '_', at most 80 characters",
            }, 400)
        webhook = self.store.create_webhook(channel)
        # The only answer that carries the secret: this is how labkit learns the webhook URL.
        return _json({
            "channel": webhook.channel,
            "team_id": webhook.team_id,
            "hook_id": webhook.hook_id,
            "path": webhook.path,
        })

    def on_list_webhooks(self, request: Request) -> Response:
        return _json({"webhooks": [w.public_info() for w in self.store.webhooks()]})

    def on_get_settings(self, request: Request) -> Response:
        return _json({"rate_limit": self.rate_limit})

    def on_set_settings(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        value = body.get("rate_limit") if isinstance(body, dict) else None
        if not isinstance(value, bool):
            return _json({"error": 'expected {"rate_limit": true|false}'}, 400)
        if value and not self.rate_limit:
            self.limiter.reset()  # switching back on starts every webhook with a full burst
        self.rate_limit = value
        return _json({"rate_limit": self.rate_limit})

    # -- fault plans (see slack_faults) --------------------------------------------------------

    def on_list_faults(self, request: Request) -> Response:
        plans = self.faults.plans(request.args.get("channel") or None)
        hooks = {w.channel: w.hook_id for w in self.store.webhooks()}
        return _json({"faults": [{"channel": channel, "hook_id": hooks.get(channel),
                                  **fault.to_json(), "description": fault.describe()}
                                 for channel, plan in plans.items() for fault in plan]})

    def on_add_fault(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        channel = body.get("channel") if isinstance(body, dict) else None
        channel = channel.removeprefix("#") if isinstance(channel, str) else ""
        if not _CHANNEL_NAME.fullmatch(channel):
            return _json({"error": "channel must be a Slack channel name"}, 400)
        try:
            fault = parse_fault(body)  # type: ignore[arg-type]
        except FaultSpecError as exc:
            return _json({"error": str(exc)}, 400)
        plan = self.faults.add(channel, fault)
        return _json({"channel": channel, "faults": [f.to_json() for f in plan]})

    def on_clear_faults(self, request: Request) -> Response:
        return _json({"cleared": self.faults.clear(request.args.get("channel") or None)})


def make_slack_app(store: SlackStore, *, rate_limit: bool = True,
                   limiter: RateLimiter | None = None, wait_scale: float = 1.0) -> SlackApp:
    """Build the local Slack WSGI application over ``store``.

    ``rate_limit`` starts with Slack's per-webhook rate limit on or off (it can be switched at
    run time by a POST to ``api.SETTINGS_PATH``); ``limiter`` replaces the default
    one-per-second token bucket, e.g. with one on a fake clock in tests; ``wait_scale``
    (``LABKIT_WAIT_SCALE``, see ``waits.py``) shortens the default bucket's seconds.
    """
    return SlackApp(store, rate_limit=rate_limit, limiter=limiter, wait_scale=wait_scale)
