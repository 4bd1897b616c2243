"""Slack secrets as the public secret scanners see them (detect-secrets' Slack plugin)."""

from __future__ import annotations

from detect_secrets.plugins.slack import SlackDetector

# Slack's documentation uses all-zero ids for examples; tests use them on purpose.
OBVIOUS_FAKES = ("T00000000/B00000000/", "TXXXXXXXX/BXXXXXXXX/")


def slack_secrets_in(text: str) -> list[str]:
    """Every Slack token or webhook URL in *text* but the obvious documentation fakes."""
    detector = SlackDetector()
    found = []
    for line in text.splitlines():
        for pattern in detector.denylist:
            found += [m.group(0) for m in pattern.finditer(line)]
    return [secret for secret in found if not any(fake in secret for fake in OBVIOUS_FAKES)]
