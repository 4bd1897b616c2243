"""SNS messages signed with one key the local cloud makes once, and still verifiable."""

from __future__ import annotations

import base64

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from moto import mock_aws
from moto.sns.models import Subscription, sns_backends

from labkit.local import moto_patches
from labkit.local.sns import signing as sns_signing

THIS_PATCH = {"labkit.local.sns.signing"}


@pytest.fixture
def topic_with_two_subscriptions():
    moto_patches.install(only=THIS_PATCH)
    moto_patches.install(only=THIS_PATCH)  # twice is once
    try:
        with mock_aws():
            sns = boto3.client("sns", region_name="ap-northeast-2")
            arn = sns.create_topic(Name="alarms")["TopicArn"]
            for queue in ("a", "b"):
                sns.subscribe(TopicArn=arn, Protocol="sqs",
                              Endpoint=f"arn:aws:sqs:ap-northeast-2:123456789012:{queue}")
            backend = sns_backends["123456789012"]["ap-northeast-2"]
            yield list(backend.subscriptions.values())
    finally:
        moto_patches.uninstall(only=THIS_PATCH)


def test_every_subscription_signs_with_the_one_key(topic_with_two_subscriptions):
    first, second = topic_with_two_subscriptions
    assert first.private_key() is second.private_key() is sns_signing.signing_key()


def test_a_signed_message_verifies_with_that_keys_public_half(topic_with_two_subscriptions):
    subscription = topic_with_two_subscriptions[0]
    data = subscription.get_post_data("CPU high", "m-1", subject=None)
    assert data["SignatureVersion"] == "2"  # SHA-256, over these fields in this order
    signed = "".join(f"{name}\n{data[name]}\n" for name in
                     ("Message", "MessageId", "Timestamp", "TopicArn", "Type"))
    sns_signing.signing_key().public_key().verify(
        base64.b64decode(data["Signature"]), signed.encode(), padding.PKCS1v15(),
        hashes.SHA256())  # raises if the signature is not that key's


def test_a_moved_method_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(Subscription, "private_key", None)
    with pytest.raises(RuntimeError, match="pin moto") as refused:
        moto_patches.install(only=THIS_PATCH)
    assert "moto.sns.models.Subscription.private_key" in str(refused.value)
    assert Subscription.private_key is None  # left as it was
