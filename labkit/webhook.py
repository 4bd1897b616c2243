"""Slack incoming-webhook URLs: checked before use, and kept out of every output.

A webhook URL is a password in URL form. :class:`SecretUrl` holds one so that printing it,
showing it in a notebook or logging it only ever gives the masked form; ``reveal()`` is the one,
explicit way to get the clear text, for the HTTP call that needs it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .errors import LabError
from .masking import mask_secrets

SLACK_HOST = "hooks.slack.com"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
_PATH = re.compile(r"^/services/T[A-Z0-9_]+/B[A-Z0-9_]+/[A-Za-z0-9_]+$", re.IGNORECASE)
SHAPE = "https://hooks.slack.com/services/T…/B…/<secret> (copied from the Incoming Webhooks app)"


def check_webhook_url(url: str, *, allow_local: bool = False) -> str:
    """Return *url* if it is a usable incoming-webhook URL, else raise a :class:`LabError`.

    *allow_local* also accepts the local Slack's URLs (``http(s)://127.0.0.1:PORT/services/…``).
    Messages never repeat the URL in clear.
    """
    url = (url or "").strip()
    if not url:
        raise LabError("The webhook URL is empty.", f"A valid one looks like {SHAPE}.")
    if "://" not in url:
        if url.startswith(SLACK_HOST):
            raise LabError("The webhook URL has no https:// in front.",
                           f"Add it: {SHAPE}. (The encrypted copy for Lambda leaves it out.)")
        raise LabError("That is not a URL.", f"A valid webhook URL looks like {SHAPE}.")
    parts = urlsplit(url)
    local = parts.hostname in LOCAL_HOSTS
    if local and not allow_local:
        raise LabError("That is a local Slack URL, but the target is a real Slack.",
                       f"Use the URL of your workspace's webhook: {SHAPE}.")
    if not local:
        if parts.hostname != SLACK_HOST:
            raise LabError(f"The webhook host is {parts.hostname!r}, not {SLACK_HOST!r}.",
                           f"Copy the whole URL again; it looks like {SHAPE}.")
        if parts.scheme != "https":
            raise LabError("Slack only accepts webhooks over https, not plain http.",
                           f"Use https:// - {SHAPE}.")
    if parts.scheme not in ("http", "https"):
        raise LabError(f"Unsupported scheme {parts.scheme!r}.", f"Use {SHAPE}.")
    if not _PATH.match(parts.path) or parts.query or parts.fragment:
        raise LabError(
            "The webhook URL is missing parts: after the host it needs "
            "/services/T<team>/B<hook>/<secret> and nothing else.",
            f"Copy the whole URL again from the Incoming Webhooks app; it looks like {SHAPE}.")
    return url


class SecretUrl:
    """A webhook URL that shows itself masked everywhere; ``reveal()`` gives the clear text."""

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        self._url = url

    def reveal(self) -> str:
        """The clear URL, for the one call that must send it. Never print or log the result."""
        return self._url

    @property
    def masked(self) -> str:
        return mask_secrets(self._url)

    @property
    def without_scheme(self) -> str:
        """The URL without ``https://``, the form the source lab encrypts for the function."""
        return self._url.split("://", 1)[-1]

    def __repr__(self) -> str:
        return f"SecretUrl({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def _repr_html_(self) -> str:
        return f"<code>{self.masked}</code> <small>(secret part hidden)</small>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)
