"""Which account an access key belongs to, without building IAM in every partition.

moto answers that (for every request signed with a key it did not make itself) by looking in
each account's IAM in each of the six partitions - aws, aws-cn, aws-us-gov, ... - which builds
the IAM of every partition not used yet, each with its ~1,600 AWS managed policies. In the
local cloud that was about a second of CPU for every cloud started, and again for every
account a learner's keys name. A partition whose IAM was never built holds no keys, so
looking only in the ones built gives the same answer. :func:`account_of` stands in for moto's
``moto.iam.models.get_account_id_from`` (``labkit.local.moto_patches`` installs it).
"""

from __future__ import annotations


def account_of(access_key: str) -> str:
    """The account whose IAM holds *access_key*, or moto's default account."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    for account_id, account in list(iam_backends.items()):  # a copy: other threads add
        for partition in list(account.keys()):  # only the partitions whose IAM exists
            if access_key in account[partition].access_keys:
                return account_id
    return DEFAULT_ACCOUNT_ID
