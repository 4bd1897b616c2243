"""Where labkit reaches into moto: every moto internal it replaces or reads, and the one install().

The local cloud hosts moto (pinned in pyproject.toml, because of this module) and makes it behave
like AWS where the lesson needs it. The behaviour lives in the service modules (the Lambda
runtime, the alarms, KMS, IAM, SNS); this module only says where it goes:

* :data:`TABLE`, one :class:`Hook` per moto internal labkit replaces, wraps, adds or reads, with
  the labkit module that provides the behaviour (or depends on it) and why;
* :func:`install` puts the replacements in place (each once: a second call changes nothing) and,
  for the local cloud, starts the services moto then hands work to (the Lambda runtime, the
  alarm scheduler). :func:`uninstall` gives moto its own attributes back (tests);
* :func:`drift` compares the table with the moto installed: what moved, in a sentence each.
  :func:`install` refuses a moto that drifted, and a unit test asserts there is no drift, so a
  moto upgrade fails one test that names what moved.

botocore's ``session.create_loader`` is in the table too: moto makes botocore sessions, and the
local cloud (and the test processes) share one loader between them.

Nothing else in labkit assigns to a moto module or class (a test scans for it).
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .awslambda.runtime import Runtime
    from .cloudwatch.alarms import AlarmService


class Use(Enum):
    """What labkit does with a moto attribute."""

    REPLACE = "replaces"  # labkit's function stands in for moto's
    WRAP = "wraps"        # labkit's function is built around moto's: provider(original)
    ADD = "adds"          # moto lacks it; labkit adds it
    READ = "reads"        # labkit only reads or calls it (and may keep its own data on objects)


MORE = "..."
"""Last in :attr:`Hook.params`: moto's function may take more parameters after those."""


@dataclass(frozen=True)
class Hook:
    """One moto internal labkit relies on, and what for."""

    module: str     # the moto module, e.g. "moto.sns.models"
    attribute: str  # in that module: "Subscription.publish", "sns_backends", "_private_name"
    use: Use
    labkit: str     # the labkit module that provides the behaviour, or depends on it
    why: str        # one line
    provider: str = ""  # REPLACE/ADD: labkit's function; WRAP: the function that wraps moto's
    # The parameters labkit's code relies on (calls with, or replaces with the same), in order;
    # MORE last when moto's may take more. None: not checked.
    params: tuple[str, ...] | None = None
    # Attributes (methods, or set on instances) labkit reads on objects of this moto class.
    fields: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The attribute's full dotted name, e.g. ``moto.sns.models.Subscription.publish``."""
        return f"{self.module}.{self.attribute}"


_LAMBDA = "moto.awslambda.models"
_CW = "moto.cloudwatch.models"
_KMS = "moto.kms.models"
_RUNTIME = "labkit.local.awslambda.runtime"
_ALARMS = "labkit.local.cloudwatch.alarms"
_FIDELITY = "labkit.local.kms.fidelity"
_AUTHZ = "labkit.local.iam.authz"
_SERVER = "labkit.local.server"
_CFN = "moto.cloudformation.parsing"
_STACKS = "labkit.local.cloudformation.stacks"
_RESOURCES = "labkit.local.cloudformation.resources"

