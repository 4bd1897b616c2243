"""Fault plans for the local Slack: make a webhook misbehave on purpose, as Slack sometimes does.

Real Slack rate-limits (HTTP 429 with ``Retry-After``), has outages (HTTP 5xx), answers slowly,
and now and then a connection breaks before any answer. The lab's function is written to
survive all of these; a fault plan lets a learner (or a test) watch it do so.

A plan is a queue of faults per channel (the local Slack has one webhook per channel). Each
request to the channel's webhook takes the fault at the head of the queue:

* ``429``: answer 429 ``rate_limited`` with ``Retry-After: <retry_after>`` (whole seconds);
* ``500``: answer 500 ``internal_error`` (Slack's trouble, worth retrying);
* ``delay``: wait ``delay_ms`` milliseconds, then handle the request normally. A delay longer
  than the sender's timeout makes the sender give up although the message is posted, exactly
  as on Slack: a retry then posts it twice;
* ``drop``: close the connection without any HTTP answer (the sender sees a connection error).

A fault lasts for ``count`` requests, or for every request when ``count`` is ``None``
(Slack "down for good", for the dead-letter case); the next fault in the queue starts when it
is used up. This module is the plans' logic (validation, the queue) plus the one call that
drops a connection under werkzeug's server; ``slack.py`` applies them to webhook requests.

Its texts (errors, descriptions) come from the catalogue in the current language. labkit checks
a fault in the learner's kernel before sending it, so a learner reads them in the lab's
language; the local Slack's own process keeps the default, English, for its API answers.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, NoReturn

from ...i18n import t

KINDS = ("429", "500", "delay", "drop")
MAX_COUNT = 10_000
MAX_RETRY_AFTER = 3600  # seconds
MAX_DELAY_MS = 60_000  # a longer wait only ties up a server thread
DEFAULT_RETRY_AFTER = 1
DEFAULT_DELAY_MS = 1000

RATE_LIMITED_BODY = "rate_limited"  # Slack's own word for a 429
SERVER_ERROR_BODY = "internal_error"


class FaultSpecError(ValueError):
    """A fault that cannot be planned; the message says what is wrong and what is allowed."""


@dataclass(frozen=True)
class Fault:
    """One fault of a plan. ``count`` is how many more requests it affects (None: all)."""

    kind: str
    count: int | None = 1
    retry_after: int = DEFAULT_RETRY_AFTER
    delay_ms: int = DEFAULT_DELAY_MS

    @property
    def permanent(self) -> bool:
        """True when the fault never wears off (every request gets it)."""
        return self.count is None

    def to_json(self) -> dict[str, Any]:
        """The fault as JSON, with only the settings its kind uses."""
        data = asdict(self)
        if self.kind != "429":
            del data["retry_after"]
        if self.kind != "delay":
            del data["delay_ms"]
        return data

    def describe(self) -> str:
        """One line for people: ``429 (Retry-After 1 s) for the next 3 requests``."""
        if self.kind == "429":
            what = t("faults.describe.429", seconds=self.retry_after)
        elif self.kind == "delay":
            what = t("faults.describe.delay", ms=self.delay_ms)
        elif self.kind == "drop":
            what = t("faults.describe.drop")
        else:
            what = f"500 {SERVER_ERROR_BODY}"  # a status and Slack's word: never translated
        if self.count is None:
            return t("faults.describe.every_request", what=what)
        if self.count == 1:
            return t("faults.describe.next_request", what=what, count=self.count)
        return t("faults.describe.next_requests", what=what, count=self.count)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """The fault that :meth:`to_json` gave *data* (settings its kind does not use are
        left at their defaults)."""
        return cls(kind=str(data["kind"]), count=data.get("count"),
                   retry_after=data.get("retry_after", DEFAULT_RETRY_AFTER),
                   delay_ms=data.get("delay_ms", DEFAULT_DELAY_MS))


def _whole_number(data: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    # bool is an int in Python; "count": true is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultSpecError(t("faults.spec.whole_number", name=key, low=low, high=high,
                               value=repr(value)))
    return value


def parse_fault(data: Mapping[str, Any]) -> Fault:
    """The :class:`Fault` described by *data* (JSON from the admin route), or FaultSpecError.

    Keys: ``kind`` (one of :data:`KINDS`), ``count`` (requests, default 1) or ``always: true``
    (every request), ``retry_after`` (seconds, 429 only), ``delay_ms`` (delay only).
    """
    if not isinstance(data, Mapping):
        raise FaultSpecError(t("faults.spec.not_object", example='{"kind": "429", "count": 3}'))
    kind = str(data.get("kind", ""))
    if kind not in KINDS:
        raise FaultSpecError(t("faults.spec.kind", kinds=", ".join(KINDS),
                               value=repr(data.get("kind"))))
    unknown = set(data) - {"kind", "count", "always", "retry_after", "delay_ms", "channel"}
    if unknown:
        raise FaultSpecError(t("faults.spec.unknown", names=", ".join(sorted(unknown))))
    always = data.get("always", False)
    if not isinstance(always, bool):
        raise FaultSpecError(t("faults.spec.always", value=repr(always)))
    if always and data.get("count") is not None:
        raise FaultSpecError(t("faults.spec.count_or_always"))
    if kind != "429" and "retry_after" in data:
        raise FaultSpecError(t("faults.spec.retry_after_429"))
    if kind != "delay" and "delay_ms" in data:
        raise FaultSpecError(t("faults.spec.delay_ms_delay"))
    count = None if always else _whole_number(data, "count", 1, 1, MAX_COUNT)
    return Fault(kind=kind, count=count,
                 retry_after=_whole_number(data, "retry_after", DEFAULT_RETRY_AFTER, 0,
                                           MAX_RETRY_AFTER),
                 delay_ms=_whole_number(data, "delay_ms", DEFAULT_DELAY_MS, 1, MAX_DELAY_MS))


def take(queue: tuple[Fault, ...]) -> tuple[Fault | None, tuple[Fault, ...]]:
    """The fault the next request gets, and the queue after it: pure, for one request.

    The returned fault carries ``count=1`` (this request) or None (permanent). An empty queue
    gives ``(None, ())``: the request is served normally.
    """
    if not queue:
        return None, ()
    head, rest = queue[0], queue[1:]
    if head.count is None:
        return head, queue  # a permanent fault stays at the head; what follows never comes
    if head.count <= 1:
        return head, rest
    return replace(head, count=1), (replace(head, count=head.count - 1), *rest)


def http_answer(fault: Fault) -> tuple[int, str, list[tuple[str, str]]] | None:
    """(status, body, headers) a fault answers with, or None when it does not answer itself
    (``delay`` goes on to the normal answer; ``drop`` gives none at all)."""
    if fault.kind == "429":
        return 429, RATE_LIMITED_BODY, [("Retry-After", str(fault.retry_after))]
    if fault.kind == "500":
        return 500, SERVER_ERROR_BODY, []
    return None


class FaultBook:
    """Every channel's fault plan, safe to share between the server's threads."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[Fault, ...]] = {}
        self._lock = threading.Lock()

    def add(self, channel: str, fault: Fault) -> list[Fault]:
        """Queue *fault* after the channel's current ones; returns the channel's plan."""
        with self._lock:
            self._plans[channel] = (*self._plans.get(channel, ()), fault)
            return list(self._plans[channel])

    def take(self, channel: str) -> Fault | None:
        """The fault for one request to the channel's webhook (None: serve it normally)."""
        with self._lock:
            fault, rest = take(self._plans.get(channel, ()))
            if rest:
                self._plans[channel] = rest
            else:
                self._plans.pop(channel, None)
            return fault

    def plans(self, channel: str | None = None) -> dict[str, list[Fault]]:
        """The faults still to come, per channel (one channel's when *channel* is given)."""
        with self._lock:
            return {name: list(plan) for name, plan in self._plans.items()
                    if channel is None or name == channel}

    def clear(self, channel: str | None = None) -> int:
        """Forget the plan of *channel* (every plan when None); returns how many faults went."""
        with self._lock:
            names = [name for name in self._plans if channel is None or name == channel]
            return sum(len(self._plans.pop(name)) for name in names)


class ConnectionDropped(ConnectionAbortedError):
    """Raised after a connection was closed on purpose, so the server writes no answer."""


def drop_connection(environ: Mapping[str, Any]) -> NoReturn:
    """Close the request's connection without an HTTP answer (werkzeug's server only).

    werkzeug puts the client socket in ``environ["werkzeug.socket"]``. Shutting it down ends
    the TCP connection (for HTTPS, without TLS's close_notify either); raising a
    ``ConnectionError`` then makes werkzeug treat the request as a dropped connection and write
    nothing, as it does when a client hangs up.
    """
    try:
        # Read the body first: left unread, a keep-alive client's body would be taken by the
        # server for the next request line once this request returns.
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    except (KeyError, ValueError, OSError):
        pass
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client went away first: dropped either way
            pass
    raise ConnectionDropped("connection dropped by a fault plan")
