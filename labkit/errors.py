"""Errors a learner can act on.

A :class:`LabError` carries what went wrong and what to do next, in plain words. In a notebook
labkit shows it as two short lines instead of a traceback (see :mod:`labkit.notebook`); on the
command line it is printed and the command exits non-zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Said whenever a cell fails part-way on AWS: what it made so far is kept, and nothing is lost.
LEFT_AS_IS = ("Whatever this cell created before the error stays, tagged as yours: re-running "
              "the cell once fixed is safe (it reuses what exists), and notebook 07 removes "
              "everything the lab created.")

NAME_TAKEN_TODO = ("If it is yours from an earlier try, delete it (AWS console, or notebook 07) "
                   "and re-run this cell; if it is someone else's, set student = 'yourname' in "
                   "the parameters cell so that every name of yours gets a prefix of its own.")

# Error codes by what they mean, across the services the lab calls.
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
           "AuthorizationError", "AuthorizationErrorException", "UnauthorizedAccess"}
_NOT_FOUND = {"NotFound", "NotFoundException", "ResourceNotFoundException", "NoSuchEntity",
              "ResourceNotFound"}
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException",
              "RequestLimitExceeded", "ThrottledException"}
_BAD_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "RequestExpired",
                    "InvalidClientTokenId", "UnrecognizedClientException",
                    "SignatureDoesNotMatch", "InvalidSignatureException", "AuthFailure"}
_TAKEN = {"EntityAlreadyExists", "ResourceConflictException", "AlreadyExistsException",
          "ResourceAlreadyExistsException", "QueueAlreadyExists",
          "QueueNameExists", "InvalidGroup.Duplicate"}

# "User: arn:... is not authorized to perform: iam:CreateRole on resource: arn:... because ..."
# IAM, STS, SNS, SQS, Lambda, KMS, CloudWatch, Logs, SSM and EC2 all word denials this way.
_NOT_AUTHORIZED = re.compile(
    r"(?:(?:User|Principal):\s*(?P<principal>arn:\S+)\s+)?"
    r"(?:is\s+)?not authorized to perform:?\s*(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9*]+)"
    r"(?:\s+on (?:this resource|resource:?\s*(?P<resource>arn:\S+)))?"
    r"(?:\s+(?:because|with)\s+(?P<reason>[^.]*))?"
    r"(?:\.|\s|$)")
_ENCODED = re.compile(r"Encoded authorization failure message:\s*\S+", re.I)


@dataclass(frozen=True)
class Denial:
    """What an AccessDenied message says: who was denied which action on what, and why."""

    action: str
    principal: str = ""
    resource: str = ""
    reason: str = ""
    encoded: bool = False


class LabError(Exception):
    """Something the learner can fix: *what* happened, and *todo*, the next step."""

    def __init__(self, what: str, todo: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.todo = todo

    def __str__(self) -> str:
        return f"{self.what}\n→ {self.todo}" if self.todo else self.what


def parse_denial(message: str, operation: str = "", code: str = "") -> Denial | None:
    """The permission an AccessDenied-style *message* names, or None if it names none.

    EC2's ``UnauthorizedOperation`` may carry only an encoded message: then the action is
    ``ec2:<operation>``, the only one that call needs. SQS writes actions in lower case
    (``sqs:createqueue``); the operation's own spelling is used when it is the same action.
    """
    found = _NOT_AUTHORIZED.search(message)
    encoded = bool(_ENCODED.search(message))
    if found is None:
        if code == "UnauthorizedOperation" and operation:
            return Denial(action=f"ec2:{operation}", encoded=encoded)
        return None
    service, name = found["action"].split(":", 1)
    service = service.lower()
    if operation and name.lower() == operation.lower():
        name = operation
    return Denial(action=f"{service}:{name}", principal=found["principal"] or "",
                  resource=(found["resource"] or "").rstrip(".,"),
                  reason=(found["reason"] or "").strip(), encoded=encoded)


def _denied(operation: str, code: str, message: str) -> tuple[str, str]:
    """*what* and *todo* for a call the learner's identity may not make."""
    denial = parse_denial(message, operation, code)
    if denial is None:
        return (f"AWS denied {operation} ({code}): {message}",
                "The identity that made the call lacks a permission for " + operation + ". "
                "Add it to that identity's policy (or ask your instructor), then re-run. "
                + LEFT_AS_IS)
    on = f" on {denial.resource}" if denial.resource else ""
    who = denial.principal or "your identity"
    what = f"AWS denied {operation}: {who} does not have the permission {denial.action}{on}."
    reason = denial.reason.lower()
    if "explicit deny" in reason:
        where = ("a service control policy of your organization" if "service control" in reason
                 else "a permissions boundary" if "boundary" in reason
                 else "a session policy" if "session" in reason
                 else "a policy attached to you")
        todo = (f"An explicit Deny in {where} blocks {denial.action}; adding an Allow cannot "
                f"override it. Ask your account administrator (or instructor) to lift it, or "
                f"use an account without that restriction.")
    elif "resource-based policy" in reason or "resource does not exist" in reason:
        todo = (f"The resource's own policy (for a KMS key: its key policy) does not let you "
                f"{denial.action}, or it is in another region. Check the region, or ask the "
                f"resource's owner.")
    else:
        todo = (f"Add {denial.action} to a policy of {who} (IAM console → the user or role → "
                f"Add permissions), or ask your instructor; docs/real-aws-checklist.md lists "
                f"every permission the lab needs. Then re-run this cell.")
    if denial.encoded:
        todo += (" AWS encoded the details: `aws sts decode-authorization-message "
                 "--encoded-message <message>` shows them (needs sts:DecodeAuthorizationMessage).")
    return what, f"{todo} {LEFT_AS_IS}"