TABLE: tuple[Hook, ...] = (
    # -- botocore, under moto: one data loader per process (botocore_models.py) ----------------
    Hook("botocore.session", "create_loader", Use.REPLACE, "labkit.local.botocore_models",
         "every session shares one loader, so each service model is read once",
         provider="create_loader", params=("search_path_string",)),
    Hook("botocore.loaders", "create_loader", Use.READ, "labkit.local.botocore_models",
         "makes the one shared loader", params=("search_path_string",)),
    Hook("botocore.loaders", "Loader", Use.READ, "labkit.local.botocore_models",
         "the shared loader takes boto3's model folder once, not once per session",
         fields=("_search_paths", "search_paths")),

    # -- IAM: which account an access key belongs to (iam/accounts.py) --------------------------
    Hook("moto.iam.models", "get_account_id_from", Use.REPLACE, "labkit.local.iam.accounts",
         "looks only in the partitions whose IAM exists (moto built all six, about 1 s each "
         "cloud)", provider="account_of", params=("access_key",)),
    Hook("moto.iam.models", "iam_backends", Use.READ, "labkit.local.iam.accounts",
         "each account's IAM, by partition, holds the access keys"),
    Hook("moto.iam.models", "IAMBackend", Use.READ, "labkit.local.iam.accounts",
         "where an access key is looked up", fields=("access_keys",)),
    Hook("moto.core", "DEFAULT_ACCOUNT_ID", Use.READ, "labkit.local.iam.accounts",
         "the account of a key no account made"),

    # -- SNS: one signing key (sns/signing.py) ---------------------------------------------------
    Hook("moto.sns.models", "Subscription.private_key", Use.REPLACE, "labkit.local.sns.signing",
         "every subscription signs with one key made once (moto made one per subscription)",
         provider="subscription_private_key", params=("self",)),

    # -- Lambda resource policies (awslambda/permissions.py) -------------------------------------
    Hook("moto.awslambda.policy", "Policy.add_statement", Use.WRAP,
         "labkit.local.awslambda.permissions",
         "a StatementId already used is refused with ResourceConflictException, as on AWS",
         provider="wrap_add_statement", params=("self", "raw", "qualifier")),
    Hook("moto.awslambda.policy", "Policy", Use.READ, "labkit.local.awslambda.permissions",
         "the statements already in a function's policy", fields=("statements",)),
    Hook("moto.awslambda.exceptions", "LambdaClientError", Use.READ,
         "labkit.local.awslambda.permissions", "the conflict is answered as Lambda's error",
         params=("error", "message")),

    # -- the Lambda runtime (awslambda/runtime.py) -----------------------------------------------
    Hook(_LAMBDA, "LambdaBackend.delete_function", Use.WRAP, _RUNTIME,
         "DeleteFunction also stops the function's idle execution environments",
         provider="wrap_delete_function", params=("self", "function_name", "qualifier")),
    Hook(_LAMBDA, "LambdaFunction.invoke", Use.WRAP, _RUNTIME,
         "Invoke runs the function in a local execution environment (moto needed Docker)",
         provider="wrap_invoke",
         params=("self", "body", "request_headers", "response_headers")),
    Hook(_LAMBDA, "LambdaFunction._invoke_lambda", Use.WRAP, _RUNTIME,
         "the invocations other services make run locally too",
         provider="wrap_invoke_lambda", params=("self", "event")),
    Hook(_LAMBDA, "LambdaFunction.__init__", Use.WRAP, _RUNTIME,
         "CreateFunction keeps DeadLetterConfig, which moto drops",
         provider="wrap_function_init",
         params=("self", "account_id", "spec", "region", "version")),
    Hook(_LAMBDA, "LambdaFunction.update_configuration", Use.WRAP, _RUNTIME,
         "an update keeps DeadLetterConfig and KMSKeyArn, which moto ignores",
         provider="wrap_update_configuration", params=("self", "config_updates")),
    Hook(_LAMBDA, "LambdaFunction.get_configuration", Use.WRAP, _RUNTIME,
         "the configuration shows DeadLetterConfig, and KMSKeyArn only when set, as on Lambda",
         provider="wrap_get_configuration", params=("self", "on_create")),
    Hook("moto.sns.models", "Subscription.publish", Use.WRAP, _RUNTIME,
         "a lambda subscription gets SNS's event, asynchronously",
         provider="wrap_subscription_publish",
         params=("self", "message", "message_id", "subject", "message_attributes", "group_id",
                 "deduplication_id", "message_structure")),
    Hook(_LAMBDA, "LambdaFunction", Use.READ, _RUNTIME,
         "a function's configuration and code, read once per invocation",
         fields=("code_bytes", "code_sha_256", "function_name", "function_arn", "version",
                 "account_id", "region", "handler", "run_time", "timeout", "memory_size", "role",
                 "environment_vars", "package_type", "kms_key_arn", "event_invoke_config")),
    Hook(_LAMBDA, "EventInvokeConfig", Use.READ, _RUNTIME,
         "retries and maximum event age of asynchronous invocations", fields=("config",)),
    Hook(_LAMBDA, "LambdaBackend.get_function", Use.READ, _RUNTIME,
         "the function an ARN names", params=("self", "function_name_or_arn", "qualifier")),
    Hook("moto.awslambda.utils", "get_backend", Use.READ, _RUNTIME,
         "the Lambda backend of an account and region, as moto's own requests find it",
         params=("account_id", "region")),
    Hook("moto.awslambda.exceptions", "LambdaClientError", Use.READ, _RUNTIME,
         "a payload that is not JSON is refused as Lambda does", params=("error", "message")),
    Hook("moto.sns.models", "Subscription", Use.READ, _RUNTIME,
         "where SNS delivers, and the filter policy it applies first",
         fields=("protocol", "endpoint", "topic", "arn", "_filter_policy_matcher")),
    Hook("moto.sns.models", "Subscription.get_post_data", Use.READ, _RUNTIME,
         "the timestamp and signature of the event, as moto signs for HTTP subscribers",
         params=("self", "message", "message_id", "subject", "message_attributes")),
    Hook("moto.sns.models", "Subscription._parse_message_structure", Use.READ, _RUNTIME,
         "a MessageStructure=json message is cut to the lambda protocol's part",
         params=("self", "message", "protocol")),
    Hook("moto.sns.models", "Topic", Use.READ, _RUNTIME, "the TopicArn of the event",
         fields=("arn",)),

    # -- the Lambda runtime's log and KMS key (awslambda/logs.py, awslambda/kms_key.py) ---------
    Hook("moto.logs.models", "logs_backends", Use.READ, "labkit.local.awslambda.logs",
         "a function's log is written in-process"),
    Hook("moto.logs.models", "LogsBackend.ensure_log_group", Use.READ,
         "labkit.local.awslambda.logs", "the function's log group, made on first use",
         params=("self", "log_group_name")),
    Hook("moto.logs.models", "LogsBackend.ensure_log_stream", Use.READ,
         "labkit.local.awslambda.logs", "one log stream per execution environment",
         params=("self", "log_group_name", "log_stream_name")),
    Hook("moto.logs.models", "LogsBackend.put_log_events", Use.READ, "labkit.local.awslambda.logs",
         "the lines of one invocation",
         params=("self", "log_group_name", "log_stream_name", "log_events")),
    Hook(_KMS, "kms_backends", Use.READ, "labkit.local.awslambda.kms_key",
         "the state of the key that encrypts a function's variables"),
    Hook("moto.awslambda.exceptions", "LambdaClientError", Use.READ,
         "labkit.local.awslambda.kms_key", "Invoke fails with Lambda's KMS error",
         params=("error", "message")),
    Hook("moto.core.exceptions", "JsonRESTError", Use.READ, "labkit.local.awslambda.kms_key",
         "KMS's refusal becomes Lambda's error message", fields=("error_type", "message")),

    # -- KMS as AWS answers (kms/fidelity.py) ----------------------------------------------------
    Hook(_KMS, "generate_private_key", Use.WRAP, _FIDELITY,
         "a symmetric key's RSA pair is made only if used (0.1 s of CPU per CreateKey)",
         provider="defer_symmetric_key_pairs", params=("key_spec",)),
    Hook(_KMS, "KmsBackend.create_key", Use.WRAP, _FIDELITY,
         "a key made without KeyUsage is ENCRYPT_DECRYPT, as on AWS",
         provider="wrap_create_key", params=("self", "policy", "key_usage", "key_spec",
                                             "description", "tags", "multi_region", "origin")),
    Hook(_KMS, "KmsBackend.encrypt", Use.WRAP, _FIDELITY,
         "a disabled key, or one pending deletion, refuses to encrypt",
         provider="wrap_encrypt", params=("self", "key_id", "plaintext", "encryption_context")),
    Hook(_KMS, "KmsBackend.decrypt", Use.WRAP, _FIDELITY,
         "a disabled key, or one pending deletion, refuses to decrypt; a refusal keeps its "
         "message", provider="wrap_decrypt",
         params=("self", "ciphertext_blob", "encryption_context", "key_id")),
    Hook(_KMS, "KmsBackend.disable_key", Use.WRAP, _FIDELITY,
         "takes a key ARN; refuses a key pending deletion",
         provider="wrap_disable_key", params=("self", "key_id")),
    Hook(_KMS, "KmsBackend.enable_key", Use.WRAP, _FIDELITY,
         "takes a key ARN; refuses a key pending deletion",
         provider="wrap_enable_key", params=("self", "key_id")),
    Hook(_KMS, "KmsBackend.cancel_key_deletion", Use.WRAP, _FIDELITY,
         "takes a key ARN; only a key pending deletion",
         provider="wrap_cancel_key_deletion", params=("self", "key_id")),
    Hook(_KMS, "KmsBackend.schedule_key_deletion", Use.WRAP, _FIDELITY,
         "takes a key ARN; refuses a key already pending deletion",
         provider="wrap_schedule_key_deletion",
         params=("self", "key_id", "pending_window_in_days")),
    Hook("moto.kms.responses", "KmsResponse.schedule_key_deletion", Use.WRAP, _FIDELITY,
         "PendingWindowInDays outside 7-30 is refused; the answer has the ARN, state and window",
         provider="wrap_schedule_key_deletion_response", params=("self",)),
    Hook("moto.kms.responses", "KmsResponse.cancel_key_deletion", Use.WRAP, _FIDELITY,
         "the answer has the key ARN, as on AWS",
         provider="wrap_cancel_key_deletion_response", params=("self",)),
    Hook("moto.kms.responses", "KmsResponse", Use.READ, _FIDELITY,
         "the backend the answers are read from", fields=("kms_backend",)),
    Hook("moto.kms.responses", "KmsResponse._get_param", Use.READ, _FIDELITY,
         "ScheduleKeyDeletion's PendingWindowInDays", params=("self", "param_name", "if_none")),
    Hook("moto.kms.utils", "_deserialize_ciphertext_blob", Use.READ, _FIDELITY,
         "the key a ciphertext names, checked before Decrypt", params=("ciphertext_blob",)),
    Hook(_KMS, "KmsBackend", Use.READ, _FIDELITY, "the keys, by id", fields=("keys",)),
    Hook(_KMS, "KmsBackend.get_alias_name", Use.READ, _FIDELITY,
         "tells an alias (name or ARN) from a key id or ARN", params=("alias_name",)),
    Hook(_KMS, "KmsBackend.get_key_id_from_alias", Use.READ, _FIDELITY, "the key an alias names",
         params=("self", "alias_name")),
    Hook(_KMS, "KmsBackend.get_key_id", Use.READ, _FIDELITY, "the key id in a key ARN",
         params=("key_id",)),
    Hook(_KMS, "KmsBackend.describe_key", Use.READ, _FIDELITY,
         "the key a deletion answer is about", params=("self", "key_id")),
    Hook(_KMS, "Key", Use.READ, _FIDELITY, "a key's state decides what it may do",
         fields=("arn", "key_state", "enabled")),
    Hook("moto.kms.exceptions", "AccessDeniedException", Use.READ, _FIDELITY,
         "Decrypt's refusal, answered again with its message", fields=("message",)),
    Hook("moto.core.exceptions", "JsonRESTError", Use.READ, _FIDELITY,
         "KMS's errors are answered in its JSON protocol", params=("error_type", "message", MORE)),

    # -- CloudWatch alarms that evaluate and act (cloudwatch/alarms.py) --------------------------
    Hook(_CW, "CloudWatchBackend.put_metric_alarm", Use.WRAP, _ALARMS,
         "a new alarm starts in INSUFFICIENT_DATA, an update keeps the state; both recorded",
         provider="wrap_put_metric_alarm",
         params=("self", "name", "namespace", "metric_name", "comparison_operator", MORE)),
    Hook(_CW, "CloudWatchBackend.set_alarm_state", Use.WRAP, _ALARMS,
         "a state set by hand holds a period, and a change is recorded and acted on",
         provider="wrap_set_alarm_state",
         params=("self", "alarm_name", "reason", "reason_data", "state_value")),
    Hook(_CW, "CloudWatchBackend.delete_alarms", Use.WRAP, _ALARMS,
         "a deletion is recorded in the alarm history",
         provider="wrap_delete_alarms", params=("self", "alarm_names")),
    Hook(_CW, "CloudWatchBackend.put_metric_data", Use.WRAP, _ALARMS,
         "each datum keeps its StorageResolution, so alarms bucket it as CloudWatch does",
         provider="wrap_put_metric_data", params=("self", "namespace", "metric_data")),
    Hook("moto.cloudwatch.responses", "CloudWatchResponse.describe_alarm_history", Use.ADD, _ALARMS,
         "DescribeAlarmHistory answers, from the history the wrappers record",
         provider="describe_alarm_history"),
    Hook(_CW, "CloudWatchBackend._validate_parameters_put_metric_data", Use.READ, _ALARMS,
         "a PutMetricData request is validated whole before any datum is stored",
         params=("self", "metric", "query_num")),
    Hook(_CW, "CloudWatchBackend", Use.READ, _ALARMS,
         "the alarms and metric data of an account and region",
         fields=("alarms", "metric_data", "region_name", "account_id")),
    Hook(_CW, "cloudwatch_backends", Use.READ, _ALARMS,
         "every account and region whose alarms are evaluated"),
    Hook(_CW, "Alarm", Use.READ, _ALARMS,
         "what the alarm engine evaluates, and the state it writes back",
         fields=("name", "alarm_arn", "region_name", "namespace", "metric_name", "statistic",
                 "extended_statistic", "period", "evaluation_periods", "datapoints_to_alarm",
                 "threshold", "comparison_operator", "dimensions", "treat_missing_data",
                 "evaluate_low_sample_count_percentile", "unit", "description",
                 "actions_enabled", "alarm_actions", "ok_actions", "insufficient_data_actions",
                 "configuration_updated_timestamp", "state_value", "state_reason",
                 "state_reason_data", "state_updated_timestamp", "metric_data_queries", "rule",
                 "history")),
    Hook(_CW, "Dimension", Use.READ, _ALARMS, "an alarm's and a datum's dimensions",
         fields=("name", "value")),
    Hook(_CW, "MetricDatum", Use.READ, _ALARMS, "a stored datum, as the alarm engine samples it",
         fields=("namespace", "name", "dimensions", "timestamp", "unit", "value")),
    Hook(_CW, "MetricAggregatedDatum", Use.READ, _ALARMS,
         "a stored statistic set, as the alarm engine samples it",
         fields=("namespace", "name", "dimensions", "timestamp", "unit", "sample_count", "sum",
                 "min", "max")),
    Hook("moto.cloudwatch.responses", "CloudWatchResponse", Use.READ, _ALARMS,
         "DescribeAlarmHistory's parameters and backend",
         fields=("cloudwatch_backend", "_get_param")),
    Hook("moto.cloudwatch.exceptions", "CloudWatchException", Use.READ, _ALARMS,
         "InvalidNextToken is answered as CloudWatch's error"),
    Hook("moto.core.responses", "ActionResult", Use.READ, _ALARMS,
         "DescribeAlarmHistory's answer, serialized by moto", params=("result",)),
    Hook("moto.sns.models", "sns_backends", Use.READ, _ALARMS,
         "an alarm action publishes to its topic in-process"),
    Hook("moto.sns.models", "SNSBackend.publish", Use.READ, _ALARMS,
         "the alarm notification, with its subject",
         params=("self", "message", "arn", "phone_number", "subject", MORE)),

    # -- IAM for functions (iam/authz.py) --------------------------------------------------------
    Hook("moto.iam.models", "iam_backends", Use.READ, _AUTHZ,
         "a function's execution role and its policies"),
    Hook("moto.iam.models", "IAMBackend", Use.READ, _AUTHZ, "roles by ARN, managed policies by ARN",
         fields=("get_role_by_arn", "get_policy")),
    Hook("moto.iam.models", "Role", Use.READ, _AUTHZ,
         "the trust policy, inline and attached policies and permissions boundary",
         fields=("assume_role_policy_document", "policies", "managed_policies",
                 "permissions_boundary_arn", "account_id", "partition", "id")),
    Hook("moto.iam.models", "ManagedPolicy", Use.READ, _AUTHZ,
         "a managed policy's default version", fields=("versions",)),
    Hook("moto.iam.models", "PolicyVersion", Use.READ, _AUTHZ, "the document of a version",
         fields=("is_default", "document")),
    Hook("moto.sts.models", "sts_backends", Use.READ, _AUTHZ,
         "a function's role credentials are made by moto's STS, so moto knows them"),
    Hook("moto.sts.models", "STSBackend.assume_role", Use.READ, _AUTHZ,
         "the role session of a function",
         params=("self", "region_name", "role_session_name", "role_arn", "policy", "duration",
                 "external_id")),
    Hook("moto.sts.models", "AssumedRole", Use.READ, _AUTHZ, "the credentials handed to a function",
         fields=("access_key_id", "secret_access_key", "session_token", "expiration")),
    Hook(_KMS, "kms_backends", Use.READ, _AUTHZ, "the ARN of the key a call names"),
    Hook(_KMS, "KmsBackend", Use.READ, _AUTHZ, "finds a key by id, ARN, alias name or alias ARN",
         fields=("keys", "get_alias_name", "get_key_id_from_alias", "get_key_id")),
    Hook(_KMS, "Key", Use.READ, _AUTHZ, "the resource a KMS call is authorised against",
         fields=("arn",)),
    Hook("moto.secretsmanager.models", "secretsmanager_backends", Use.READ, _AUTHZ,
         "the ARN of the secret a call names"),
    Hook("moto.secretsmanager.models", "SecretsManagerBackend", Use.READ, _AUTHZ,
         "secrets by name", fields=("secrets",)),
    Hook("moto.secretsmanager.models", "FakeSecret", Use.READ, _AUTHZ, "a secret's ARN",
         fields=("arn",)),

    # -- CloudFormation stacks as AWS runs them (cloudformation/) --------------------------------
    Hook(_CFN, "get_model_map", Use.WRAP, _RESOURCES,
         "the template's types moto lacks or makes short (Alarm, Subscription; a key's, topic's "
         "and function's Tags, ...) are made by labkit's models (moto's map is cached)",
         provider="wrap_model_map", params=()),
    Hook(_CFN, "get_name_type_map", Use.WRAP, _RESOURCES,
         "the property that names each of labkit's models (AlarmName)",
         provider="wrap_name_type_map", params=()),
    Hook(_CFN, "parse_and_create_resource", Use.WRAP, _STACKS,
         "each resource made gets its events and CloudFormation's tags; one that fails is "
         "named, never swallowed as a KeyError",
         provider="wrap_parse_and_create_resource",
         params=("logical_id", "resource_json", "resources_map", "account_id", "region_name")),
    Hook("moto.cloudformation.models", "Stack.create_resources", Use.WRAP, _STACKS,
         "a stack whose resource fails rolls back to ROLLBACK_COMPLETE",
         provider="wrap_create_resources", params=("self",)),
    Hook("moto.cloudformation.models", "Stack._parse_template", Use.WRAP, _STACKS,
         "a template that is not YAML or JSON, or not a mapping, is CloudFormation's "
         "ValidationError (moto answered 500)",
         provider="wrap_parse_template", params=("self",)),
    Hook("moto.cloudformation.exceptions", "ValidationError", Use.READ, _STACKS,
         "CloudFormation's answer to a template it cannot read", params=("name_or_id", "message")),
    Hook("moto.cloudformation.models", "Stack.delete", Use.REPLACE, _STACKS,
         "DeleteStack deletes every resource the stack made, newest first, with events",
         provider="delete_stack", params=("self",)),
    Hook("moto.cloudformation.models", "Stack.parameter_list", Use.REPLACE, _STACKS,
         "a NoEcho parameter (the encrypted webhook) shows as ****, as on AWS",
         provider="parameter_list"),
    Hook(_CFN, "NULL_MODELS", Use.READ, _STACKS, "the types CloudFormation makes nothing for"),
    Hook(_CFN, "ResourceMap", Use.READ, _STACKS,
         "a stack's template resources, what it made, its tags and conditions; which "
         "parameters are NoEcho, and their values",
         fields=("stack_id", "tags", "lazy_condition_map", "_parsed_resources",
                 "_resource_json_map", "no_echo_parameter_keys", "resolved_parameters")),
    Hook(_CFN, "OutputMap", Use.READ, _STACKS, "a stack that made nothing has no outputs",
         params=("resources", "template", "stack_id")),
    Hook("moto.cloudformation.models", "cloudformation_backends", Use.READ, _STACKS,
         "the stack a resource belongs to, for its events"),
    Hook("moto.cloudformation.models", "CloudFormationBackend", Use.READ, _STACKS,
         "stacks by id", fields=("stacks",)),
    Hook("moto.cloudformation.models", "Stack", Use.READ, _STACKS,
         "a stack's status, events, resources and outputs",
         fields=("stack_id", "name", "status", "template", "template_dict", "events",
                 "resource_map", "output_map", "account_id", "region_name", "notification_arns",
                 "_add_stack_event")),
    Hook("moto.cloudformation.models", "Event", Use.READ, _STACKS, "a resource's stack event",
         params=("stack_id", "stack_name", "logical_resource_id", "physical_resource_id",
                 "resource_type", "resource_status", "resource_status_reason",
                 "resource_properties"), fields=("sendToSns",)),
    Hook("moto.sns.models", "Topic", Use.READ, _RESOURCES,
         "AWS::SNS::Topic's model, made again with its tags", fields=("arn",)),
    Hook("moto.sns.models", "sns_backends", Use.READ, _RESOURCES,
         "topics and subscriptions of a stack"),
    Hook("moto.sns.models", "SNSBackend", Use.READ, _RESOURCES,
         "a stack's topics and subscriptions are made as CreateTopic and Subscribe make them",
         fields=("create_topic", "delete_topic", "subscribe", "unsubscribe",
                 "set_subscription_attributes")),
    Hook(_KMS, "Key", Use.READ, _RESOURCES, "AWS::KMS::Key's model, made with its tags",
         fields=("id", "enabled", "key_state", "key_rotation_status")),
    Hook(_KMS, "kms_backends", Use.READ, _RESOURCES, "a stack's keys"),
    Hook(_KMS, "KmsBackend.create_key", Use.READ, _RESOURCES, "AWS::KMS::Key, as CreateKey",
         params=("self", "policy", "key_usage", "key_spec", "description", "tags",
                 "multi_region", "origin")),
    Hook(_KMS, "KmsBackend.schedule_key_deletion", Use.READ, _RESOURCES,
         "a deleted stack's key is scheduled for deletion, as AWS does",
         params=("self", "key_id", "pending_window_in_days")),
    Hook("moto.iam.models", "Role", Use.READ, _RESOURCES,
         "AWS::IAM::Role's model, with ManagedPolicyArns attached; deleted after detaching",
         fields=("name", "managed_policies", "create_from_cloudformation_json",
                 "delete_from_cloudformation_json")),
    Hook("moto.iam.models", "iam_backends", Use.READ, _RESOURCES,
         "the roles and managed policies of a stack"),
    Hook("moto.iam.models", "IAMBackend", Use.READ, _RESOURCES,
         "policies attached and detached, a managed policy deleted",
         fields=("roles", "attach_role_policy", "detach_role_policy", "delete_policy")),
    Hook(_LAMBDA, "LambdaFunction", Use.READ, _RESOURCES,
         "AWS::Lambda::Function's model, made as CreateFunction makes it, updated in place",
         fields=("code", "update_configuration", "update_function_code")),
    Hook(_LAMBDA, "Permission", Use.READ, _RESOURCES,
         "AWS::Lambda::Permission's model, with a physical id", params=("region",)),
    Hook("moto.awslambda.utils", "get_backend", Use.READ, _RESOURCES,
         "a stack's functions and their policies", params=("account_id", "region")),
    Hook(_LAMBDA, "LambdaBackend", Use.READ, _RESOURCES,
         "functions made, permissions added and removed",
         fields=("create_function", "get_function", "add_permission", "remove_permission")),
    Hook(_CW, "cloudwatch_backends", Use.READ, _RESOURCES, "a stack's alarms"),
    Hook(_CW, "CloudWatchBackend", Use.READ, _RESOURCES,
         "AWS::CloudWatch::Alarm, as PutMetricAlarm and DeleteAlarms",
         fields=("put_metric_alarm", "delete_alarms")),
    Hook(_CW, "Alarm", Use.READ, _RESOURCES, "the alarm made, by name and ARN",
         fields=("name", "alarm_arn")),
    Hook("moto.utilities.utils", "get_partition", Use.READ, _RESOURCES,
         "IAM's backends are by partition", params=("region",)),
    Hook("moto.cloudformation.exceptions", "UnformattedGetAttTemplateException", Use.READ,
         _RESOURCES, "Fn::GetAtt of an attribute a resource lacks is refused as moto does"),

    # -- the local cloud's process (server.py) ---------------------------------------------------
    Hook("moto.moto_server.werkzeug_app", "DomainDispatcherApplication", Use.READ, _SERVER,
         "moto's WSGI application serves the AWS port"),
    Hook("moto.moto_server.werkzeug_app", "create_backend_app", Use.READ, _SERVER,
         "makes each service's application for it"),
    Hook("moto.moto_server.werkzeug_app", "MotoRequestHandler", Use.READ, _SERVER,
         "moto's request handler, with secrets masked in the log"),
    Hook("moto.backends", "get_backend", Use.READ, _SERVER,
         "every account and region of a service, to count what the learners made",
         params=("name",)),
    Hook("moto.sns.models", "SNSBackend", Use.READ, _SERVER, "topics, counted",
         fields=("topics",)),
    Hook("moto.sqs.models", "SQSBackend", Use.READ, _SERVER, "queues, counted", fields=("queues",)),
    Hook(_LAMBDA, "LambdaBackend.list_functions", Use.READ, _SERVER,
         "functions and their versions, counted", params=("self", "func_version")),
    Hook(_KMS, "KmsBackend", Use.READ, _SERVER, "keys, counted", fields=("keys",)),
    Hook("moto.iam.models", "IAMBackend", Use.READ, _SERVER, "roles and customer policies, counted",
         fields=("roles", "managed_policies")),
    Hook(_CW, "CloudWatchBackend", Use.READ, _SERVER, "alarms, counted", fields=("alarms",)),
    Hook("moto.logs.models", "LogsBackend", Use.READ, _SERVER, "log groups, counted",
         fields=("groups",)),
    Hook("moto.ec2.models", "EC2Backend.all_instances", Use.READ, _SERVER, "instances, counted",
         params=("self", "filters")),
)

