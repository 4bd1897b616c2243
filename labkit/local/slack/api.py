"""Calls to the local Slack's own JSON API (``/api/...`` and ``/labkit/slack/...``).

One function for labkit's side of it (the notebooks' Lab, the CLI, fault plans, the class
rehearsal, the step checks), so each caller only decides what a failure means to its user.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any


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
