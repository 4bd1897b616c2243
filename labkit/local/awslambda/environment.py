"""What an execution environment of the local Lambda runtime is made of (pure functions).

* :class:`FunctionSpec`: the parts of a function's configuration that shape how it runs, read
  once from moto's model so that nothing else here depends on moto.
* :func:`config_key`: the identity of an execution environment. Lambda reuses an environment
  while the code and configuration stay the same; any change means a fresh one (a cold start).
* :func:`lambda_environment`: the process environment Lambda gives a function. It is built
  from scratch, so nothing of the local cloud's own environment (the learner's credentials,
  their AWS profile) leaks into the function.
* :func:`log_stream_name`: the name of the CloudWatch Logs stream of one environment.

Sources: AWS Lambda developer guide, "Defined runtime environment variables" and "Working with
Lambda environment variables"; "AWS Lambda function logging in Python" for the stream names.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Variables Lambda sets that a function's own configuration cannot change (Lambda rejects them
# in the configuration; moto does not, so they are simply overridden here).
RESERVED = (
    "_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "LAMBDA_TASK_ROOT",
)

# Basics worth passing through from the local cloud's environment: where programs are, and
# locale and temporary-folder settings. Nothing AWS-related, nothing secret.
PASSED_THROUGH = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionSpec:
    """One function version's configuration, as far as running it is concerned."""

    name: str
    arn: str  # the ARN of this version: unqualified for $LATEST, ":N" for a published one
    version: str  # "$LATEST" or "1", "2", ...
    account_id: str
    region: str
    handler: str
    runtime: str
    timeout: int  # seconds
    memory_mb: int
    role_arn: str
    variables: Mapping[str, str] = field(default_factory=dict)
    code_sha256: str = ""  # hex digest of the deployment package
    package_type: str = "Zip"
    dead_letter_arn: str | None = None
    kms_key_arn: str | None = None  # the customer managed key of its variables (KMSKeyArn)

    @property
    def log_group(self) -> str:
        """The function's log group, ``/aws/lambda/<name>``."""
        return f"/aws/lambda/{self.name}"

    @property
    def qualified_arn(self) -> str:
        """The ARN with its version, as Lambda writes it in invocation records."""
        return self.arn if self.arn.endswith(f":{self.version}") else f"{self.arn}:{self.version}"


def code_digest(code: bytes) -> str:
    """The hex SHA-256 of a deployment package (path-safe, unlike Lambda's base64 CodeSha256)."""
    return hashlib.sha256(code).hexdigest()


def config_key(spec: FunctionSpec) -> str:
    """A digest naming one execution-environment configuration.

    Two invocations may share a warm environment only when their keys are equal: same function
    version, code, handler, runtime, variables, their key, timeout, memory and role.
    """
    identity = {
        "arn": spec.arn, "version": spec.version, "code": spec.code_sha256,
        "handler": spec.handler, "runtime": spec.runtime, "timeout": spec.timeout,
        "memory": spec.memory_mb, "role": spec.role_arn,
        "variables": sorted((str(k), str(v)) for k, v in spec.variables.items()),
        "kms_key": spec.kms_key_arn or "",
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def log_stream_name(version: str, now: datetime | None = None,
                    instance_id: str | None = None) -> str:
    """A log stream name as Lambda makes them: ``2024/05/14/[$LATEST]<32 hex digits>``."""
    now = now or datetime.now(timezone.utc)
    instance_id = instance_id or secrets.token_hex(16)
    return f"{now:%Y/%m/%d}/[{version}]{instance_id}"


def lambda_environment(
    spec: FunctionSpec,
    *,
    log_stream: str,
    task_root: str,
    credentials: Mapping[str, str],
    endpoint_url: str,
    ca_bundle: str,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment variables a function sees, in the order of precedence Lambda applies.

    1. a few basics from *base* (``PATH``, ``HOME``, ...; default: this process's environment);
    2. what the local cloud adds so that code written for AWS runs unchanged here: the local
       endpoint as ``AWS_ENDPOINT_URL``, the local CA for HTTPS (``SSL_CERT_FILE``,
       ``REQUESTS_CA_BUNDLE``), and empty AWS config files so no profile of the learner's applies;
    3. Lambda's defaults that a function may override (``LANG``, ``TZ``);
    4. the function's own variables;
    5. Lambda's reserved variables, which always win: the function's identity, its log group
       and stream, and the credentials of its execution role (*credentials* holds
       ``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``).
    """
    base = os.environ if base is None else base
    env = {name: base[name] for name in PASSED_THROUGH if base.get(name)}
    env.update({
        "AWS_ENDPOINT_URL": endpoint_url,
        "SSL_CERT_FILE": ca_bundle,
        "REQUESTS_CA_BUNDLE": ca_bundle,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
    })
    env.update({str(k): str(v) for k, v in spec.variables.items()})
    env.update({
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_ACCESS_KEY": credentials["AccessKeyId"],
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "LAMBDA_TASK_ROOT": task_root,
    })
    return env


def unsupported_reason(spec: FunctionSpec) -> str | None:
    """Why the local runtime cannot run *spec*, or None when it can."""
    if spec.package_type != "Zip":
        return ("The local cloud runs .zip deployment packages only; container images "
                "(PackageType=Image) need real AWS Lambda.")
    if not (spec.runtime or "").startswith("python3"):
        return (f"The local cloud runs Python functions only; runtime {spec.runtime!r} "
                "needs real AWS Lambda.")
    return None