def explain(exc: BaseException) -> tuple[str, str] | None:
    """*what* and *todo* for an error a learner can meet in a cell, or None if unknown.

    Pure: looks only at the exception. Used by the notebook error display and the CLI.
    """
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        SSOError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )

    if isinstance(exc, LabError):
        return exc.what, exc.todo
    if isinstance(exc, NoCredentialsError):
        from .aws import NO_CREDENTIALS_TODO

        return "boto3 found no AWS credentials.", NO_CREDENTIALS_TODO
    if isinstance(exc, (UnauthorizedSSOTokenError, TokenRetrievalError, SSOError)):
        return ("Your AWS SSO session has expired or was never started.",
                "Run `aws sso login --profile NAME` in a terminal, then re-run this cell.")
    if isinstance(exc, NoRegionError):
        return "No AWS region is set.", "Pass region='ap-northeast-2' (or your region)."
    if isinstance(exc, EndpointConnectionError):
        url = str(getattr(exc, "kwargs", {}).get("endpoint_url", ""))
        if "127.0.0.1" in url or "localhost" in url:
            return ("The local cloud does not answer (it may have been stopped or restarted).",
                    "Re-run the notebook's first cells: they start it again. A restarted local "
                    "cloud starts empty, so re-run the earlier notebooks too.")
        return f"Could not reach {url or 'AWS'}.", "Check the region and your network."
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "?")), str(error.get("Message", ""))
        return _explain_client_error(exc.operation_name, code, message)
    return None


def _explain_client_error(operation: str, code: str, message: str) -> tuple[str, str]:
    """*what* and *todo* for an AWS error answer, by its code (and message where needed)."""
    if code in _DENIED:
        return _denied(operation, code, message)
    if code in _THROTTLED:
        return (f"AWS is throttling {operation} ({code}).",
                "Too many calls in a short time: wait a minute, then re-run this cell.")
    if code in _BAD_CREDENTIALS:
        from .aws import CREDENTIALS_REFUSED_TODO

        return f"AWS refused the credentials ({code}) for {operation}.", CREDENTIALS_REFUSED_TODO
    if "LimitExceeded" in code or "QuotaExceeded" in code or code == "CodeStorageExceededException":
        return (f"An account quota stopped {operation} ({code}): {message}",
                "Delete what you no longer need of that kind (or ask for more in the Service "
                "Quotas console), then re-run this cell. " + LEFT_AS_IS)
    if code == "InvalidParameterValueException" and "cannot be assumed" in message:
        return (f"Lambda cannot use the role yet: {message}",
                "A role made seconds ago takes a few seconds to reach Lambda: wait 10 seconds "
                "and re-run this cell. If it persists, check that the role's trust policy names "
                "lambda.amazonaws.com.")
    if code in ("InvalidParameter", "InvalidParameterException") and "different tags" in message:
        return (f"{operation}: a resource with this name already exists with tags that are not "
                f"this lab's ({message}).", NAME_TAKEN_TODO)
    if code in _TAKEN:
        return f"{operation}: the name is taken ({code}): {message}", NAME_TAKEN_TODO
    if code == "KMSInvalidStateException" and "pending deletion" in message.lower():
        return (f"{operation}: the KMS key is pending deletion ({message}).",
                "Notebook 07 scheduled it for deletion. Run notebook 04 again: with the alias "
                "gone it makes a new key (or cancel the deletion in the KMS console).")
    if code in _NOT_FOUND:
        return (f"{operation}: {message or 'not found'}",
                "A resource an earlier step creates is missing: run that notebook first.")
    return (f"AWS answered {code} to {operation}: {message}",
            "Read the message above: it names the parameter or resource to fix.")


# -- "is this resource ours?" ------------------------------------------------------------------
def tags_as_dict(tags: Any) -> dict[str, str]:
    """Tags in any AWS shape as a dict: ``{"k": "v"}``, ``[{"Key", "Value"}]`` (most services),
    ``[{"TagKey", "TagValue"}]`` (KMS), or None (no tags)."""
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    result = {}
    for tag in tags:
        key = tag.get("Key", tag.get("TagKey"))
        value = tag.get("Value", tag.get("TagValue", ""))
        if key is not None:
            result[str(key)] = str(value)
    return result


def check_ours(kind: str, name: str, found_tags: Any, our_tags: dict[str, str]) -> None:
    """Raise a LabError unless the existing resource *name* carries every one of *our_tags*.

    Labkit changes only what it made: a resource of the same name without the lab's tags is
    someone else's (or made by hand), and the learner decides what happens to it.
    """
    found = tags_as_dict(found_tags)
    if all(found.get(key) == value for key, value in our_tags.items()):
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(found.items())) or "no tags"
    wanted = ", ".join(f"{k}={v}" for k, v in our_tags.items())
    raise LabError(
        f"The {kind} {name!r} already exists but is not this lab's: it has {shown}, not "
        f"{wanted}. labkit leaves it untouched.", NAME_TAKEN_TODO)
