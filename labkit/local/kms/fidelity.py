"""KMS as the lesson needs it: patches to moto 5.2.5's KMS where it differs from AWS.

``install()`` wraps a few methods of ``moto.kms.models.KmsBackend`` and
``moto.kms.responses.KmsResponse`` (it never rewrites them), so that:

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

moto is pinned to 5.2.x; ``install()`` raises at once if a method it wraps has moved.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any, Callable

from moto.core.exceptions import JsonRESTError
from moto.kms import models as kms_models
from moto.kms import utils as kms_utils
from moto.kms.exceptions import AccessDeniedException
from moto.kms.models import Key, KmsBackend
from moto.kms.responses import KmsResponse

MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30

# The methods install() wraps, by class.
PATCHED_BACKEND_METHODS = ("create_key", "encrypt", "decrypt", "disable_key", "enable_key",
                           "cancel_key_deletion", "schedule_key_deletion")
PATCHED_RESPONSE_METHODS = ("schedule_key_deletion", "cancel_key_deletion")

_MARK = "_labkit_kms_fidelity"


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


def _wrap_create_key(original: Callable) -> Callable:
    @functools.wraps(original)
    def create_key(self: KmsBackend, policy: str | None, key_usage: str | None,
                   *args: Any, **kwargs: Any) -> Key:
        return original(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)
    return create_key


def _wrap_encrypt(original: Callable) -> Callable:
    @functools.wraps(original)
    def encrypt(self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
        key = key_by_any_id(self, key_id)
        if key is not None:
            ensure_usable(key)
        return original(self, key_id, *args, **kwargs)
    return encrypt


def _wrap_decrypt(original: Callable) -> Callable:
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


def _wrap_schedule_response(original: Callable) -> Callable:
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


def _wrap_cancel_response(original: Callable) -> Callable:
    @functools.wraps(original)
    def cancel_key_deletion(self: KmsResponse) -> str:
        answer = json.loads(original(self))
        answer["KeyId"] = self.kms_backend.describe_key(answer["KeyId"]).arn
        return json.dumps(answer)
    return cancel_key_deletion


def _patch(cls: type, name: str, wrapper: Callable[[Callable], Callable]) -> None:
    original = getattr(cls, name, None)
    if original is None or not callable(original):
        raise RuntimeError(
            f"moto moved {cls.__module__}.{cls.__name__}.{name}, which labkit's KMS fidelity "
            "patch wraps: pin moto to the version it was written for (see pyproject.toml)."
        )
    if getattr(original, _MARK, False):
        return
    wrapped = wrapper(original)
    setattr(wrapped, _MARK, True)
    setattr(cls, name, wrapped)


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


def _defer_symmetric_key_pairs(original: Callable[[str], Any]) -> Callable[[str], Any]:
    @functools.wraps(original)
    def generate_private_key(key_spec: str) -> Any:
        if key_spec != "SYMMETRIC_DEFAULT":
            return original(key_spec)
        return _KeyPairOnFirstUse(lambda: original(key_spec))
    setattr(generate_private_key, _MARK, True)
    return generate_private_key


def install() -> None:
    """Patch moto's KMS in this process (idempotent); raises RuntimeError if moto changed."""
    if not callable(getattr(kms_utils, "_deserialize_ciphertext_blob", None)):
        raise RuntimeError("moto.kms.utils._deserialize_ciphertext_blob moved: pin moto 5.2.x.")
    original = getattr(kms_models, "generate_private_key", None)
    if not callable(original):
        raise RuntimeError("moto.kms.models.generate_private_key moved: pin moto 5.2.x.")
    if not getattr(original, _MARK, False):
        kms_models.generate_private_key = _defer_symmetric_key_pairs(original)
    _patch(KmsBackend, "create_key", _wrap_create_key)
    _patch(KmsBackend, "encrypt", _wrap_encrypt)
    _patch(KmsBackend, "decrypt", _wrap_decrypt)
    _patch(KmsBackend, "disable_key", lambda f: _wrap_key_state_change(
        f, ensure_not_pending_deletion))
    _patch(KmsBackend, "enable_key", lambda f: _wrap_key_state_change(
        f, ensure_not_pending_deletion))
    _patch(KmsBackend, "cancel_key_deletion", lambda f: _wrap_key_state_change(
        f, _must_be_pending_deletion))
    _patch(KmsBackend, "schedule_key_deletion", lambda f: _wrap_key_state_change(
        f, ensure_not_pending_deletion))
    _patch(KmsResponse, "schedule_key_deletion", _wrap_schedule_response)
    _patch(KmsResponse, "cancel_key_deletion", _wrap_cancel_response)


def installed() -> bool:
    """Whether ``install()`` has run in this process."""
    return all(getattr(getattr(KmsBackend, name), _MARK, False)
               for name in PATCHED_BACKEND_METHODS) and all(
        getattr(getattr(KmsResponse, name), _MARK, False) for name in PATCHED_RESPONSE_METHODS)
