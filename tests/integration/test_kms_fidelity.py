"""KMS as the lesson needs it, on a real local cloud (moto with labkit's KMS patches).

One local cloud (own LABKIT_HOME) serves the module; each test makes its own keys.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from importlib.util import find_spec

import boto3
import pytest

from labkit.local.kms import fidelity as kms_fidelity

from .support import error_of

pytestmark = pytest.mark.integration

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
HOOK = "hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
CONTEXT = {"LambdaFunctionName": "mission-lambda"}



@pytest.fixture
def kms(endpoint):
    return boto3.client("kms", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")



def new_key(kms) -> dict:
    return kms.create_key(Description=f"mission-kms-key {uuid.uuid4().hex[:6]}")["KeyMetadata"]


def state_of(kms, key_id) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def test_a_new_key_is_a_symmetric_encrypt_decrypt_key(kms):
    metadata = new_key(kms)
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert "SigningAlgorithms" not in metadata
    assert kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"]["KeyUsage"] == \
        "ENCRYPT_DECRYPT"
    signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    assert signing["KeyUsage"] == "SIGN_VERIFY"


# -- encryption context -------------------------------------------------------------------------

def test_wrong_or_missing_encryption_context_is_invalid_ciphertext(kms):
    key = new_key(kms)
    with_context = kms.encrypt(KeyId=key["KeyId"], Plaintext=HOOK.encode(),
                               EncryptionContext=CONTEXT)["CiphertextBlob"]
    without_context = kms.encrypt(KeyId=key["KeyId"], Plaintext=HOOK.encode())["CiphertextBlob"]

    assert kms.decrypt(CiphertextBlob=with_context, EncryptionContext=CONTEXT)["Plaintext"] == \
        HOOK.encode()
    # AWS sends InvalidCiphertextException with no message at all: boto3 shows an empty one.
    for blob, context in [(with_context, {}), (with_context, {"LambdaFunctionName": "other"}),
                          (without_context, CONTEXT)]:
        status, code, message = error_of(
            lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=context))
        assert (status, code, message) == (400, "InvalidCiphertextException", "")
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as raised:
        kms.decrypt(CiphertextBlob=with_context)
    assert str(raised.value) == \
        "An error occurred (InvalidCiphertextException) when calling the Decrypt operation: "


def test_the_placeholder_and_foreign_ciphertexts_fail_as_on_aws(endpoint, kms):
    # The lesson's placeholder kmsEncryptedHookUrl=test, base64-decoded by the function.
    assert error_of(lambda: kms.decrypt(CiphertextBlob=base64.b64decode("test")))[:2] == \
        (400, "InvalidCiphertextException")
    # A ciphertext made in another region names a key this region does not have.
    elsewhere = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    blob = elsewhere.encrypt(KeyId=new_key(elsewhere)["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob)) == (
        400, "AccessDeniedException",
        "The ciphertext refers to a customer master key that does not exist, does not exist in "
        "this region, or you are not allowed to access.")


# -- key states ---------------------------------------------------------------------------------

def test_a_disabled_key_refuses_to_encrypt_and_decrypt(kms):
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x",
                       EncryptionContext=CONTEXT)["CiphertextBlob"]
    kms.disable_key(KeyId=key["Arn"])  # a key ARN works here as on AWS
    assert state_of(kms, key["KeyId"]) == "Disabled"

    disabled = (400, "DisabledException", f"{key['Arn']} is disabled.")
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)) == disabled
    assert error_of(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")) == disabled
    assert error_of(lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")) == \
        disabled

    kms.enable_key(KeyId=key["Arn"])
    assert state_of(kms, key["KeyId"]) == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"x"


def test_a_key_pending_deletion_refuses_everything_until_cancelled(kms):
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    scheduled = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert scheduled["KeyId"] == key["Arn"]
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    assert scheduled["DeletionDate"]
    assert state_of(kms, key["KeyId"]) == "PendingDeletion"

    pending = (400, "KMSInvalidStateException", f"{key['Arn']} is pending deletion.")
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob)) == pending
    assert error_of(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")) == pending
    assert error_of(lambda: kms.schedule_key_deletion(KeyId=key["KeyId"])) == pending
    assert error_of(lambda: kms.enable_key(KeyId=key["KeyId"])) == pending
    assert error_of(lambda: kms.disable_key(KeyId=key["KeyId"])) == pending

    assert kms.cancel_key_deletion(KeyId=key["Arn"])["KeyId"] == key["Arn"]
    assert state_of(kms, key["KeyId"]) == "Disabled"  # as on AWS: cancelled keys stay disabled
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob))[1] == "DisabledException"
    assert error_of(lambda: kms.cancel_key_deletion(KeyId=key["KeyId"])) == (
        400, "KMSInvalidStateException", f"{key['Arn']} is not pending deletion.")
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_schedule_key_deletion_defaults_to_thirty_days(kms):
    key = new_key(kms)
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"])
    assert (scheduled["KeyId"], scheduled["PendingWindowInDays"]) == (key["Arn"], 30)


@pytest.mark.parametrize("days,constraint", [
    (5, "greater than or equal to 7"), (6, "greater than or equal to 7"),
    (1, "greater than or equal to 7"), (31, "less than or equal to 30"),
    (365, "less than or equal to 30"),
])
def test_a_pending_window_outside_7_to_30_days_is_rejected(kms, days, constraint):
    key = new_key(kms)
    assert error_of(lambda: kms.schedule_key_deletion(KeyId=key["Arn"],
                                                      PendingWindowInDays=days)) == (
        400, "ValidationException",
        f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
        f"satisfy constraint: Member must have value {constraint}")
    assert state_of(kms, key["KeyId"]) == "Enabled"


def test_a_key_arn_alias_name_or_alias_arn_works_wherever_aws_accepts_one(kms):
    key = new_key(kms)
    alias = f"alias/mission-kms-key-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    every_name = [key["KeyId"], key["Arn"], alias, alias_arn]

    for name in every_name:
        assert kms.describe_key(KeyId=name)["KeyMetadata"]["Arn"] == key["Arn"]
        blob = kms.encrypt(KeyId=name, Plaintext=b"x", EncryptionContext=CONTEXT)
        assert blob["KeyId"] == key["Arn"]
        for decrypt_with in every_name:
            answer = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], KeyId=decrypt_with,
                                 EncryptionContext=CONTEXT)
            assert answer["Plaintext"] == b"x"
    # Key-state operations take a key id or key ARN (aliases are not accepted by AWS there).
    for name in (key["KeyId"], key["Arn"]):
        kms.disable_key(KeyId=name)
        kms.enable_key(KeyId=name)
        kms.schedule_key_deletion(KeyId=name, PendingWindowInDays=7)
        kms.cancel_key_deletion(KeyId=name)
        kms.enable_key(KeyId=name)
    assert state_of(kms, alias) == "Enabled"


# -- the source lab's own commands, with the AWS CLI -------------------------------------------

def aws_cli(endpoint, tmp_path, *args: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing",
               # No profile or config of whoever runs the tests may leak in.
               AWS_CONFIG_FILE=str(tmp_path / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"))
    done = subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.mark.skipif(find_spec("awscli") is None, reason="the AWS CLI (awscli) is not installed")
def test_the_source_labs_cli_commands_work_unchanged(endpoint, kms, tmp_path):
    created = aws_cli(endpoint, tmp_path, "kms", "create-key", "--region", REGION)
    key_id = created["KeyMetadata"]["KeyId"]
    alias = f"alias/mission-kms-key-{uuid.uuid4().hex[:6]}"
    aws_cli(endpoint, tmp_path, "kms", "create-alias", "--alias-name", alias,
            "--target-key-id", key_id, "--region", REGION)
    plaintext = tmp_path / "hook.txt"
    plaintext.write_bytes(HOOK.encode())  # what `echo -n "..."` feeds the lab's command
    encrypted = aws_cli(endpoint, tmp_path, "kms", "encrypt", "--key-id", alias,
                        "--plaintext", f"fileb://{plaintext}", "--region", REGION,
                        "--encryption-context", "LambdaFunctionName=mission-lambda")
    assert encrypted["KeyId"] == created["KeyMetadata"]["Arn"]

    # The CiphertextBlob the learner puts in kmsEncryptedHookUrl, decrypted as the function does.
    blob = base64.b64decode(encrypted["CiphertextBlob"])
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == HOOK.encode()
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob))[1] == "InvalidCiphertextException"

    # The lab's cleanup step: the 7-day minimum waiting period.
    scheduled = aws_cli(endpoint, tmp_path, "kms", "schedule-key-deletion", "--key-id", key_id,
                        "--pending-window-in-days", "7", "--region", REGION)
    assert scheduled["KeyState"] == "PendingDeletion"


# -- moto's ciphertexts name their key (the rest of moto it relies on: test_moto_patches.py) ---

def test_moto_ciphertexts_still_carry_the_key_id():
    from moto.kms.utils import encrypt

    class FakeKey:
        key_material = b"k" * 32

    key_id = str(uuid.uuid4())
    blob = encrypt({key_id: FakeKey()}, key_id, b"x", {})
    assert kms_fidelity.ciphertext_key_id(blob) == key_id
    assert kms_fidelity.ciphertext_key_id(b"test") is None
