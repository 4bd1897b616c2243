"""The learner's pipeline as a CloudFormation template: a snapshot of what was read -> YAML.

Pure: no AWS call here (:mod:`labkit.stack.snapshot` reads the live resources). The template
follows the contract every stack piece of labkit shares: parameters ``NamePrefix``,
``EncryptedWebhook`` (NoEcho), ``InstanceId``, ``CodeS3Bucket``, ``CodeS3Key``; resources
``Topic``, ``Subscription``, ``InvokePermission``, ``Role``, ``DecryptPolicy``, ``Key``,
``KeyAlias``, ``LogGroup``, ``Function``, ``Alarm``; outputs ``TopicArn``, ``FunctionName``,
``KeyArn``, ``AlarmName``.

What made the hand-made pipeline one learner's is taken out: every name carries
``${NamePrefix}`` instead of the learner's prefix, the account id becomes ``${AWS::AccountId}``,
ARNs of the hand-made resources become references to the stack's own (``!GetAtt Key.Arn``), the
instance becomes a parameter, and the webhook's ciphertext is never read at all: the stack gets
its own, encrypted with its own key, through ``EncryptedWebhook``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..names import Names, names_for, tag_list

#: The days between deleting a stack and the deletion of its key (notebook 07 waits as long).
KEY_PENDING_WINDOW_DAYS = 7
#: The notebook that made each resource by hand, shown above it in the template.
MADE_IN: dict[str, str] = {
    "Topic": "02", "Subscription": "03", "InvokePermission": "03", "Role": "03",
    "DecryptPolicy": "05", "Key": "04", "KeyAlias": "04", "LogGroup": "03", "Function": "03",
    "Alarm": "06",
}
#: What stands for the learner's prefix in every name of the template.
PREFIX_PARAMETER = "NamePrefix"


# -- CloudFormation's intrinsic functions, as YAML short forms -------------------------------


@dataclass(frozen=True)
class Ref:
    """``!Ref Name``: a parameter's value, or a resource's main identifier."""

    name: str


@dataclass(frozen=True)
class GetAtt:
    """``!GetAtt Resource.Attribute``."""

    resource: str
    attribute: str


@dataclass(frozen=True)
class Sub:
    """``!Sub "text with ${Parameter} and ${AWS::AccountId}"``."""

    text: str


# -- what was read -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSnapshot:
    """The function's configuration. Of its environment only the variables' names and the
    channel are kept: the ciphertext never leaves the edge that read it."""

    runtime: str
    handler: str
    timeout: int
    memory_size: int
    variable_names: tuple[str, ...]
    channel: str


@dataclass(frozen=True)
class RoleSnapshot:
    """The execution role: its trust policy and the ARNs of the managed policies attached."""

    trust_policy: dict
    managed_policy_arns: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class KeySnapshot:
    """The KMS key (its ARN and id only to recognise them in policies), its policy, its alias."""

    arn: str
    key_id: str
    policy: dict
    alias: str
    description: str = ""


@dataclass(frozen=True)
class AlarmSnapshot:
    """The alarm's configuration; the instance it watches is kept only to make sure it never
    reaches the template (the stack takes it as the ``InstanceId`` parameter)."""

    namespace: str
    metric_name: str
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str
    instance_id: str


@dataclass(frozen=True)
class PipelineSnapshot:
    """Everything the template is made of, as read from one learner's live resources."""

    prefix: str
    account: str
    region: str
    topic_arn: str
    subscription_protocol: str
    role: RoleSnapshot
    function: FunctionSnapshot
    function_arn: str
    role_arn: str
    decrypt_policy: dict
    decrypt_policy_description: str
    key: KeySnapshot
    log_retention_days: int | None
    alarm: AlarmSnapshot
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> Names:
        return names_for(self.prefix)


# -- from live values to the stack's own -------------------------------------------------------


class _Generaliser:
    """Turns values read from one learner's resources into the template's: references to the
    stack's resources and parameters instead of ARNs, ids and prefixed names."""

    def __init__(self, snapshot: PipelineSnapshot) -> None:
        exact: dict[str, Any] = {
            snapshot.key.arn: GetAtt("Key", "Arn"),
            snapshot.key.key_id: Ref("Key"),
            snapshot.topic_arn: Ref("Topic"),
            snapshot.function_arn: GetAtt("Function", "Arn"),
            snapshot.role_arn: GetAtt("Role", "Arn"),
            snapshot.alarm.instance_id: Ref("InstanceId"),
        }
        self.exact = {value: made for value, made in exact.items() if value}
        live = snapshot.names.as_dict()
        templated = names_for("${%s}" % PREFIX_PARAMETER).as_dict()
        pairs = {live[what]: templated[what] for what in live if live[what] != templated[what]}
        self.names = pairs
        # Longest first, so that mission-lambda-role is not read as mission-lambda + "-role";
        # a name inside a longer word (another learner's kim-mission-sns) is left alone.
        alternatives = "|".join(re.escape(name) for name in sorted(pairs, key=len, reverse=True))
        self.name_pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")
        self.account = snapshot.account
        self.region = snapshot.region

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def text(self, value: str) -> Any:
        if value in self.exact:
            return self.exact[value]
        # A literal "${" (an IAM policy variable) must be written "${!" inside !Sub.
        escaped = value.replace("${", "${!")
        text = self.name_pattern.sub(lambda found: self.names[found.group(0)], escaped)
        if self.account and self.account in text:
            text = text.replace(self.account, "${AWS::AccountId}")
            text = re.sub(r"\barn:aws(-[a-z-]+)?:", "arn:${AWS::Partition}:", text)
            text = text.replace(f":{self.region}:", ":${AWS::Region}:")
        return Sub(text) if text != escaped else value


