"""The resource types of the lab's template, made by the local cloud as CloudFormation makes them.

moto's CloudFormation knows most of the template's types, but makes some of them short of AWS:
a key's ``Tags`` in CloudFormation's shape break it, a function loses its ``Tags`` and
``KmsKeyArn``, a role its ``ManagedPolicyArns``, a topic its ``Tags``, a permission has no
physical id; ``AWS::SNS::Subscription`` and ``AWS::CloudWatch::Alarm`` it skips. The classes
here make each of those through moto's own backends (the same calls the lab's hand-made
pipeline goes through, so a stack's alarm evaluates and its subscription invokes the function),
and :data:`MODELS` hands them to moto's template parser (``moto_patches.py``:
:func:`wrap_model_map`, :func:`wrap_name_type_map`).

:func:`delete` deletes one resource as CloudFormation does: a role's policies detached first,
a key scheduled for deletion.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from typing import Any, Callable

from moto.awslambda.models import LambdaFunction, Permission
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudwatch.models import cloudwatch_backends
from moto.iam.models import Role, iam_backends
from moto.kms.models import Key, kms_backends
from moto.sns.models import Topic, sns_backends
from moto.utilities.utils import get_partition

from ...names import kms_tag_list, tag_list

# The types whose Tags property CloudFormation writes to the resource, with the stack's tags;
# IAM takes no "aws:" tags, so a role gets the stack's own tags only.
TAGGED = frozenset({"AWS::SNS::Topic", "AWS::KMS::Key", "AWS::Logs::LogGroup",
                    "AWS::Lambda::Function", "AWS::CloudWatch::Alarm", "AWS::IAM::Role"})
_NO_AWS_TAGS = frozenset({"AWS::IAM::Role"})
_PENDING_WINDOW_DAYS = 30  # AWS::KMS::Key PendingWindowInDays, when the template sets none


def resource_tags(resource_type: str, template_tags: list[dict[str, str]] | None,
                  stack_tags: dict[str, str], logical_id: str) -> list[dict[str, str]] | None:
    """The tags CloudFormation gives a resource: the stack's tags (with AWS's
    ``aws:cloudformation:stack-name`` and ``stack-id``, when *stack_tags* holds them), its
    ``aws:cloudformation:logical-id``, then the template's own, which win. None for a type
    that takes no tags, so its properties stay as written."""
    if resource_type not in TAGGED:
        return None
    tags = dict(stack_tags)
    tags["aws:cloudformation:logical-id"] = logical_id
    if resource_type in _NO_AWS_TAGS:
        tags = {key: value for key, value in tags.items() if not key.startswith("aws:")}
    tags.update(tag_dict(template_tags))
    return tag_list(tags)


def tag_dict(tags: list[dict[str, Any]] | None) -> dict[str, Any]:
    """CloudFormation's ``[{Key, Value}]`` as ``{key: value}``, the values as written (a
    ``Ref`` not yet resolved stays one; ``labkit.errors.tags_as_dict`` would make it text)."""
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def _without(properties: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in properties.items() if key not in names}


class StackTopic(Topic):
    """``AWS::SNS::Topic``, with its Tags (moto set them as an attribute nobody reads)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str,
                                        **kwargs: Any) -> Topic:
        """Create the topic, tagged, and its inline subscriptions."""
        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        attributes = _without(properties, "TopicName", "Tags", "Subscription")
        topic = backend.create_topic(resource_name, attributes,
                                     tags=tag_dict(properties.get("Tags")))
        try:
            for subscription in properties.get("Subscription", []):
                backend.subscribe(topic.arn, subscription["Endpoint"], subscription["Protocol"])
        except Exception:
            backend.delete_topic(topic.arn)  # nothing half-made
            raise
        return topic


