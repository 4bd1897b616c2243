"""SNS signs what it delivers with one key, as AWS does with one certificate per region.

moto made a 2048-bit RSA key for every subscription, on its first message: about a tenth of a
second of CPU each time a learner's topic first notified the function. The local cloud serves
one region, so one key made once serves every subscription.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

_lock = threading.Lock()
_key: rsa.RSAPrivateKey | None = None


def signing_key() -> rsa.RSAPrivateKey:
    """The local cloud's SNS signing key, made on first use (once, whichever thread asks)."""
    global _key
    with _lock:
        if _key is None:
            _key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _key


def subscription_private_key(self: Any) -> rsa.RSAPrivateKey:  # noqa: ARG001 - all alike
    """``sns.models.Subscription.private_key``: every subscription signs with :func:`signing_key`
    (``labkit.local.moto_patches`` installs it)."""
    return signing_key()
