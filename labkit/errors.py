"""Errors a learner can act on.

A :class:`LabError` carries what went wrong and what to do next, in plain words. In a notebook
labkit shows it as two short lines instead of a traceback (see :mod:`labkit.show.tracebacks`); on the
command line it is printed and the command exits non-zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .defaults import DEFAULT_REGION
from .i18n import t


def left_as_is() -> str:
    """Said whenever a cell fails part-way on AWS: what it made so far is kept, nothing is lost."""
    return t("errors.left_as_is")


def name_taken_todo() -> str:
    """What to do when a name the lab wants is taken (by an earlier try, or by someone else)."""
    return t("errors.name_taken.todo")


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

    @classmethod
    def from_messages(cls, key: str, **fields: Any) -> LabError:
        """The error whose texts are labkit's messages ``<key>.what`` and ``<key>.todo``.

        In the current language: a notebook raises its own errors this way, so that its code
        cells are the same in every language.
        """
        return cls(t(f"{key}.what", **fields), t(f"{key}.todo", **fields))


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
        return (t("errors.denied.what", operation=operation, code=code, message=message),
                t("errors.denied.todo", operation=operation) + " " + left_as_is())
    who = denial.principal or t("errors.denied.your_identity")
    if denial.resource:
        what = t("errors.denied.what_action_on", operation=operation, who=who,
                 action=denial.action, resource=denial.resource)
    else:
        what = t("errors.denied.what_action", operation=operation, who=who,
                 action=denial.action)
    return what, _denial_todo(denial)


def _denial_todo(denial: Denial) -> str:
    """What to do about *denial*: add the permission, or who must lift an explicit deny."""
    who = denial.principal or t("errors.denied.your_identity")
    reason = denial.reason.lower()
    if "explicit deny" in reason:
        where = (t("errors.denied.where.scp") if "service control" in reason
                 else t("errors.denied.where.boundary") if "boundary" in reason
                 else t("errors.denied.where.session") if "session" in reason
                 else t("errors.denied.where.attached"))
        todo = t("errors.denied.explicit.todo", where=where, action=denial.action)
    elif "resource-based policy" in reason or "resource does not exist" in reason:
        todo = t("errors.denied.resource_policy.todo", action=denial.action)
    else:
        todo = t("errors.denied.add.todo", action=denial.action, who=who)
    if denial.encoded:
        todo += " " + t("errors.denied.encoded")
    todo = f"{todo} {left_as_is()}"
    if denial.action.lower() == "kms:decrypt":  # the lab's own denial: the page tells its story
        todo += " " + t("errors.denied.decrypt.more")
    return todo


def no_credentials_todo() -> str:
    """The usual ways to give boto3 credentials, for when it found none."""
    return t("aws.no_credentials.todo")


def credentials_refused_todo() -> str:
    """What to try when AWS refuses credentials: log in again, or check the region."""
    return t("aws.credentials_refused.todo")


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
        return t("errors.no_credentials.what"), no_credentials_todo()
    if isinstance(exc, (UnauthorizedSSOTokenError, TokenRetrievalError, SSOError)):
        return t("errors.sso.what"), t("errors.sso.todo")
    if isinstance(exc, NoRegionError):
        return t("errors.no_region.what"), t("errors.no_region.todo", default=DEFAULT_REGION)
    if isinstance(exc, EndpointConnectionError):
        url = str(getattr(exc, "kwargs", {}).get("endpoint_url", ""))
        if "127.0.0.1" in url or "localhost" in url:
            return t("errors.local_down.what"), t("errors.local_down.todo")
        return t("errors.unreachable.what", where=url or "AWS"), t("errors.unreachable.todo")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "?")), str(error.get("Message", ""))
        return _explain_client_error(exc.operation_name, code, message)
    return None


def _explain_client_error(operation: str, code: str, message: str) -> tuple[str, str]:
    """*what* and *todo* for an AWS error answer, by its code (and message where needed)."""
    said = {"operation": operation, "code": code, "message": message}
    if code in _DENIED:
        return _denied(operation, code, message)
    if code in _THROTTLED:
        return t("errors.throttled.what", **said), t("errors.throttled.todo")
    if code in _BAD_CREDENTIALS:
        return t("errors.bad_credentials.what", **said), credentials_refused_todo()
    if "LimitExceeded" in code or "QuotaExceeded" in code or code == "CodeStorageExceededException":
        return t("errors.quota.what", **said), t("errors.quota.todo") + " " + left_as_is()
    if code == "InvalidParameterValueException" and "cannot be assumed" in message:
        return t("errors.role_not_ready.what", **said), t("errors.role_not_ready.todo")
    if code in ("InvalidParameter", "InvalidParameterException") and "different tags" in message:
        return t("errors.tags_differ.what", **said), name_taken_todo()
    if code in _TAKEN:
        return t("errors.taken.what", **said), name_taken_todo()
    if code == "InvalidCiphertextException":
        return t("errors.invalid_ciphertext.what", **said), t("errors.invalid_ciphertext.todo")
    if code == "KMSInvalidStateException" and "pending deletion" in message.lower():
        return t("errors.key_pending.what", **said), t("errors.key_pending.todo")
    if code in _NOT_FOUND:
        return (t("errors.not_found.what", operation=operation,
                  message=message or t("errors.not_found.default")),
                t("errors.not_found.todo"))
    return t("errors.other.what", **said), t("errors.other.todo")


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


# The service of each kind of resource whose tags the lab reads, for a denial whose message does
# not name the action (an SCP's, say): the action is then "<service>:<operation>".
_TAG_SERVICES = {"SNS topic": "sns", "SQS queue": "sqs", "Lambda function": "lambda",
                 "CloudWatch alarm": "cloudwatch", "Log group": "logs", "KMS key": "kms",
                 "EC2 instance": "ec2", "IAM role": "iam", "IAM policy": "iam",
                 "IAM instance profile": "iam", "SSM parameter": "ssm",
                 "CloudFormation stack": "cloudformation", "S3 bucket": "s3"}


def read_tags(kind: str, name: str, read: Callable[[], Any], label: str = "") -> Any:
    """``read()``, the tags of the existing resource *name*; a LabError naming the permission
    to add when AWS denies the read (``lambda:ListTags``, say), instead of AWS's own error.

    *kind* is the English kind ("Lambda function"); *label* the same for the learner.
    """
    from botocore.exceptions import ClientError

    try:
        return read()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code not in _DENIED:
            raise
        operation = exc.operation_name
        denial = parse_denial(message, operation, code) or Denial(
            action=f"{_TAG_SERVICES.get(kind, kind.split()[0].lower())}:{operation}")
        who = denial.principal or t("errors.denied.your_identity")
        raise LabError(t("errors.tags_denied.what", kind=label or kind, name=name, who=who,
                         action=denial.action), _denial_todo(denial)) from exc


def check_ours(kind: str, name: str, found_tags: Any, our_tags: dict[str, str]) -> None:
    """Raise a LabError unless the existing resource *name* carries every one of *our_tags*.

    Labkit changes only what it made: a resource of the same name without the lab's tags is
    someone else's (or made by hand), and the learner decides what happens to it.
    """
    found = tags_as_dict(found_tags)
    if all(found.get(key) == value for key, value in our_tags.items()):
        return
    shown = (", ".join(f"{k}={v}" for k, v in sorted(found.items()))
             or t("errors.not_ours.no_tags"))
    wanted = ", ".join(f"{k}={v}" for k, v in our_tags.items())
    raise LabError(t("errors.not_ours.what", kind=kind, name=name, shown=shown, wanted=wanted),
                   name_taken_todo())