class StackKey(Key):
    """``AWS::KMS::Key``: Tags in CloudFormation's shape; the policy kept as the JSON text
    GetKeyPolicy answers."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str,
                                        **kwargs: Any) -> Key:
        """Create the key (symmetric unless KeySpec says otherwise), tagged."""
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        key = kms_backends[account_id][region_name].create_key(
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description", ""),
            tags=kms_tag_list(tag_dict(properties.get("Tags"))),
            multi_region=bool(properties.get("MultiRegion", False)))
        key.key_rotation_status = bool(properties.get("EnableKeyRotation", False))
        key.enabled = properties.get("Enabled", True) not in (False, "false")
        if not key.enabled:
            key.key_state = "Disabled"
        return key


class StackRole(Role):
    """``AWS::IAM::Role``, with its ManagedPolicyArns attached (moto ignored them)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> Role:
        """Create the role with moto's own parser, then attach its managed policies."""
        role = super().create_from_cloudformation_json(resource_name, cloudformation_json,
                                                       account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        try:
            for arn in cloudformation_json["Properties"].get("ManagedPolicyArns", []):
                backend.attach_role_policy(arn, role.name)
        except Exception:
            delete(role, "AWS::IAM::Role", {}, account_id, region_name)  # nothing half-made
            raise
        return role


class StackFunction(LambdaFunction):
    """``AWS::Lambda::Function`` with every property CreateFunction takes: Tags and KmsKeyArn
    too (moto passed on only some), the code inline or from S3."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> LambdaFunction:
        """Create the function as CreateFunction would."""
        properties = cloudformation_json["Properties"]
        return lambda_backend(account_id, region_name).create_function(
            function_spec(resource_name, properties))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: LambdaFunction,
                                        new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> LambdaFunction:
        """Update the configuration (environment, key, role, ...) and code in place."""
        spec = function_spec(new_resource_name, cloudformation_json["Properties"])
        original_resource.update_configuration(_without(spec, "FunctionName", "Code", "Tags"))
        if any(original_resource.code.get(key) != value for key, value in spec["Code"].items()):
            original_resource.update_function_code(spec["Code"])
        return original_resource


def function_spec(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """CreateFunction's request for an ``AWS::Lambda::Function``'s properties: CloudFormation
    writes ``KmsKeyArn`` and a Tags list; inline ``ZipFile`` is source text, zipped as
    ``index.py``."""
    spec = _without(properties, "Tags", "KmsKeyArn", "FunctionName")
    spec["FunctionName"] = name
    spec["Code"] = dict(properties["Code"])
    if "KmsKeyArn" in properties:
        spec["KMSKeyArn"] = properties["KmsKeyArn"]
    if "Tags" in properties:
        spec["Tags"] = tag_dict(properties["Tags"])
    if "ZipFile" in spec["Code"]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("index.py", spec["Code"]["ZipFile"])
        spec["Code"]["ZipFile"] = buffer.getvalue()
    return spec


class StackPermission(Permission):
    """``AWS::Lambda::Permission``: one statement of the function's resource policy, whose id
    is the resource's physical id."""

    def __init__(self, region: str, function_name: str, statement_id: str) -> None:
        super().__init__(region)
        self.function_name = function_name
        self.statement_id = statement_id

    @property
    def physical_resource_id(self) -> str:
        """The statement id, e.g. ``mystack-InvokePermission-1A2B3C4D``."""
        return self.statement_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> StackPermission:
        """Add the statement, named after the stack and the logical id."""
        properties = cloudformation_json["Properties"]
        statement = {"StatementId": resource_name,
                     **_without(properties, "FunctionName", "StatementId")}
        function_name = properties["FunctionName"]
        lambda_backend(account_id, region_name).add_permission(function_name, None,
                                                               json.dumps(statement))
        return cls(region_name, function_name, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """Remove the statement (nothing to do once the function is gone)."""
        backend = lambda_backend(account_id, region_name)
        try:
            backend.get_function(self.function_name)
        except Exception:  # the function went first: its policy went with it
            return
        backend.remove_permission(self.function_name, self.statement_id)


class _Added:
    """What moto's template parser needs of a type moto lacks (labkit's own resources)."""

    created = True

    @staticmethod
    def cloudformation_type() -> str:
        raise NotImplementedError

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes()

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ()

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """``Fn::GetAtt``."""
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name in self.attributes():
            return getattr(self, attribute_name.lower())
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> Any:
        """Replace the resource: delete it, then make it again."""
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> None:
        """Deletion goes through :meth:`delete` on the made resource."""


class StackSubscription(_Added):
    """``AWS::SNS::Subscription``: a real subscription (lambda, sqs, https, ...), delivered
    as a hand-made one is. Ref is its ARN."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> StackSubscription:
        """Subscribe Endpoint to TopicArn (both required, as on AWS)."""
        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(properties["TopicArn"], properties["Endpoint"],
                                         properties["Protocol"])
        try:
            for name, value in subscription_attributes(properties).items():
                backend.set_subscription_attributes(subscription.arn, name, value)
        except Exception:
            backend.unsubscribe(subscription.arn)  # nothing half-made
            raise
        return cls(subscription.arn)

    def delete(self, account_id: str, region_name: str) -> None:
        """Unsubscribe."""
        sns_backends[account_id][region_name].unsubscribe(self.arn)


def subscription_attributes(properties: dict[str, Any]) -> dict[str, str]:
    """SetSubscriptionAttributes' values for an ``AWS::SNS::Subscription``'s properties:
    policies as JSON text, booleans as ``true``/``false``."""
    attributes = {}
    for name in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
                 "DeliveryPolicy"):
        if name in properties:
            value = properties[name]
            attributes[name] = json.dumps(value) if isinstance(value, (dict, list)) else \
                str(value).lower() if isinstance(value, bool) else str(value)
    return attributes


class StackAlarm(_Added):
    """``AWS::CloudWatch::Alarm``: made by PutMetricAlarm, so labkit's alarm engine evaluates
    it and runs its actions. Ref is its name; GetAtt Arn."""

    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ("Arn",)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> StackAlarm:
        """PutMetricAlarm with the template's properties."""
        arguments = alarm_arguments(resource_name, cloudformation_json["Properties"])
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(**arguments)
        return cls(alarm.name, alarm.alarm_arn)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> Any:
        """The same name: PutMetricAlarm updates it (its state kept). A new name: replaced."""
        if new_resource_name != original_resource.name:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id,
                region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """DeleteAlarms."""
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


def alarm_arguments(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's arguments for an ``AWS::CloudWatch::Alarm``'s properties.

    ComparisonOperator and EvaluationPeriods are required, as on AWS (KeyError otherwise);
    numbers may come as text (a parameter's value is)."""
    if "Metrics" in properties:
        raise ValueError("Metrics (metric math alarms) is not supported by the local cloud")

    def number(key: str, kind: Callable[[Any], Any]) -> Any:
        return kind(properties[key]) if properties.get(key) is not None else None

    return {
        "name": name,
        "namespace": properties.get("Namespace"),
        "metric_name": properties.get("MetricName"),
        "comparison_operator": properties["ComparisonOperator"],
        "evaluation_periods": int(properties["EvaluationPeriods"]),
        "period": number("Period", int),
        "threshold": number("Threshold", float),
        "statistic": properties.get("Statistic"),
        "description": properties.get("AlarmDescription"),
        "dimensions": [{"Name": d["Name"], "Value": d["Value"]}
                       for d in properties.get("Dimensions", [])],
        "alarm_actions": list(properties.get("AlarmActions", [])),
        "datapoints_to_alarm": number("DatapointsToAlarm", int),
        "extended_statistic": properties.get("ExtendedStatistic"),
        "ok_actions": list(properties.get("OKActions", [])),
        "insufficient_data_actions": list(properties.get("InsufficientDataActions", [])),
        "unit": properties.get("Unit"),
        "actions_enabled": properties.get("ActionsEnabled", True) not in (False, "false"),
        "treat_missing_data": properties.get("TreatMissingData"),
        "evaluate_low_sample_count_percentile":
            properties.get("EvaluateLowSampleCountPercentile"),
        "tags": list(properties.get("Tags", [])),
    }


MODELS: dict[str, type] = {model.cloudformation_type(): model for model in (
    StackTopic, StackKey, StackRole, StackFunction, StackPermission, StackSubscription,
    StackAlarm)}
"""labkit's class for each type it makes itself, by CloudFormation type."""


# --------------------------------------------------------------------------------------------
# Deleting, as CloudFormation does


def delete(resource: Any, resource_type: str, properties: dict[str, Any], account_id: str,
           region_name: str) -> None:
    """Delete one resource a stack made."""
    if resource_type == "AWS::KMS::Key":
        # AWS schedules the key's deletion (PendingWindowInDays, 30 by default).
        days = int(properties.get("PendingWindowInDays", _PENDING_WINDOW_DAYS))
        kms_backends[account_id][region_name].schedule_key_deletion(resource.id, days)
    elif resource_type == "AWS::IAM::Role":
        iam = iam_backends[account_id][get_partition(region_name)]
        for arn in list(resource.managed_policies):
            iam.detach_role_policy(arn, resource.name)
        Role.delete_from_cloudformation_json(resource.name, {}, account_id, region_name)
    elif resource_type == "AWS::IAM::ManagedPolicy":
        iam = iam_backends[account_id][get_partition(region_name)]
        for role in list(iam.roles.values()):
            if resource.arn in role.managed_policies:
                iam.detach_role_policy(resource.arn, role.name)
        iam.delete_policy(resource.arn)
    else:
        resource.delete(account_id, region_name)


# --------------------------------------------------------------------------------------------
# Handing the models to moto's template parser (moto_patches.py)


def wrap_model_map(original: Callable[[], dict[str, type]]) -> Callable[[], dict[str, type]]:
    """``moto.cloudformation.parsing.get_model_map``: moto's models, and labkit's."""
    @functools.wraps(original)
    def get_model_map() -> dict[str, type]:
        return {**original(), **MODELS}

    return get_model_map


def wrap_name_type_map(original: Callable[[], dict[str, str]]) -> Callable[[], dict[str, str]]:
    """``moto.cloudformation.parsing.get_name_type_map``: the property naming each of labkit's
    resources (AlarmName), beside moto's."""
    @functools.wraps(original)
    def get_name_type_map() -> dict[str, str]:
        return {**original(), **{kind: model.cloudformation_name_type()
                                 for kind, model in MODELS.items()}}

    return get_name_type_map