ON_FIRST_STACK = frozenset({_STACKS, _RESOURCES})
"""The labkit modules whose patches the local cloud installs on its first CloudFormation
request rather than at start: importing moto's CloudFormation takes about 2 s (it imports some
thirty services), and most clouds never deploy a stack."""

AT_START = frozenset(hook.labkit for hook in TABLE) - ON_FIRST_STACK
"""The labkit modules whose patches the local cloud installs when it starts."""


# --------------------------------------------------------------------------------------------
# Installing

_MARK = "_labkit_replaces"  # set on each installed replacement: the target it stands in for
_MISSING = object()
_lock = threading.RLock()
# target -> (what the owner itself held before, what labkit's replacement was built around)
_originals: dict[str, tuple[Any, Any]] = {}


@dataclass(frozen=True)
class Services:
    """What the local cloud starts with the patches: moto hands these the work."""

    runtime: Runtime | None = None      # runs Lambda functions
    alarms: AlarmService | None = None  # evaluates alarms and runs their actions

    def shutdown(self) -> None:
        """Stop both services."""
        for service in (self.alarms, self.runtime):
            if service is not None:
                service.shutdown()


def install(endpoint_url: str | None = None, ca_bundle: str = "", home: Path | None = None, *,
            only: Collection[str] | None = None) -> Services:
    """Put labkit's replacements into moto, once (a second call changes nothing).

    With *endpoint_url* and *home* (the local cloud's AWS endpoint and state folder; *ca_bundle*
    for the functions' HTTPS calls), also start the Lambda runtime and the alarm scheduler and
    return them; a second call replaces running ones. *only* limits the patches to those of the
    named labkit modules (e.g. ``{"labkit.local.iam.accounts"}``, in a test). Raises
    RuntimeError, naming what moved, when the installed moto does not fit the table.
    """
    hooks = _selected(only)
    # What labkit only reads is checked by the unit tests (drift() of the whole table): here it
    # would import moto's services the local cloud may never use, at every start.
    problems = drift(hook for hook in hooks if hook.use is not Use.READ)
    if problems:
        raise RuntimeError(f"moto {_moto_version()} does not fit labkit (pin moto to the version "
                           "in pyproject.toml): " + " ".join(problems))
    with _lock:
        for hook in hooks:
            if hook.use is not Use.READ:
                _apply(hook)
    if endpoint_url is None or home is None:
        return Services()
    from .awslambda import runtime
    from .cloudwatch import alarms

    return Services(runtime=runtime.start(endpoint_url, ca_bundle, home), alarms=alarms.start())


