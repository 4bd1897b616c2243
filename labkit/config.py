"""The parameters every notebook shares, checked before anything touches a cloud."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from . import i18n
from .defaults import DEFAULT_REGION, DEFAULT_SLACK_CHANNEL, DEFAULT_WEBHOOK_ENV
from .errors import LabError
from .i18n import t
from .masking import find_webhook_urls
from .parameters import DEFAULTS, TARGETS

_STUDENT = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,79}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGION_SHAPE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def check_lang(lang: str) -> str:
    """*lang* normalised ("KO" -> "ko"), or a LabError naming the languages there are.

    The error is in the current language: the one asked for is not known.
    """
    try:
        return i18n.check_language(lang)
    except ValueError:
        choices = ", ".join(f"{code!r} ({name})" for code, name in i18n.LANGUAGES.items())
        raise LabError(t("config.lang.what", value=lang, choices=choices),
                       t("config.lang.todo")) from None


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
                 descriptions: dict[str, str] | None = None, lang: str | None = None) -> str:
    """Return *region* if it is a region code AWS knows, else raise with the closest match.

    A place name ("Seoul") is answered with its code; a typo with the closest code. The error
    is in *lang* (default: the current language).
    """
    known = known if known is not None else known_regions()
    if region in known:
        return region
    descriptions = descriptions if descriptions is not None else region_descriptions()
    close = difflib.get_close_matches(region.lower().strip(), known, n=1, cutoff=0.5)
    place = _region_by_place(region, known, descriptions)
    if place:
        close = [place]
    what = (t("config.region.what", lang, region=region) if _REGION_SHAPE.match(region)
            else t("config.region.what_shape", lang, region=region, default=DEFAULT_REGION))
    todo = (t("config.region.todo_hint", lang, close=close[0], default=DEFAULT_REGION) if close
            else t("config.region.todo", lang, default=DEFAULT_REGION))
    raise LabError(what, todo)


def check_account_id(value: str | int | None, lang: str | None = None) -> str:
    """*value* as 12 digits ('' stays ''); the console's "1234-5678-9012" form is accepted.

    A number (a parameter file may turn the id into one) gets its leading zeros back. The
    error is in *lang* (default: the current language).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:012d}"
    value = str(value or "")
    digits = re.sub(r"[\s-]", "", value)
    if digits and not _ACCOUNT_ID.match(digits):
        raise LabError(t("config.account_id.what", lang, value=value),
                       t("config.account_id.todo", lang))
    return digits


@dataclass(frozen=True)
class LabConfig:
    """The shared parameters: where the lab runs and whose resources it makes.

    ``webhook_env`` is the *name* of the environment variable that holds a real Slack webhook
    URL (target ``aws``). The URL itself is never a parameter: papermill copies parameters into
    every output notebook, where a secret would leak.

    ``expected_account_id`` (target ``aws``): the 12-digit account the lab must run in; any other
    account is refused. Written as the console shows it ("1234-5678-9012") it is accepted too.

    ``lang``: the language of learner-facing messages, 'en' (default) or 'ko'; the errors of
    these parameters come out in it.

    The fields are the parameters every notebook takes, with the defaults declared in
    :mod:`labkit.parameters`; the checks of their values are here.
    """

    target: str = DEFAULTS["target"]
    region: str = DEFAULTS["region"]
    student: str = DEFAULTS["student"]
    slack_channel: str = DEFAULTS["slack_channel"]
    webhook_env: str = DEFAULTS["webhook_env"]
    expected_account_id: str = DEFAULTS["expected_account_id"]
    lang: str = DEFAULTS["lang"]
    known_regions: list[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The language first, so that every other error below comes out in it.
        lang = check_lang(self.lang)
        object.__setattr__(self, "lang", lang)
        if self.target not in TARGETS:
            raise LabError(t("config.target.what", lang, target=self.target),
                           t("config.target.todo", lang))
        check_region(self.region, self.known_regions, lang=lang)
        if self.student and not _STUDENT.match(self.student):
            raise LabError(t("config.student.what", lang, student=self.student),
                           t("config.student.todo", lang))
        channel = self.slack_channel.lstrip("#")
        if not _CHANNEL.match(channel):
            raise LabError(t("config.channel.what", lang, channel=self.slack_channel),
                           t("config.channel.todo", lang, default=DEFAULT_SLACK_CHANNEL))
        object.__setattr__(self, "slack_channel", channel)
        if find_webhook_urls(self.webhook_env) or "://" in self.webhook_env:
            raise LabError(t("config.webhook_env.url.what", lang),
                           t("config.webhook_env.url.todo", lang, default=DEFAULT_WEBHOOK_ENV))
        if not _ENV_NAME.match(self.webhook_env):
            raise LabError(t("config.webhook_env.name.what", lang, name=self.webhook_env),
                           t("config.webhook_env.name.todo", lang, default=DEFAULT_WEBHOOK_ENV))
        object.__setattr__(self, "expected_account_id",
                           check_account_id(self.expected_account_id, lang))

    @property
    def prefix(self) -> str:
        """The learner's prefix for every resource name ('' when working alone)."""
        return f"{self.student}-" if self.student else ""
