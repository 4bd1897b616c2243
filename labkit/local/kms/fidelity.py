"""KMS as the lesson needs it: patches to moto 5.2's KMS where it differs from AWS.

This module's wrappers of a few methods of ``moto.kms.models.KmsBackend`` and
``moto.kms.responses.KmsResponse`` (they wrap, never rewrite; ``labkit.local.moto_patches``
installs them) make it so that:

* ``CreateKey`` without ``KeyUsage`` makes an ``ENCRYPT_DECRYPT`` key, as AWS does (moto left the
  usage empty, so ``KeyUsage`` was missing from the key's metadata);
* a disabled key refuses to encrypt or decrypt (``DisabledException``, "<key arn> is disabled.")
  and so does a key pending deletion (``KMSInvalidStateException``, "<key arn> is pending
  deletion."); moto lets both work. GenerateDataKey and ReEncrypt go through the same two methods;
* ``ScheduleKeyDeletion`` rejects a ``PendingWindowInDays`` outside 7-30 with AWS's
  ``ValidationException`` (moto accepted it silently and scheduled nothing), refuses a key that
  is already pending deletion, and answers with the key ARN, ``KeyState`` and the window;
* ``ScheduleKeyDeletion``, ``CancelKeyDeletion``, ``EnableKey`` and ``DisableKey`` accept a key ARN
  as AWS does (moto answered HTTP 500); a key pending deletion can be neither enabled nor
  disabled, and only a key pending deletion can have its deletion cancelled;
* ``AccessDeniedException`` from Decrypt keeps its message (moto sent an empty body), so a
  ciphertext of an unknown key says "The ciphertext refers to a customer master key that does
  not exist, does not exist in this region, or you are not allowed to access."

* a symmetric key gets the RSA key pair moto gives every key only if something signs or
  verifies with it (AWS refuses that of a symmetric key anyway): making one took about a tenth
  of a second of CPU at every CreateKey.

Already right in moto, and kept so by tests: a wrong or missing encryption context fails with
``InvalidCiphertextException`` and an empty message, as on AWS; aliases and alias ARNs work for
Encrypt, Decrypt and DescribeKey.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any, Callable

from moto.core.exceptions import JsonRESTError
from moto.kms import utils as kms_utils
from moto.kms.exceptions import AccessDeniedException
from moto.kms.models import Key, KmsBackend
from moto.kms.responses import KmsResponse

MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30


class DisabledException(JsonRESTError):
    """AWS's answer to a cryptographic operation with a disabled key."""

    code = 400

    def __init__(self, key: Key) -> None:
        super().__init__("DisabledException", f"{key.arn} is disabled.")


class KMSInvalidStateException(JsonRESTError):
    """AWS's answer when a key's state does not allow the operation."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("KMSInvalidStateException", message)


def ensure_usable(key: Key) -> None:
    """Raise as AWS does when *key* may not be used for a cryptographic operation."""
    if key.key_state == "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")
    if key.key_state == "Disabled" or not key.enabled:
        raise DisabledException(key)


def ensure_not_pending_deletion(key: Key) -> None:
    """Raise as AWS does when *key* is pending deletion and the operation needs it not to be."""
    if key.key_state == "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")


def pending_window_error(days: Any) -> JsonRESTError | None:
    """AWS's ValidationException for a ``PendingWindowInDays`` outside 7-30, else None."""
    if not isinstance(days, int) or isinstance(days, bool):
        return None  # botocore only ever sends an integer here
    if days < MIN_PENDING_WINDOW_DAYS:
        constraint = f"greater than or equal to {MIN_PENDING_WINDOW_DAYS}"
    elif days > MAX_PENDING_WINDOW_DAYS:
        constraint = f"less than or equal to {MAX_PENDING_WINDOW_DAYS}"
    else:
        return None
    return JsonRESTError(
        "ValidationException",
        f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
        f"satisfy constraint: Member must have value {constraint}",
    )


def ciphertext_key_id(ciphertext_blob: bytes) -> str | None:
    """The key id moto wrote into one of its ciphertext blobs, or None for anything else."""
    try:
        return kms_utils._deserialize_ciphertext_blob(ciphertext_blob).key_id
    except Exception:  # not a moto ciphertext (the lesson's placeholder "test", say)
        return None


# -- wrappers -----------------------------------------------------------------------------------

def key_by_any_id(backend: KmsBackend, key_id: str) -> Key | None:
    """The key named by an id, key ARN, alias name or alias ARN; None when there is none."""
    alias_name = backend.get_alias_name(key_id)
    if alias_name.startswith("alias/"):
        target = backend.get_key_id_from_alias(alias_name)
        return backend.keys.get(target) if target else None
    return backend.keys.get(backend.get_key_id(key_id))