def uninstall(only: Collection[str] | None = None) -> None:
    """Give moto back its own attributes (all of them, or those of the labkit modules *only*
    names). Running services keep running."""
    with _lock:
        for hook in _selected(only):
            if not is_installed(hook):
                continue
            owner, name = _owner_and_name(hook)
            own, _ = _originals.pop(hook.target)
            if own is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, own)


def is_installed(hook: Hook) -> bool:
    """Whether moto's attribute is labkit's replacement for *hook* now."""
    try:
        owner, name = _owner_and_name(hook)
    except (ImportError, AttributeError):
        return False
    return getattr(getattr(owner, name, None), _MARK, None) == hook.target


def original(hook: Hook) -> Any:
    """moto's own attribute for *hook*, even while labkit's replacement is installed."""
    owner, name = _owner_and_name(hook)
    if is_installed(hook):
        return _originals[hook.target][1]
    return getattr(owner, name, _MISSING)


def labkit_function(hook: Hook) -> Any:
    """labkit's function for a REPLACE, WRAP or ADD hook: the replacement, or for WRAP the
    function that builds it around moto's (imports the labkit module)."""
    return getattr(importlib.import_module(hook.labkit), hook.provider)


def _apply(hook: Hook) -> None:
    if is_installed(hook):
        return
    owner, name = _owner_and_name(hook)
    current = getattr(owner, name, _MISSING)
    made = labkit_function(hook)
    replacement = made(current) if hook.use is Use.WRAP else made
    setattr(replacement, _MARK, hook.target)
    own = owner.__dict__.get(name, _MISSING)  # inherited attributes are given back by deleting
    _originals[hook.target] = (own, current)
    setattr(owner, name, replacement)