def _named(what: str) -> Sub:
    """The name *what* ("topic", "function", ...) of the stack, made from ``NamePrefix``."""
    return Sub(getattr(names_for("${%s}" % PREFIX_PARAMETER), what))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def build_template(snapshot: PipelineSnapshot) -> dict[str, Any]:
    """The CloudFormation template (a dict with :class:`Ref`/:class:`GetAtt`/:class:`Sub`
    values) of the pipeline in *snapshot*, in the contract's shape.

    The policies (trust, decrypt, key) are the live documents with the learner's values made
    the stack's; the rest is written from the snapshot's settings. Of the role's managed
    policies only AWS's own are listed: the lab's decrypt policy is the ``DecryptPolicy``
    resource, and another policy of the account is no part of the pipeline. The function's
    environment is the contract's two variables, whatever else the live one holds.
    """
    general = _Generaliser(snapshot)
    tags = tag_list(snapshot.tags)
    function, alarm, key = snapshot.function, snapshot.alarm, snapshot.key
    aws_managed = [arn for arn in snapshot.role.managed_policy_arns
                   if arn.split(":")[4:5] == ["aws"]]
    variables: dict[str, Any] = {"slackChannel": function.channel,
                                 "kmsEncryptedHookUrl": Ref("EncryptedWebhook")}
    role: dict[str, Any] = {
        "RoleName": _named("role"),
        "Description": snapshot.role.description,
        "AssumeRolePolicyDocument": general(snapshot.role.trust_policy),
        "ManagedPolicyArns": aws_managed,
        "Tags": tags,
    }
    if not role["Description"]:
        del role["Description"]
    log_group: dict[str, Any] = {"LogGroupName": _named("log_group")}
    if snapshot.log_retention_days:
        log_group["RetentionInDays"] = snapshot.log_retention_days
    log_group["Tags"] = tags
    resources: dict[str, Any] = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": _named("topic"), "Tags": tags}},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": Ref("Topic"), "Protocol": snapshot.subscription_protocol,
            "Endpoint": GetAtt("Function", "Arn")}},
        "InvokePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": Ref("Function"), "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com", "SourceArn": Ref("Topic")}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": role},
        "DecryptPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "ManagedPolicyName": _named("kms_policy"),
            **({"Description": snapshot.decrypt_policy_description}
               if snapshot.decrypt_policy_description else {}),
            "Roles": [Ref("Role")],
            "PolicyDocument": general(snapshot.decrypt_policy)}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {
            **({"Description": key.description} if key.description else {}),
            "KeyPolicy": general(key.policy),
            # Deleting the stack schedules the key's deletion: after 7 days, the least KMS
            # allows, as notebook 07 does by hand (CloudFormation's default is 30).
            "PendingWindowInDays": KEY_PENDING_WINDOW_DAYS, "Tags": tags}},
        "KeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": _named("kms_alias"), "TargetKeyId": Ref("Key")}},
        "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": log_group},
        "Function": {"Type": "AWS::Lambda::Function",
                     # The log group first, so the function's first lines land in the tagged
                     # one with its retention; the policy first, so the first alarm decrypts.
                     "DependsOn": ["LogGroup", "DecryptPolicy"],
                     "Properties": {
                         "FunctionName": _named("function"),
                         "Runtime": function.runtime, "Handler": function.handler,
                         "Role": GetAtt("Role", "Arn"), "Timeout": function.timeout,
                         "MemorySize": function.memory_size, "KmsKeyArn": GetAtt("Key", "Arn"),
                         "Code": {"S3Bucket": Ref("CodeS3Bucket"), "S3Key": Ref("CodeS3Key")},
                         "Environment": {"Variables": variables}, "Tags": tags}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": _named("alarm"),
            "Namespace": alarm.namespace, "MetricName": alarm.metric_name,
            "Dimensions": [{"Name": "InstanceId", "Value": Ref("InstanceId")}],
            "Statistic": alarm.statistic, "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm,
            "Threshold": _number(alarm.threshold),
            "ComparisonOperator": alarm.comparison_operator,
            "TreatMissingData": alarm.treat_missing_data,
            "AlarmActions": [Ref("Topic")], "OKActions": [Ref("Topic")], "Tags": tags}},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "The pipeline of the lab, CloudWatch alarm -> SNS topic -> Lambda "
                       "function (KMS-encrypted Slack webhook) -> Slack, as notebooks 02-06 "
                       "made it by hand",
        "Parameters": _parameters(),
        "Resources": resources,
        "Outputs": {
            "TopicArn": {"Description": "The topic the alarm notifies",
                         "Value": Ref("Topic")},
            "FunctionName": {"Description": "The function that posts to Slack",
                             "Value": Ref("Function")},
            "KeyArn": {"Description": "Encrypt the webhook URL with this key (encryption "
                                      "context LambdaFunctionName = the function name), then "
                                      "update the stack with EncryptedWebhook",
                       "Value": GetAtt("Key", "Arn")},
            "AlarmName": {"Description": "The alarm on the instance's CPU",
                          "Value": Ref("Alarm")},
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        PREFIX_PARAMETER: {
            "Type": "String",
            "Description": "Put in front of every name (e.g. stack- or kim-stack-), so that the "
                           "stack lives beside the pipeline made by hand"},
        "EncryptedWebhook": {
            "Type": "String", "NoEcho": True, "Default": "",
            "Description": "Base64 KMS ciphertext of the Slack webhook URL, encrypted with the "
                           "stack's key (output KeyArn) and the encryption context "
                           "LambdaFunctionName=<NamePrefix>mission-lambda; empty at creation"},
        "InstanceId": {"Type": "String",
                       "Description": "The EC2 instance whose CPU the alarm watches"},
        "CodeS3Bucket": {"Type": "String",
                         "Description": "The S3 bucket holding the function's zip"},
        "CodeS3Key": {"Type": "String",
                      "Description": "The zip's key (slack_notifier.py at the zip's root)"},
    }


