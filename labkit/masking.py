"""Masking of Slack webhook URLs, so that a secret never reaches an output, a log or a file.

A webhook URL is a bearer secret: whoever holds it can post to the channel. Everything labkit
shows passes through :func:`mask_secrets`, which keeps the parts that help a person recognise
which webhook it is (host, team and hook ids) and hides the part that grants access.
"""

from __future__ import annotations

import re

# The public detect-secrets / gitleaks shape of a Slack webhook, widened to any host so that the
# local Slack's webhooks (http(s)://127.0.0.1:PORT/services/...) are masked the same way, and to
# a bare path, the form a web server's request log shows.
WEBHOOK_PATTERN = re.compile(
    r"(?P<prefix>(?:(?:https?://)?[A-Za-z0-9.\-]+(?::\d+)?)?/"
    r"(?:services|workflows|triggers)/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/)"
    r"(?P<secret>[A-Za-z0-9_]+)"
)

# The pattern secret scanners use for real Slack webhooks (hooks.slack.com only).
SLACK_WEBHOOK_PATTERN = re.compile(
    r"hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"
)

MASK = "••••"


def mask_secret_part(secret: str) -> str:
    """Hide a webhook secret, keeping its last two characters as a hint for humans."""
    return MASK + secret[-2:] if len(secret) > 8 else MASK


def mask_secrets(text: str) -> str:
    """Return *text* with the secret part of every webhook URL in it masked."""
    return WEBHOOK_PATTERN.sub(lambda m: m["prefix"] + mask_secret_part(m["secret"]), text)


def find_webhook_urls(text: str) -> list[str]:
    """Every unmasked webhook URL (any host) found in *text*."""
    return [m.group(0) for m in WEBHOOK_PATTERN.finditer(text)]
