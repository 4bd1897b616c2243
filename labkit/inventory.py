"""What is still left of a learner's lab: every resource tagged for them, found the way AWS allows.

Three sources, because no single API sees everything:

* the Resource Groups Tagging API, which lists tagged resources of most services (SNS, SQS,
  Lambda, CloudWatch alarms, KMS keys, log groups, EC2 instances, notebook 09's CloudFormation
  stack and its S3 bucket);
* IAM, which that API does not cover: roles, instance profiles and customer managed policies,
  read with their tags;
* the function's log group by name, because Lambda creates it without tags.

The tagging API may still list a resource for a while after it was deleted (and keeps
terminated instances and pending-deletion keys), so every resource it names is confirmed with
its own service before it counts as left over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from botocore.exceptions import ClientError

from .show.pipeline import Table
from .i18n import t

if TYPE_CHECKING:
    from .lab import Lab

# Error codes meaning "there is no such resource", across the services the lab uses.
NOT_FOUND_CODES = frozenset({
    "NotFound", "NotFoundException", "ResourceNotFoundException", "ResourceNotFound",
    "NoSuchEntity", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed",
    "NoSuchBucket", "404",  # S3's HeadBucket answers a bare 404
})

# (service, resource type in the ARN) -> the kind shown to the learner.
KINDS = {
    ("sns", ""): "SNS topic",
    ("sns", "subscription"): "SNS subscription",
    ("sqs", ""): "SQS queue",
    ("lambda", "function"): "Lambda function",
    ("cloudwatch", "alarm"): "CloudWatch alarm",
    ("logs", "log-group"): "Log group",
    ("kms", "key"): "KMS key",
    ("kms", "alias"): "KMS alias",
    ("ec2", "instance"): "EC2 instance",
    ("iam", "role"): "IAM role",
    ("iam", "policy"): "IAM policy",
    ("iam", "instance-profile"): "IAM instance profile",
    ("cloudformation", "stack"): "CloudFormation stack",
    ("s3", ""): "S3 bucket",
}

# The order of the inventory table: the pipeline's order, as the cleanup deletes it. A stack
# goes first (it deletes its own resources), then the bucket holding its function's code.
_ORDER = ["CloudFormation stack", "S3 bucket", "CloudWatch alarm", "SNS subscription", "SNS topic",
          "SQS queue", "Lambda function", "Log group", "IAM policy", "IAM role", "EC2 instance",
          "IAM instance profile", "KMS alias", "KMS key"]


@dataclass(frozen=True)
class Leftover:
    """One resource still there. ``expected`` marks what may stay (a key pending deletion)."""

    kind: str
    name: str
    arn: str
    note: str = ""
    expected: bool = False


def describe_arn(arn: str) -> tuple[str, str]:
    """``(kind, name)`` of an ARN, e.g. ``("SNS topic", "mission-sns")``.

    Unknown services or types give ``("<service> <type>", <rest>)`` (or ``("<service>",
    <resource>)`` when the ARN names no type), so nothing is hidden.
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return "resource", arn
    service, resource = parts[2], parts[5]
    if service == "s3" and "/" not in resource:
        return KINDS[("s3", "")], resource  # arn:aws:s3:::<bucket>: no region, no account
    if service in ("sns", "sqs"):
        # arn:aws:sns:<region>:<account>:<topic>[:<subscription id>]: no type in front.
        if service == "sns" and ":" in resource:
            return KINDS[("sns", "subscription")], resource
        return KINDS[(service, "")], resource
    cut = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
    kind, name = (resource[:cut], resource[cut + 1:]) if cut >= 0 else ("", resource)
    if service == "logs" and name.endswith(":*"):
        name = name[:-2]  # describe_log_groups adds ":*" to a group's ARN
    if service == "iam":
        name = name.rsplit("/", 1)[-1]  # a role or policy may have a path: role/service-role/x
    if service == "cloudformation" and kind == "stack":
        name = name.split("/", 1)[0]  # stack/<name>/<id>: the id tells stacks of one name apart
    if service == "kms" and kind == "alias":
        name = f"alias/{name}"
    label = KINDS.get((service, kind), f"{service} {kind}".strip())
    return label, name or resource