# -- YAML --------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes :class:`Ref`, :class:`GetAtt` and :class:`Sub` as CloudFormation's short forms."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # the same tag list under several resources is written out each time

    def choose_scalar_style(self) -> str:
        # PyYAML quotes every scalar with a tag of its own ("!Ref 'Topic'"); CloudFormation's
        # documentation writes them plain (!Ref Topic), which reads back the same.
        if self.event.tag in ("!Ref", "!GetAtt") and not self.event.style:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(self.event.value)
            if self.analysis.allow_block_plain and not self.analysis.empty:
                return ""
        return super().choose_scalar_style()


_Dumper.add_representer(Ref, lambda d, v: d.represent_scalar("!Ref", v.name))
_Dumper.add_representer(
    GetAtt, lambda d, v: d.represent_scalar("!GetAtt", f"{v.resource}.{v.attribute}"))
_Dumper.add_representer(Sub, lambda d, v: d.represent_scalar("!Sub", v.text, style='"'))


class TemplateLoader(yaml.SafeLoader):
    """Reads a template with the short forms back into :class:`Ref`, :class:`GetAtt`,
    :class:`Sub` (the forms this module writes; others are not needed)."""


TemplateLoader.add_constructor(
    "!Ref", lambda loader, node: Ref(loader.construct_scalar(node)))
TemplateLoader.add_constructor(
    "!GetAtt", lambda loader, node: GetAtt(*loader.construct_scalar(node).split(".", 1)))
TemplateLoader.add_constructor(
    "!Sub", lambda loader, node: Sub(loader.construct_scalar(node)))


def load_template(text: str) -> dict[str, Any]:
    """The template dict of YAML *text* written by :func:`render_template`."""
    return yaml.load(text, Loader=TemplateLoader)  # noqa: S506 - a SafeLoader subclass


def render_template(template: dict[str, Any]) -> str:
    """YAML text of *template*, keys in their order, with a comment above each resource naming
    the notebook that made it by hand."""
    # Wide: a long description stays on one line rather than folded over two.
    text = yaml.dump(template, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000,
                     default_flow_style=False)
    lines = []
    in_resources = False
    for line in text.splitlines():
        if not line.startswith(" "):
            in_resources = line == "Resources:"
        elif in_resources:
            found = re.fullmatch(r"  (\w+):", line)
            if found and found.group(1) in MADE_IN:
                lines.append(f"  # made by hand in notebook {MADE_IN[found.group(1)]}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def leaks(text: str, snapshot: PipelineSnapshot) -> list[str]:
    """What of one learner's own (account, instance, key, ARNs of the hand-made resources)
    is still in *text*; ``[]`` for a template that may be shown and shared."""
    own = {"account id": snapshot.account, "instance id": snapshot.alarm.instance_id,
           "key id": snapshot.key.key_id, "key ARN": snapshot.key.arn,
           "topic ARN": snapshot.topic_arn, "function ARN": snapshot.function_arn,
           "role ARN": snapshot.role_arn}
    return [what for what, value in own.items() if value and value in text]


def template_text(snapshot: PipelineSnapshot) -> str:
    """The YAML template of *snapshot*; ValueError if anything of the learner's own is left in
    it (a safety net: the builder takes every such value out)."""
    text = render_template(build_template(snapshot))
    left = leaks(text, snapshot)
    if left:
        raise ValueError("the template still holds the learner's " + ", ".join(left))
    return text
