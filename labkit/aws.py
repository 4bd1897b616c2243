"""boto3 sessions and clients for the current target.

``local``: every client talks to the local cloud's endpoint with throw-away credentials.
``aws``: boto3's normal credential chain (profile, SSO, environment, instance role); nothing is
read from or written to the learner's AWS configuration by labkit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import LabError, credentials_refused_todo, no_credentials_todo
from .i18n import t

LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"
_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})


@dataclass(frozen=True)
class Identity:
    """Who the lab's calls run as: the account, the caller's ARN, and the region used."""

    account: str
    arn: str
    region: str


def check_account(identity: Identity, expected: str) -> None:
    """Refuse to go on when *expected* (an account id, or '' for any) is not the caller's account.

    Pure apart from reading which profile and key variables are set, to say what to change.
    """
    if not expected or identity.account == expected:
        return
    profile = os.environ.get("AWS_PROFILE", "")
    keys = ""
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        source = t("aws.account.source.env")
        # boto3 takes keys from the environment before any profile.
        keys = " " + t("aws.account.unset_keys")
    elif profile:
        source = t("aws.account.source.profile", profile=profile)
    else:
        source = t("aws.account.source.default")
    raise LabError(
        t("aws.account.what", source=source, account=identity.account, arn=identity.arn,
          expected=expected),
        t("aws.account.todo", account=identity.account, keys=keys))


class Target:
    """Makes clients for one target and region; ``endpoint_url`` is set for the local cloud."""

    def __init__(self, name: str, region: str, endpoint_url: str | None = None) -> None:
        self.name = name
        self.region = region
        self.endpoint_url = endpoint_url
        if name == "local":
            self.session = boto3.session.Session(
                aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY,
                region_name=region)
        else:
            self.session = boto3.session.Session(region_name=region)
            if self.session.get_credentials() is None:
                raise LabError(t("aws.no_credentials.what"), no_credentials_todo())

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for *service* on this target (extra kwargs go to boto3)."""
        kwargs.setdefault("config", _RETRIES)
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return self.session.client(service, **kwargs)

    def identity(self) -> Identity:
        """Who the calls run as (STS GetCallerIdentity); a clear error when that fails."""
        try:
            answer = self.client("sts").get_caller_identity()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise LabError(t("aws.refused.what", code=code, region=self.region),
                           credentials_refused_todo()) from exc
        except BotoCoreError as exc:
            if self.name == "local":
                raise LabError(t("aws.local_down.what"), t("aws.local_down.todo")) from exc
            raise LabError(t("aws.unreachable.what", error=exc), no_credentials_todo()) from exc
        return Identity(answer["Account"], answer["Arn"], self.region)