def key_note(key: dict[str, Any]) -> str:
    """The note for a KMS key's metadata: its state, with the day a scheduled deletion happens
    (in this machine's time zone, as boto3 gives dates and the notebook prints them)."""
    if key.get("KeyState") == "PendingDeletion" and key.get("DeletionDate"):
        return t("inventory.pending_deletion", day=f"{key['DeletionDate'].astimezone():%Y-%m-%d}")
    return str(key.get("KeyState", "")).lower()


def inventory(lab: Lab) -> list[Leftover]:
    """Everything still tagged for this learner (plus the untagged log group), pipeline order.

    After a complete cleanup the only entry is the KMS key pending deletion (``expected``).
    """
    found: dict[str, Leftover] = {}
    for arn in tagged_arns(lab):
        leftover = _confirm(lab, arn)
        if leftover is not None:
            found[_plain(leftover.arn)] = leftover
    for leftover in [*_iam_leftovers(lab), *_log_group(lab)]:
        found.setdefault(_plain(leftover.arn), leftover)
    rank = {kind: i for i, kind in enumerate(_ORDER)}
    return sorted(found.values(), key=lambda x: (rank.get(x.kind, len(rank)), x.kind, x.name))


def tagged_arns(lab: Lab, types: tuple[str, ...] = ()) -> Iterator[str]:
    """ARNs the tagging API lists with this learner's Project and Student tags, of the
    resource *types* only when given (``("kms:key",)``)."""
    filters = [{"Key": key, "Values": [lab.tags[key]]} for key in ("Project", "Student")]
    tagging = lab.client("resourcegroupstaggingapi")
    only = {"ResourceTypeFilters": list(types)} if types else {}
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=filters, **only):
        for mapping in page["ResourceTagMappingList"]:
            yield mapping["ResourceARN"]


def kind_label(kind: str) -> str:
    """*kind* ("SNS topic") as the learner reads it in the current language; an unknown kind
    ("dynamodb table") is shown as it is."""
    labels = {
        "SNS topic": t("inventory.kind.sns_topic"),
        "SNS subscription": t("inventory.kind.sns_subscription"),
        "SQS queue": t("inventory.kind.sqs_queue"),
        "Lambda function": t("inventory.kind.lambda_function"),
        "CloudWatch alarm": t("inventory.kind.cloudwatch_alarm"),
        "Log group": t("inventory.kind.log_group"),
        "KMS key": t("inventory.kind.kms_key"),
        "KMS alias": t("inventory.kind.kms_alias"),
        "EC2 instance": t("inventory.kind.ec2_instance"),
        "IAM role": t("inventory.kind.iam_role"),
        "IAM policy": t("inventory.kind.iam_policy"),
        "IAM instance profile": t("inventory.kind.iam_instance_profile"),
        "CloudFormation stack": t("inventory.kind.cloudformation_stack"),
        "S3 bucket": t("inventory.kind.s3_bucket"),
    }
    return labels.get(kind, kind)


def inventory_table(leftovers: list[Leftover]) -> Table:
    """The leftovers as a notebook table; an empty inventory says so in one row."""
    may_stay = " " + t("inventory.may_stay")
    rows = [(kind_label(x.kind), x.name, x.note + (may_stay if x.expected else ""))
            for x in leftovers]
    headers = (t("inventory.header.kind"), t("inventory.header.name"), t("inventory.header.note"))
    return Table(headers, rows or [("–", t("inventory.nothing_left"), "")])


