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

from .errors import LabError

LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"
_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})

NO_CREDENTIALS_TODO = (
    "Give boto3 credentials in one of the usual ways, then run this cell again: "
    "`aws configure` (access key), `aws sso login --profile NAME` and set AWS_PROFILE=NAME "
    "before starting Jupyter, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. "
    "Or use target='local' to run without an account."
)

CREDENTIALS_REFUSED_TODO = (
    "They may have expired: log in again (for example `aws sso login --profile NAME`), then "
    "re-run this cell. If they work elsewhere, the region may be one your account has not "
    "enabled (opt-in regions such as ap-east-1): enable it under Account → AWS Regions, or use "
    "another region."
)


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
        source = "from the AWS_ACCESS_KEY_ID variable"
        # boto3 takes keys from the environment before any profile.
        keys = (" Unset AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN first: "
                "they win over any profile.")
    elif profile:
        source = f"profile {profile!r}"
    else:
        source = "the default profile"
    raise LabError(
        f"These credentials ({source}) are for AWS account {identity.account} "
        f"({identity.arn}), not {expected} as expected_account_id says. Nothing was created.",
        f"Switch to the lab account's profile: `aws sso login --profile NAME` if it uses SSO, "
        f"then set AWS_PROFILE=NAME (in a cell: `import os; os.environ['AWS_PROFILE'] = "
        f"'NAME'`) and re-run this cell.{keys} If {identity.account} is the right account, "
        f"set expected_account_id = '{identity.account}' instead.")


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
                raise LabError("No AWS credentials were found for target 'aws'.",
                               NO_CREDENTIALS_TODO)

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
            raise LabError(f"AWS refused the credentials ({code}) in {self.region}.",
                           CREDENTIALS_REFUSED_TODO) from exc
        except BotoCoreError as exc:
            if self.name == "local":
                raise LabError("The local cloud does not answer.",
                               "Run `labkit local up`, then re-run this cell.") from exc
            raise LabError(f"Could not reach AWS: {exc}", NO_CREDENTIALS_TODO) from exc
        return Identity(answer["Account"], answer["Arn"], self.region)