def wrap_create_key(original: Callable) -> Callable:
    """``KmsBackend.create_key``: a key made without ``KeyUsage`` is ``ENCRYPT_DECRYPT``."""
    @functools.wraps(original)
    def create_key(self: KmsBackend, policy: str | None, key_usage: str | None,
                   *args: Any, **kwargs: Any) -> Key:
        return original(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)
    return create_key


def wrap_encrypt(original: Callable) -> Callable:
    """``KmsBackend.encrypt``: a disabled key, or one pending deletion, refuses."""
    @functools.wraps(original)
    def encrypt(self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
        key = key_by_any_id(self, key_id)
        if key is not None:
            ensure_usable(key)
        return original(self, key_id, *args, **kwargs)
    return encrypt


def wrap_decrypt(original: Callable) -> Callable:
    """``KmsBackend.decrypt``: a disabled key, or one pending deletion, refuses; a refusal keeps
    its message."""
    @functools.wraps(original)
    def decrypt(self: KmsBackend, ciphertext_blob: bytes, *args: Any, **kwargs: Any) -> Any:
        key_id = ciphertext_key_id(ciphertext_blob)
        if key_id is not None and key_id in self.keys:
            ensure_usable(self.keys[key_id])
        try:
            return original(self, ciphertext_blob, *args, **kwargs)
        except AccessDeniedException as denied:
            # moto's class replaces the JSON body with one that has no message: send it.
            raise JsonRESTError("AccessDeniedException", denied.message) from None
    return decrypt


def _wrap_key_state_change(original: Callable, check: Callable[[Key], None]) -> Callable:
    """Accept a key ARN (moto indexes by key id only) and check the key's state first."""
    @functools.wraps(original)
    def change(self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
        key_id = self.get_key_id(key_id)
        if key_id in self.keys:
            check(self.keys[key_id])
        return original(self, key_id, *args, **kwargs)
    return change


def _must_be_pending_deletion(key: Key) -> None:
    if key.key_state != "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is not pending deletion.")


def wrap_enable_key(original: Callable) -> Callable:
    """``KmsBackend.enable_key``: takes a key ARN; refuses a key pending deletion."""
    return _wrap_key_state_change(original, ensure_not_pending_deletion)


def wrap_disable_key(original: Callable) -> Callable:
    """``KmsBackend.disable_key``: takes a key ARN; refuses a key pending deletion."""
    return _wrap_key_state_change(original, ensure_not_pending_deletion)


def wrap_schedule_key_deletion(original: Callable) -> Callable:
    """``KmsBackend.schedule_key_deletion``: takes a key ARN; refuses a key already pending
    deletion."""
    return _wrap_key_state_change(original, ensure_not_pending_deletion)


def wrap_cancel_key_deletion(original: Callable) -> Callable:
    """``KmsBackend.cancel_key_deletion``: takes a key ARN; only a key pending deletion."""
    return _wrap_key_state_change(original, _must_be_pending_deletion)


def wrap_schedule_key_deletion_response(original: Callable) -> Callable:
    """``KmsResponse.schedule_key_deletion``: checks the window (7-30 days) and answers as AWS
    does, with the key ARN, its state and the window."""
    @functools.wraps(original)
    def schedule_key_deletion(self: KmsResponse) -> str:
        days = self._get_param("PendingWindowInDays")
        error = pending_window_error(days)
        if error is not None:
            raise error
        answer = json.loads(original(self))
        key = self.kms_backend.describe_key(answer["KeyId"])
        # AWS answers with the key ARN, the new state and the window it applied.
        answer.update({"KeyId": key.arn, "KeyState": key.key_state,
                       "PendingWindowInDays": 30 if days is None else days})
        return json.dumps(answer)
    return schedule_key_deletion


def wrap_cancel_key_deletion_response(original: Callable) -> Callable:
    """``KmsResponse.cancel_key_deletion``: answers with the key ARN, as AWS does."""
    @functools.wraps(original)
    def cancel_key_deletion(self: KmsResponse) -> str:
        answer = json.loads(original(self))
        answer["KeyId"] = self.kms_backend.describe_key(answer["KeyId"]).arn
        return json.dumps(answer)
    return cancel_key_deletion


class _KeyPairOnFirstUse:
    """Stands for the key pair moto would make for a symmetric key, and makes it when used."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._pair: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._pair is None:
                self._pair = self._make()
        return getattr(self._pair, name)


def defer_symmetric_key_pairs(original: Callable[[str], Any]) -> Callable[[str], Any]:
    """``kms.models.generate_private_key``: a symmetric key's pair is made only when used."""
    @functools.wraps(original)
    def generate_private_key(key_spec: str) -> Any:
        if key_spec != "SYMMETRIC_DEFAULT":
            return original(key_spec)
        return _KeyPairOnFirstUse(lambda: original(key_spec))
    return generate_private_key