# -- confirming what the tagging API says ----------------------------------------------------
def _confirm(lab: Lab, arn: str) -> Leftover | None:
    """The leftover for *arn* if its own service still knows it, else None (already gone)."""
    kind, name = describe_arn(arn)
    look = _LOOKUPS.get(kind)
    if look is None:
        return Leftover(kind, name, arn)
    try:
        return look(lab, kind, name, arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return None
        raise


def _topic(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    lab.client("sns").get_topic_attributes(TopicArn=arn)
    return Leftover(kind, name, arn)


def _queue(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    lab.client("sqs").get_queue_url(QueueName=name)
    return Leftover(kind, name, arn)


def _function(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    lab.client("lambda").get_function_configuration(FunctionName=name)
    return Leftover(kind, name, arn)


def _alarm(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    alarms = lab.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return Leftover(kind, name, arn, alarms[0]["StateValue"].lower()) if alarms else None


def _group(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    groups = lab.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return Leftover(kind, name, arn) if any(g["logGroupName"] == name for g in groups) else None


def _key(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    key = lab.client("kms").describe_key(KeyId=name)["KeyMetadata"]
    pending = key["KeyState"] == "PendingDeletion"
    return Leftover(kind, name, arn, key_note(key), expected=pending)


def _instance(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    reservations = lab.client("ec2").describe_instances(InstanceIds=[name])["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    if not instances or instances[0]["State"]["Name"] == "terminated":
        return None  # a terminated instance stays listed for a while, but is gone
    instance = instances[0]
    label = next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), "")
    note = ", ".join(x for x in (label, instance["State"]["Name"]) if x)
    return Leftover(kind, name, arn, note)


def _stack(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    # Asked for by its ARN, a deleted stack answers DELETE_COMPLETE for a while: gone too.
    try:
        stacks = lab.client("cloudformation").describe_stacks(StackName=arn)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return None
        raise
    if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    return Leftover(kind, name, arn, stacks[0]["StackStatus"])


def _bucket(lab: Lab, kind: str, name: str, arn: str) -> Leftover | None:
    lab.client("s3").head_bucket(Bucket=name)
    return Leftover(kind, name, arn)


_LOOKUPS: dict[str, Callable[[Lab, str, str, str], Leftover | None]] = {
    "SNS topic": _topic, "SQS queue": _queue, "Lambda function": _function,
    "CloudWatch alarm": _alarm, "Log group": _group, "KMS key": _key, "EC2 instance": _instance,
    "CloudFormation stack": _stack, "S3 bucket": _bucket,
}


# -- what the tagging API does not list ------------------------------------------------------
def _ours(tags: list[dict[str, str]], lab: Lab) -> bool:
    values = {t["Key"]: t["Value"] for t in tags}
    return all(values.get(key) == lab.tags[key] for key in ("Project", "Student"))


def _iam_leftovers(lab: Lab) -> list[Leftover]:
    """IAM roles, instance profiles and customer managed policies carrying this learner's
    tags."""
    iam = lab.client("iam")
    found = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            # AWS's own roles (service-linked, SSO) never carry the lab's tags: skip the calls.
            if role.get("Path", "/").startswith(("/aws-service-role/", "/aws-reserved/")):
                continue
            try:
                tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
            except iam.exceptions.NoSuchEntityException:
                continue
            if _ours(tags, lab):
                found.append(Leftover("IAM role", role["RoleName"], role["Arn"]))
    for page in iam.get_paginator("list_instance_profiles").paginate():
        for profile in page["InstanceProfiles"]:
            if profile.get("Path", "/").startswith(("/aws-service-role/", "/aws-reserved/")):
                continue
            # Listing leaves the tags out; GetInstanceProfile gives them.
            try:
                full = iam.get_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"])["InstanceProfile"]
            except iam.exceptions.NoSuchEntityException:
                continue
            if _ours(full.get("Tags", []), lab):
                roles = ", ".join(r["RoleName"] for r in full.get("Roles", []))
                found.append(Leftover("IAM instance profile", full["InstanceProfileName"],
                                      full["Arn"], t("inventory.holds", role=roles) if roles
                                      else ""))
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            try:
                tags = iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]
            except iam.exceptions.NoSuchEntityException:
                continue
            if _ours(tags, lab):
                count = policy.get("AttachmentCount")
                note = t("inventory.attached", count=count) if count else ""
                found.append(Leftover("IAM policy", policy["PolicyName"], policy["Arn"], note))
    return found


def _log_group(lab: Lab) -> list[Leftover]:
    """The function's log group, found by name: Lambda creates it without the lab's tags."""
    name = lab.names.log_group
    groups = lab.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return [Leftover("Log group", g["logGroupName"], _plain(g["arn"]),
                     t("inventory.made_by_lambda"))
            for g in groups if g["logGroupName"] == name]


def _plain(arn: str) -> str:
    """An ARN without the ``:*`` that log group ARNs sometimes carry, for de-duplication."""
    return arn[:-2] if arn.endswith(":*") else arn
