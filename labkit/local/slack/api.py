"""The local Slack's own JSON API: its paths, and the one function labkit calls it with.

The paths are written here once: the local Slack's app (``app.py``) serves them, and labkit's
side of it (the notebooks' Lab, the CLI, fault plans, the class rehearsal, the step checks) calls
them through :func:`call`, so each caller only decides what a failure means to its user.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

# GET: the stored messages (query: ``channel``, ``after`` an id); DELETE: forget them all.
MESSAGES_PATH = "/api/messages"
# POST {"channel"}: the channel's webhook (made on first use, with its secret path); GET: all.
WEBHOOKS_PATH = "/labkit/slack/webhooks"
# GET, POST {"rate_limit": bool}: the local Slack's settings.
SETTINGS_PATH = "/labkit/slack/settings"
# POST: plan a fault; GET: the faults to come; DELETE: forget them (query: ``channel``).
FAULTS_PATH = "/labkit/slack/faults"


def call(base_url: str, method: str, path: str, body: dict | None = None, *,
         cafile: str | None = None, timeout: float = 5.0) -> Any:
    """*method* *path* on the local Slack at *base_url*; the decoded JSON answer.

    *cafile*: the CA bundle to trust, for the https address. Raises ``OSError`` (including
    ``urllib.error.HTTPError``) when it cannot be reached or refuses, ``ValueError`` when the
    answer is not JSON.
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    with urllib.request.urlopen(request, timeout=timeout,  # noqa: S310 (loopback)
                                context=context) as response:
        return json.loads(response.read())
