"""SNS signs what it delivers with one key, as AWS does with one certificate per region.

moto made a 2048-bit RSA key for every subscription, on its first message: about a tenth of a
second of CPU each time a learner's topic first notified the function. The local cloud serves
one region, so one key made once serves every subscription.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

_MARK = "_labkit_one_signing_key"
_lock = threading.Lock()
_key: rsa.RSAPrivateKey | None = None


def signing_key() -> rsa.RSAPrivateKey:
    """The local cloud's SNS signing key, made on first use (once, whichever thread asks)."""
    global _key
    with _lock:
        if _key is None:
            _key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _key


def _private_key(self: Any) -> rsa.RSAPrivateKey:  # noqa: ARG001 - every subscription alike
    return signing_key()


def install() -> None:
    """Make every SNS subscription of this process sign with :func:`signing_key` (idempotent);
    raises RuntimeError if moto moved the method it replaces."""
    from moto.sns.models import Subscription

    original = getattr(Subscription, "private_key", None)
    if getattr(original, _MARK, False):
        return
    if not callable(original):
        raise RuntimeError("moto moved moto.sns.models.Subscription.private_key, which labkit "
                           "replaces: pin moto to the version it was written for "
                           "(see pyproject.toml).")
    setattr(_private_key, _MARK, True)
    Subscription.private_key = _private_key
