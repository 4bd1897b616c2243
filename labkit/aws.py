"""boto3 sessions and clients for the current target.

``local``: every client talks to the local cloud's endpoint with throw-away credentials.
``aws``: boto3's normal credential chain (profile, SSO, environment, instance role); nothing is
read from or written to the learner's AWS configuration by labkit.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str
    region: str


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
            raise LabError(f"AWS refused the credentials ({code}).",
                           "They may have expired: log in again (for example "
                           "`aws sso login`), then re-run this cell.") from exc
        except BotoCoreError as exc:
            if self.name == "local":
                raise LabError("The local cloud does not answer.",
                               "Run `labkit local up`, then re-run this cell.") from exc
            raise LabError(f"Could not reach AWS: {exc}", NO_CREDENTIALS_TODO) from exc
        return Identity(answer["Account"], answer["Arn"], self.region)
