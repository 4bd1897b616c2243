"""The parameters every notebook shares, checked before anything touches a cloud."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .errors import LabError
from .masking import find_webhook_urls

TARGETS = ("local", "aws")
DEFAULT_REGION = "ap-northeast-2"

_STUDENT = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,79}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGION_SHAPE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


def known_regions() -> list[str]:
    """Regions botocore knows for the services of the lab (no network needed)."""
    import boto3

    return sorted(set(boto3.session.Session().get_available_regions("lambda")))


def check_region(region: str, known: list[str] | None = None) -> str:
    """Return *region* if it is a region code AWS knows, else raise with the closest match."""
    known = known if known is not None else known_regions()
    if region in known:
        return region
    close = difflib.get_close_matches(region.lower().strip(), known, n=1, cutoff=0.5)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    shape = "" if _REGION_SHAPE.match(region) else " (a region code looks like 'ap-northeast-2')"
    raise LabError(f"{region!r} is not an AWS region code{shape}.",
                   f"{hint}Set region to a code such as {DEFAULT_REGION!r} (Seoul).")


@dataclass(frozen=True)
class LabConfig:
    """The shared parameters: where the lab runs and whose resources it makes.

    ``webhook_env`` is the *name* of the environment variable that holds a real Slack webhook
    URL (target ``aws``). The URL itself is never a parameter: papermill copies parameters into
    every output notebook, where a secret would leak.
    """

    target: str = "local"
    region: str = DEFAULT_REGION
    student: str = ""
    slack_channel: str = "project"
    webhook_env: str = "SLACK_WEBHOOK_URL"
    known_regions: list[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise LabError(f"target must be 'local' or 'aws', not {self.target!r}.",
                           "Use 'local' to run on this machine, 'aws' for a real account.")
        check_region(self.region, self.known_regions)
        if self.student and not _STUDENT.match(self.student):
            raise LabError(
                f"student {self.student!r} cannot be part of AWS resource names.",
                "Use 1-20 characters: lower-case letters, digits and '-', starting with a "
                "letter (for example 'kim' or 'lee-2').")
        channel = self.slack_channel.lstrip("#")
        if not _CHANNEL.match(channel):
            raise LabError(f"{self.slack_channel!r} is not a Slack channel name.",
                           "Slack channel names are lower-case letters, digits, '-' and '_' "
                           "(at most 80), for example 'project'.")
        object.__setattr__(self, "slack_channel", channel)
        if find_webhook_urls(self.webhook_env) or "://" in self.webhook_env:
            raise LabError(
                "webhook_env must be the NAME of an environment variable, not the webhook URL.",
                "Put the URL in a variable (export SLACK_WEBHOOK_URL=...) and pass its name; "
                "a URL passed as a parameter would be copied into every output notebook.")
        if not _ENV_NAME.match(self.webhook_env):
            raise LabError(f"{self.webhook_env!r} is not an environment variable name.",
                           "Use letters, digits and '_', for example 'SLACK_WEBHOOK_URL'.")

    @property
    def prefix(self) -> str:
        """The learner's prefix for every resource name ('' when working alone)."""
        return f"{self.student}-" if self.student else ""
