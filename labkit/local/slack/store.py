"""The local Slack's store: its incoming webhooks and every message they accepted, in memory.

The web application (``app.py``) writes to it; the channel pages (``channel_page.py``) and the
JSON API read it. It knows nothing of HTTP.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

TEAM_ID = "T0LOCAL01"

_HOOK_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Webhook:
    """One incoming webhook of the local Slack, bound to one channel."""

    team_id: str
    hook_id: str
    secret: str = field(repr=False)  # kept out of repr() so it never lands in a log or a traceback
    channel: str
    created_at: str

    @property
    def path(self) -> str:
        """The URL path that posts to this webhook (it contains the secret)."""
        return f"/services/{self.team_id}/{self.hook_id}/{self.secret}"

    def public_info(self) -> dict[str, str]:
        """What may be shown about this webhook to anyone: everything but the secret."""
        return {
            "channel": self.channel,
            "team_id": self.team_id,
            "hook_id": self.hook_id,
            "created_at": self.created_at,
        }


def _iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


class SlackStore:
    """Webhooks and messages of the local Slack, in memory, safe to share between threads.

    ``clock`` gives wall-clock seconds since the epoch (for message timestamps); tests inject
    a fixed one.
    """

    def __init__(self, *, team_id: str = TEAM_ID, clock: Callable[[], float] = time.time) -> None:
        self.team_id = team_id
        self._clock = clock
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # wakes wait_for_messages()
        self._by_channel: dict[str, Webhook] = {}
        self._by_hook_id: dict[str, Webhook] = {}
        self._messages: list[dict[str, Any]] = []
        self._next_id = 1
        self._last_ts_micros = 0

    def create_webhook(self, channel: str) -> Webhook:
        """Return the channel's webhook, creating it on first use (one per channel).

        Re-running a notebook therefore gets the same URL back, as long as the process lives.
        """
        with self._lock:
            existing = self._by_channel.get(channel)
            if existing is not None:
                return existing
            hook_id = self._new_hook_id()
            webhook = Webhook(
                team_id=self.team_id,
                hook_id=hook_id,
                secret="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(24)),
                channel=channel,
                created_at=_iso_utc(self._clock()),
            )
            self._by_channel[channel] = webhook
            self._by_hook_id[hook_id] = webhook
            return webhook

    def _new_hook_id(self) -> str:
        while True:  # a collision in 36**10 is unlikely, but cheap to rule out
            hook_id = "B" + "".join(secrets.choice(_HOOK_ALPHABET) for _ in range(10))
            if hook_id not in self._by_hook_id:
                return hook_id

    def webhooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        with self._lock:
            return list(self._by_channel.values())

    def find(self, hook_id: str) -> Webhook | None:
        """The webhook with this hook id, or None."""
        with self._lock:
            return self._by_hook_id.get(hook_id)

    def add_message(self, webhook: Webhook, payload: dict[str, Any]) -> dict[str, Any]:
        """Store an accepted message and return a copy of the stored record."""
        with self._lock:
            # Slack's ts is "seconds.microseconds" and unique within a channel; keep ours
            # strictly increasing even when two messages arrive in the same microsecond.
            micros = max(int(round(self._clock() * 1_000_000)), self._last_ts_micros + 1)
            self._last_ts_micros = micros
            text = payload.get("text")
            record = {
                "id": self._next_id,
                "ts": f"{micros // 1_000_000}.{micros % 1_000_000:06d}",
                "time": _iso_utc(micros / 1_000_000),
                "channel": webhook.channel,
                "webhook_id": webhook.hook_id,
                "payload": copy.deepcopy(payload),
                "text": text if isinstance(text, str) else "",
            }
            self._next_id += 1
            self._messages.append(record)
            self._arrived.notify_all()
            return copy.deepcopy(record)

    def messages(self, channel: str | None = None, after_id: int = 0) -> list[dict[str, Any]]:
        """Stored messages with an id above ``after_id``, oldest first, optionally one channel's."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._messages
                if m["id"] > after_id and (channel is None or m["channel"] == channel)
            ]

    def wait_for_messages(self, channel: str | None, after_id: int,
                          timeout: float) -> list[dict[str, Any]]:
        """Like :meth:`messages`, but when there is none yet, wait up to *timeout* s for one."""
        with self._arrived:
            self._arrived.wait_for(lambda: any(
                m["id"] > after_id and (channel is None or m["channel"] == channel)
                for m in self._messages), timeout)
        return self.messages(channel, after_id)

    def clear(self) -> int:
        """Delete every stored message and return how many there were.

        Webhooks stay (the deployed function holds their URLs), and ids keep increasing so that
        a reader polling with ``after_id`` never misses a message posted after the clear.
        """
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            return count