def _selected(only: Collection[str] | None) -> list[Hook]:
    if only is None:
        return list(TABLE)
    unknown = set(only) - {hook.labkit for hook in TABLE}
    if unknown:
        raise ValueError(f"no hooks of {sorted(unknown)} in labkit.local.moto_patches.TABLE")
    return [hook for hook in TABLE if hook.labkit in only]


def _owner_and_name(hook: Hook) -> tuple[Any, str]:
    """The module or class holding the attribute, and its name there."""
    owner: Any = importlib.import_module(hook.module)
    *path, name = hook.attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


# --------------------------------------------------------------------------------------------
# Drift: what of the table the installed moto no longer has


def drift(hooks: Iterable[Hook] = TABLE) -> list[str]:
    """One sentence per hook whose target the installed moto no longer has as labkit expects:
    a module or attribute gone, a signature changed, an attribute labkit adds that moto now
    has itself. Empty when everything fits."""
    return [problem for hook in hooks for problem in _drift_of(hook)]


def _drift_of(hook: Hook) -> list[str]:
    def sentence(problem: str) -> str:
        return f"{hook.target} {problem}: {hook.labkit} {hook.use.value} it ({hook.why})."

    try:
        owner, name = _owner_and_name(hook)
    except ImportError:
        return [f"{hook.target}: module {hook.module} is gone; {hook.labkit} "
                f"{hook.use.value} {hook.attribute} in it ({hook.why})."]
    except AttributeError:
        owner_path = hook.attribute.rsplit(".", 1)[0]
        return [sentence(f"is gone ({hook.module}.{owner_path} is)")]
    value = original(hook)
    if hook.use is Use.ADD:
        return [] if value is _MISSING else [sentence(f"is now moto's own, so labkit's "
                                                      f"{hook.labkit}.{hook.provider} can go")]
    if value is _MISSING:
        return [sentence("is gone")]
    problems: list[str] = []
    if hook.params is not None:
        actual = _parameters(value)
        if actual is None or not _params_fit(hook.params, actual):
            shown = "no readable signature" if actual is None else f"({', '.join(actual)})"
            expected = ", ".join(hook.params)
            problems.append(sentence(f"now takes {shown}, not ({expected})"))
    missing = [field for field in hook.fields if not _has_field(value, field)]
    if missing:
        problems.append(sentence(f"no longer has {', '.join(missing)}"))
    return problems


