"""Slack incoming-webhook URLs: checked before use, and kept out of every output.

A webhook URL is a password in URL form. :class:`SecretUrl` holds one so that printing it,
showing it in a notebook or logging it only ever gives the masked form; ``reveal()`` is the one,
explicit way to get the clear text, for the HTTP call that needs it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .errors import LabError
from .i18n import t
from .masking import mask_secrets

SLACK_HOST = "hooks.slack.com"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
_PATH = re.compile(r"^/services/T[A-Z0-9_]+/B[A-Z0-9_]+/[A-Za-z0-9_]+$", re.IGNORECASE)


def url_shape() -> str:
    """What a webhook URL looks like, for messages (the secret part shown as ``<secret>``)."""
    return t("webhook.shape")


def check_webhook_url(url: str, *, allow_local: bool = False) -> str:
    """Return *url* if it is a usable incoming-webhook URL, else raise a :class:`LabError`.

    *allow_local* also accepts the local Slack's URLs (``http(s)://127.0.0.1:PORT/services/…``).
    Messages never repeat the URL in clear.
    """
    shape = url_shape()
    url = (url or "").strip()
    if not url:
        raise LabError(t("webhook.empty.what"), t("webhook.empty.todo", shape=shape))
    if "://" not in url:
        if url.startswith(SLACK_HOST):
            raise LabError(t("webhook.no_scheme.what"), t("webhook.no_scheme.todo", shape=shape))
        raise LabError(t("webhook.not_url.what"), t("webhook.not_url.todo", shape=shape))
    parts = urlsplit(url)
    local = parts.hostname in LOCAL_HOSTS
    if local and not allow_local:
        raise LabError(t("webhook.local.what"), t("webhook.local.todo", shape=shape))
    if not local:
        if parts.hostname != SLACK_HOST:
            raise LabError(t("webhook.host.what", host=parts.hostname, expected=SLACK_HOST),
                           t("webhook.host.todo", shape=shape))
        if parts.scheme != "https":
            raise LabError(t("webhook.http.what"), t("webhook.http.todo", shape=shape))
    if parts.scheme not in ("http", "https"):
        raise LabError(t("webhook.scheme.what", scheme=parts.scheme),
                       t("webhook.scheme.todo", shape=shape))
    if not _PATH.match(parts.path) or parts.query or parts.fragment:
        raise LabError(t("webhook.path.what"), t("webhook.path.todo", shape=shape))
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
        return f"<code>{self.masked}</code> <small>({t('webhook.secret_hidden')})</small>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)
