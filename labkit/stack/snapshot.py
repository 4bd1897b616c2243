"""Reading the learner's live pipeline into a :class:`~labkit.stack.template.PipelineSnapshot`.

The edge of the export: only describe/get/list calls, with the Lab's clients. A piece that is
missing is a LabError naming the notebook that makes it. The webhook's ciphertext is read with
the function's configuration (Lambda returns both together) and dropped here: of the
environment only the variables' names and the channel go into the snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import LabError
from ..i18n import t
from ..lookups import find_topic_arn, policy_document, sns_may_invoke
from .template import (AlarmSnapshot, FunctionSnapshot, KeySnapshot, PipelineSnapshot,
                       RoleSnapshot)

if TYPE_CHECKING:
    from ..lab import Lab


def _missing(piece: str, notebook: str, **names: str) -> LabError:
    """The LabError for a *piece* of the pipeline that notebook *notebook* makes."""
    return LabError(t(f"stack.missing.{piece}", notebook=notebook, **names),
                    t("stack.missing.todo", notebook=notebook))


def _topic_arn(lab: Lab) -> str:
    arn = find_topic_arn(lab)
    if arn is None:
        raise _missing("topic", "02", name=lab.names.topic)
    return arn


def _role(lab: Lab) -> tuple[RoleSnapshot, str]:
    iam = lab.client("iam")
    try:
        role = iam.get_role(RoleName=lab.names.role)["Role"]
    except iam.exceptions.NoSuchEntityException:
        raise _missing("role", "03", name=lab.names.role) from None
    attached = [policy["PolicyArn"] for page in
                iam.get_paginator("list_attached_role_policies").paginate(
                    RoleName=lab.names.role) for policy in page["AttachedPolicies"]]
    return RoleSnapshot(trust_policy=policy_document(role["AssumeRolePolicyDocument"]),
                        managed_policy_arns=tuple(attached),
                        description=role.get("Description", "")), role["Arn"]


def _function(lab: Lab) -> tuple[FunctionSnapshot, str]:
    lam = lab.client("lambda")
    try:
        config = lam.get_function_configuration(FunctionName=lab.names.function)
    except lam.exceptions.ResourceNotFoundException:
        raise _missing("function", "03", name=lab.names.function) from None
    variables = config.get("Environment", {}).get("Variables", {})
    function = FunctionSnapshot(
        runtime=config["Runtime"], handler=config["Handler"], timeout=config["Timeout"],
        memory_size=config["MemorySize"], variable_names=tuple(sorted(variables)),
        channel=variables.get("slackChannel", lab.config.slack_channel))
    return function, config["FunctionArn"]


def _check_subscribed(lab: Lab, topic_arn: str, function_arn: str) -> str:
    """The subscription's protocol ("lambda"), once the function is found subscribed."""
    sns = lab.client("sns")
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page["Subscriptions"]:
            if subscription["Endpoint"] == function_arn:
                return subscription["Protocol"]
    raise _missing("subscription", "03", topic=lab.names.topic, name=lab.names.function)


def _check_sns_may_invoke(lab: Lab, topic_arn: str) -> None:
    lam = lab.client("lambda")
    try:
        policy = policy_document(lam.get_policy(FunctionName=lab.names.function)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        policy = {}
    if not sns_may_invoke(policy, topic_arn):
        raise _missing("permission", "03", name=lab.names.function, topic=lab.names.topic)


def _log_retention(lab: Lab) -> int | None:
    logs = lab.client("logs")
    for group in logs.describe_log_groups(logGroupNamePrefix=lab.names.log_group)["logGroups"]:
        if group["logGroupName"] == lab.names.log_group:
            return group.get("retentionInDays")
    raise _missing("log_group", "03", name=lab.names.log_group)


def _key(lab: Lab) -> KeySnapshot:
    kms = lab.client("kms")
    try:
        key = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        raise _missing("key", "04", name=lab.names.kms_alias) from None
    policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    return KeySnapshot(arn=key["Arn"], key_id=key["KeyId"], policy=policy_document(policy),
                       alias=lab.names.kms_alias, description=key.get("Description", ""))


def _decrypt_policy(lab: Lab, attached: tuple[str, ...]) -> tuple[dict, str]:
    """The lab's KMS policy's document and description; it must be attached to the role."""
    iam = lab.client("iam")
    found = [arn for arn in attached if arn.rsplit("/", 1)[-1] == lab.names.kms_policy]
    if not found:
        arn = f"arn:aws:iam::{lab.account}:policy/{lab.names.kms_policy}"
        try:
            iam.get_policy(PolicyArn=arn)
        except iam.exceptions.NoSuchEntityException:
            raise _missing("policy", "05", name=lab.names.kms_policy) from None
        raise _missing("policy_attached", "05", name=lab.names.kms_policy, role=lab.names.role)
    policy = iam.get_policy(PolicyArn=found[0])["Policy"]
    version = iam.get_policy_version(PolicyArn=found[0], VersionId=policy["DefaultVersionId"])
    return (policy_document(version["PolicyVersion"]["Document"]), policy.get("Description", ""))


def _alarm(lab: Lab) -> AlarmSnapshot:
    cloudwatch = lab.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNames=[lab.names.alarm])["MetricAlarms"]
    if not alarms:
        raise _missing("alarm", "06", name=lab.names.alarm)
    alarm = alarms[0]
    instance = next((d["Value"] for d in alarm.get("Dimensions", [])
                     if d["Name"] == "InstanceId"), "")
    return AlarmSnapshot(
        namespace=alarm["Namespace"], metric_name=alarm["MetricName"],
        statistic=alarm.get("Statistic", "Average"), period=alarm["Period"],
        evaluation_periods=alarm["EvaluationPeriods"],
        datapoints_to_alarm=alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
        threshold=alarm["Threshold"], comparison_operator=alarm["ComparisonOperator"],
        treat_missing_data=alarm.get("TreatMissingData", "missing"), instance_id=instance)


def _tags(lab: Lab, function_arn: str) -> dict[str, str]:
    """The function's tags, which the notebooks give every resource alike; AWS's own (aws:...)
    left out, since a template may not set them."""
    tags = lab.client("lambda").list_tags(Resource=function_arn).get("Tags", {})
    return {key: value for key, value in tags.items() if not key.startswith("aws:")}


def read_pipeline(lab: Lab) -> PipelineSnapshot:
    """What notebooks 02-06 made for *lab*'s learner, read from the target, in their order:
    the first missing piece is a LabError naming the notebook that makes it."""
    topic_arn = _topic_arn(lab)
    role, role_arn = _role(lab)
    function, function_arn = _function(lab)
    retention = _log_retention(lab)
    protocol = _check_subscribed(lab, topic_arn, function_arn)
    _check_sns_may_invoke(lab, topic_arn)
    key = _key(lab)
    decrypt_policy, policy_description = _decrypt_policy(lab, role.managed_policy_arns)
    alarm = _alarm(lab)
    return PipelineSnapshot(
        prefix=lab.config.prefix, account=lab.account, region=lab.region,
        topic_arn=topic_arn, subscription_protocol=protocol, role=role, function=function,
        function_arn=function_arn, role_arn=role_arn, decrypt_policy=decrypt_policy,
        decrypt_policy_description=policy_description, key=key,
        log_retention_days=retention, alarm=alarm, tags=_tags(lab, function_arn))
