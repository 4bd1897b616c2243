"""A symmetric KMS key gets moto's RSA key pair only when something uses it."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.kms import models as kms_models

from labkit.local import moto_patches
from labkit.local.kms import fidelity as kms_fidelity

THIS_PATCH = {"labkit.local.kms.fidelity"}


@pytest.fixture
def kms():
    moto_patches.install(only=THIS_PATCH)
    try:
        with mock_aws():
            yield boto3.client("kms", region_name="ap-northeast-2")
    finally:
        moto_patches.uninstall(only=THIS_PATCH)


def backend_key(key_id: str):
    return kms_models.kms_backends["123456789012"]["ap-northeast-2"].keys[key_id]


def test_a_symmetric_key_makes_no_key_pair_and_still_encrypts(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    pair = backend_key(key_id).private_key
    assert isinstance(pair, kms_fidelity._KeyPairOnFirstUse) and pair._pair is None
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"hooks")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hooks"
    assert pair._pair is None


def test_the_pair_is_made_when_used_and_then_kept(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    pair = backend_key(key_id).private_key
    pair.public_key()  # what GetPublicKey reads
    made = pair._pair
    assert made is not None
    pair.public_key()
    assert pair._pair is made


def test_an_asymmetric_key_gets_its_pair_at_once_and_signs(kms):
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    assert not isinstance(backend_key(key_id).private_key, kms_fidelity._KeyPairOnFirstUse)
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert kms.verify(KeyId=key_id, Message=b"m", Signature=signature["Signature"],
                      SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
