"""The key that encrypts a function's environment variables at rest (``KMSKeyArn``).

Lambda keeps a function's environment variables encrypted, by default with the AWS managed key
``aws/lambda``. With ``KMSKeyArn`` set it uses that customer managed key instead, and has to
decrypt the variables with it before the function can run. So while the key is disabled or
pending deletion, ``Invoke`` fails before any code runs, with HTTP 502 and one of Lambda's KMS
errors (Lambda API reference, Invoke, "Errors"):

* ``KMSDisabledException``: the key is disabled;
* ``KMSInvalidStateException``: the key's state does not allow Decrypt (pending deletion,
  pending import, unavailable);
* ``KMSNotFoundException``: there is no such key.

Enabling the key (or cancelling its deletion, then enabling it) makes the function work again.
Asynchronous invocations meet the same error when their turn comes, and are retried, then
dead-lettered, like any failed event.

The key's state is read from moto's KMS backend in this process, with the same checks
:mod:`labkit.local.kms.fidelity` applies to Decrypt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from moto.awslambda.exceptions import LambdaClientError
from moto.core.exceptions import JsonRESTError

from ..kms import fidelity as kms_fidelity

STATUS = 502  # Lambda answers every KMS error of Invoke with a Bad Gateway

# KMS's error for Decrypt -> Lambda's error for Invoke, and the reason Lambda gives.
LAMBDA_ERRORS: Mapping[str, tuple[str, str]] = {
    "DisabledException": ("KMSDisabledException", "the KMS key used is disabled"),
    "KMSInvalidStateException": ("KMSInvalidStateException",
                                 "the KMS key is invalid for Decrypt"),
    "NotFoundException": ("KMSNotFoundException", "the KMS key was not found"),
}


@dataclass(frozen=True)
class KeyProblem:
    """Why Lambda cannot decrypt a function's environment variables: its error code and message."""

    code: str
    message: str


def lambda_error(kms_code: str, kms_message: str) -> KeyProblem:
    """The error Lambda answers Invoke with when KMS refused to decrypt with *kms_code*."""
    code, reason = LAMBDA_ERRORS.get(
        kms_code, ("KMSAccessDeniedException", "KMS access was denied"))
    # Lambda's own wording, down to the missing space before "KMS Message", so that the text
    # a learner searches for is the one AWS shows.
    return KeyProblem(code, f"Lambda was unable to decrypt the environment variables because "
                            f"{reason}. Please check the function's KMS key settings. "
                            f"KMS Exception: {kms_code}KMS Message: {kms_message}")


def key_problem(kms_key_arn: str | None, variables: Mapping[str, str]) -> KeyProblem | None:
    """Why a function with key *kms_key_arn* and *variables* cannot start now, or None.

    Without a customer managed key, or without variables to decrypt, there is nothing to check.
    """
    if not kms_key_arn or not variables:
        return None
    from moto.kms.models import kms_backends

    parts = kms_key_arn.split(":")
    if len(parts) < 6 or parts[2] != "kms":
        return lambda_error("NotFoundException", f"Invalid arn {kms_key_arn}")
    region, account = parts[3], parts[4]
    try:
        backend = kms_backends[account][region]
    except KeyError:  # a region moto does not know holds no keys
        backend = None
    key = kms_fidelity.key_by_any_id(backend, kms_key_arn) if backend is not None else None
    if key is None:
        return lambda_error("NotFoundException", f"Key '{kms_key_arn}' does not exist")
    try:
        kms_fidelity.ensure_usable(key)
    except JsonRESTError as refused:
        return lambda_error(refused.error_type, refused.message)
    return None


class InvokeKMSError(LambdaClientError):
    """The Invoke API's answer when the function's variables cannot be decrypted."""

    code = STATUS

    def __init__(self, problem: KeyProblem) -> None:
        super().__init__(problem.code, problem.message)