def _parameters(value: Any) -> tuple[str, ...] | None:
    try:
        return tuple(inspect.signature(value).parameters)
    except (TypeError, ValueError):
        return None


def _params_fit(expected: tuple[str, ...], actual: tuple[str, ...]) -> bool:
    if expected and expected[-1] == MORE:
        return actual[:len(expected) - 1] == expected[:-1]
    return actual == expected


def _has_field(cls: Any, field: str) -> bool:
    """Whether objects of *cls* have *field*: on the class, or set (``self.field = ...``) in
    the module of the class or of one of its bases from the same package (moto sets most
    attributes in ``__init__``). Whole modules are searched: parsing out each class's source
    took a second."""
    if hasattr(cls, field):
        return True
    if not inspect.isclass(cls):
        return False
    package = cls.__module__.split(".")[0]
    assigned = re.compile(rf"^\s*self\.{re.escape(field)}\b\s*(?::|=(?!=)|,)", re.MULTILINE)
    return any(assigned.search(_module_text(base.__module__)) for base in cls.__mro__
               if base.__module__.split(".")[0] == package)


@lru_cache(maxsize=None)
def _module_text(module: str) -> str:
    try:
        return inspect.getsource(importlib.import_module(module))
    except (ImportError, OSError, TypeError):
        return ""


def _moto_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moto")
    except PackageNotFoundError:
        return "(not installed)"
