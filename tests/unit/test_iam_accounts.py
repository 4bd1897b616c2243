"""moto's access-key lookup, answered from the partitions whose IAM exists."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam import models

from labkit.local import moto_patches

THIS_PATCH = {"labkit.local.iam.accounts"}


def install() -> None:
    moto_patches.install(only=THIS_PATCH)


@pytest.fixture
def moto_iam(monkeypatch):
    """In-process moto with AWS managed policies, as the local cloud has them."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    try:
        with mock_aws():
            models.iam_backends[DEFAULT_ACCOUNT_ID]["aws"]  # as the local cloud's first call does
            yield models.iam_backends
    finally:
        moto_patches.uninstall(only=THIS_PATCH)


def built_partitions(backends) -> set[str]:
    return {partition for account in backends.values() for partition in account.keys()}


def test_moto_itself_builds_iam_in_every_partition_to_look_up_an_unknown_key(moto_iam):
    """What the module is for: if moto stops doing this, the module can go."""
    assert models.get_account_id_from("AKIAUNKNOWN0000000000") == DEFAULT_ACCOUNT_ID
    assert len(built_partitions(moto_iam)) == 6


def test_an_unknown_key_is_the_default_account_and_builds_nothing(moto_iam):
    install()
    assert models.get_account_id_from("AKIAUNKNOWN0000000000") == DEFAULT_ACCOUNT_ID
    assert built_partitions(moto_iam) == {"aws"}


def test_a_key_made_in_another_account_is_found_there(moto_iam):
    install()
    install()  # twice is once
    other = "210987654321"
    iam = moto_iam[other]["aws"]
    iam.create_user(region_name="ap-northeast-2", user_name="kim", path="/", tags=[])
    key = iam.create_access_key("kim").access_key_id
    assert models.get_account_id_from(key) == other
    assert built_partitions(moto_iam) == {"aws"}


def test_a_request_signed_with_that_key_acts_in_its_account(moto_iam):
    install()
    other = "210987654321"
    iam = moto_iam[other]["aws"]
    iam.create_user(region_name="ap-northeast-2", user_name="kim", path="/", tags=[])
    key = iam.create_access_key("kim")
    sts = boto3.client("sts", region_name="ap-northeast-2", aws_access_key_id=key.access_key_id,
                       aws_secret_access_key=key.secret_access_key)
    assert sts.get_caller_identity()["Account"] == other


def test_a_moved_function_is_refused_with_what_to_do(monkeypatch):
    def moved(key, partition):
        return ""

    monkeypatch.setattr(models, "get_account_id_from", moved)
    with pytest.raises(RuntimeError, match="pin moto") as refused:
        install()
    assert "moto.iam.models.get_account_id_from" in str(refused.value)
    assert models.get_account_id_from is moved  # left as it was
