"""What notebook 07's cleanup exercises remove, looked up by the names the notebook uses.

"It is gone" alone proves nothing: a learner who never built the alarm has no alarm to
delete. So the nbgrader course records, right after notebook 07 starts the lab, what of it
exists (:func:`present`), and each cleanup exercise's test asks which of those are still
there (:func:`still_there`). Each *thing* is a set of identifiers:

* ``alarm``, ``topic``, ``function``, ``role``: the learner's resource of that name (07.1,
  07.2, 07.3, 07.5);
* ``role_policies``: the ARNs of the policies attached to the function's role (07.4 detaches
  them);
* ``keys``: the ids of the learner's KMS keys not yet pending deletion: the alias's key and
  every key with the learner's tags, as 07.6 finds them. "Removed" means pending deletion:
  KMS never deletes a key at once.

Only describe/get/list calls: nothing here changes the cloud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

from botocore.exceptions import ClientError

from ..inventory import NOT_FOUND_CODES, tagged_arns

if TYPE_CHECKING:
    from ..lab import Lab

THINGS = ("alarm", "topic", "function", "role_policies", "role", "keys")

# The KMS key states of a key scheduled for deletion: "removed", as far as KMS allows.
_PENDING = ("PendingDeletion", "PendingReplicaDeletion")

T = TypeVar("T")


def _look(call: Callable[[], T]) -> T | None:
    """What the describe/get *call* answers, or None when its resource does not exist."""
    try:
        return call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return None
        raise


def topic_arn(lab: Lab) -> str:
    """The ARN of the learner's topic, built from its name as notebook 07 does."""
    return f"arn:aws:sns:{lab.region}:{lab.account}:{lab.names.topic}"


def _alarm_exists(lab: Lab, name: str) -> bool:
    return bool(lab.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"])


def _topic_exists(lab: Lab, arn: str) -> bool:
    return _look(lambda: lab.client("sns").get_topic_attributes(TopicArn=arn)) is not None


def _function_exists(lab: Lab, name: str) -> bool:
    return _look(lambda: lab.client("lambda").get_function_configuration(
        FunctionName=name)) is not None


def _role_exists(lab: Lab, name: str) -> bool:
    return _look(lambda: lab.client("iam").get_role(RoleName=name)) is not None


def attached_policies(lab: Lab) -> set[str]:
    """ARNs of the policies attached to the learner's function role (none when it is gone)."""
    pages = lab.client("iam").get_paginator("list_attached_role_policies").paginate(
        RoleName=lab.names.role)
    return _look(lambda: {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}) \
        or set()


def _key(lab: Lab, key_id: str) -> dict | None:
    answer = _look(lambda: lab.client("kms").describe_key(KeyId=key_id))
    return answer["KeyMetadata"] if answer else None


def key_in_use(lab: Lab, key_id: str) -> bool:
    """Whether KMS key *key_id* exists and is not pending deletion."""
    key = _key(lab, key_id)
    return key is not None and key["KeyState"] not in _PENDING


def learners_keys(lab: Lab) -> set[str]:
    """Ids of the keys notebook 07 schedules for deletion: the alias's and the tagged ones."""
    ids = {arn.rsplit("/", 1)[-1] for arn in tagged_arns(lab, ("kms:key",))}
    alias = _key(lab, lab.names.kms_alias)
    return ids | {alias["KeyId"]} if alias else ids


def present(lab: Lab) -> dict[str, frozenset[str]]:
    """Each of :data:`THINGS` -> the identifiers of what exists of it now."""
    def named(name: str, exists: Callable[[Lab, str], bool]) -> frozenset[str]:
        return frozenset([name] if exists(lab, name) else [])

    return {
        "alarm": named(lab.names.alarm, _alarm_exists),
        "topic": named(topic_arn(lab), _topic_exists),
        "function": named(lab.names.function, _function_exists),
        "role_policies": frozenset(attached_policies(lab)),
        "role": named(lab.names.role, _role_exists),
        "keys": frozenset(k for k in learners_keys(lab) if key_in_use(lab, k)),
    }


def still_there(lab: Lab, thing: str, ids: frozenset[str] | set[str]) -> set[str]:
    """Which of *ids* (identifiers of *thing*, as :func:`present` gave them) exist now.

    Each is read again by its own identifier: a key whose alias is gone, or a policy on a
    role that is gone, is still found (or known to be gone).
    """
    if thing == "role_policies":
        return set(ids) & attached_policies(lab) if ids else set()
    exists: dict[str, Callable[[Lab, str], bool]] = {
        "alarm": _alarm_exists, "topic": _topic_exists, "function": _function_exists,
        "role": _role_exists, "keys": key_in_use}
    if thing not in exists:
        raise ValueError(f"unknown thing {thing!r}: one of {', '.join(THINGS)}")
    return {i for i in ids if exists[thing](lab, i)}
