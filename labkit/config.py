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
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def known_regions() -> list[str]:
    """Regions botocore knows for the services of the lab (no network needed)."""
    import boto3

    return sorted(set(boto3.session.Session().get_available_regions("lambda")))


def region_descriptions() -> dict[str, str]:
    """``{"ap-northeast-2": "Asia Pacific (Seoul)", ...}`` from botocore's data (no network)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return {code: region.get("description", "") for partition in data["partitions"]
            for code, region in partition["regions"].items()}


def _region_by_place(text: str, known: list[str], descriptions: dict[str, str]) -> str | None:
    """The region whose description names the place *text* ("Seoul", "tokyo"), if exactly one."""
    place = text.strip().lower()
    if len(place) < 3:
        return None
    found = [code for code in known
             if place in re.split(r"[()\s,.]+", descriptions.get(code, "").lower())]
    return found[0] if len(found) == 1 else None


def check_region(region: str, known: list[str] | None = None,
                 descriptions: dict[str, str] | None = None) -> str:
    """Return *region* if it is a region code AWS knows, else raise with the closest match.

    A place name ("Seoul") is answered with its code; a typo with the closest code.
    """
    known = known if known is not None else known_regions()
    if region in known:
        return region
    descriptions = descriptions if descriptions is not None else region_descriptions()
    close = difflib.get_close_matches(region.lower().strip(), known, n=1, cutoff=0.5)
    place = _region_by_place(region, known, descriptions)
    if place:
        close = [place]
    hint = f"Did you mean {close[0]!r}? " if close else ""
    shape = "" if _REGION_SHAPE.match(region) else " (a region code looks like 'ap-northeast-2')"
    raise LabError(f"{region!r} is not an AWS region code{shape}.",
                   f"{hint}Set region to a code such as {DEFAULT_REGION!r} (Seoul).")


def check_account_id(value: str | int | None) -> str:
    """*value* as 12 digits ('' stays ''); the console's "1234-5678-9012" form is accepted.

    A number (a parameter file may turn the id into one) gets its leading zeros back.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:012d}"
    value = str(value or "")
    digits = re.sub(r"[\s-]", "", value)
    if digits and not _ACCOUNT_ID.match(digits):
        raise LabError(f"expected_account_id {value!r} is not an AWS account id.",
                       "An account id is 12 digits: copy it from the account menu at the top "
                       "right of the AWS console, or leave expected_account_id empty.")
    return digits


@dataclass(frozen=True)
class LabConfig:
    """The shared parameters: where the lab runs and whose resources it makes.

    ``webhook_env`` is the *name* of the environment variable that holds a real Slack webhook
    URL (target ``aws``). The URL itself is never a parameter: papermill copies parameters into
    every output notebook, where a secret would leak.

    ``expected_account_id`` (target ``aws``): the 12-digit account the lab must run in; any other
    account is refused. Written as the console shows it ("1234-5678-9012") it is accepted too.
    """

    target: str = "local"
    region: str = DEFAULT_REGION
    student: str = ""
    slack_channel: str = "project"
    webhook_env: str = "SLACK_WEBHOOK_URL"
    expected_account_id: str = ""
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
        object.__setattr__(self, "expected_account_id",
                           check_account_id(self.expected_account_id))

    @property
    def prefix(self) -> str:
        """The learner's prefix for every resource name ('' when working alone)."""
        return f"{self.student}-" if self.student else ""
