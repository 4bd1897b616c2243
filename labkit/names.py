"""Resource names and tags, derived from the learner's prefix.

The defaults are the source lab's names, so the notebooks, the AWS console and the original
instructions all agree. A learner prefix (``kim-mission-sns``) keeps a class apart in one account.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .i18n import t

PROJECT_TAG = "cloudwatch-slack-lab"


@dataclass(frozen=True)
class Names:
    """Every name the lab creates, for one learner."""

    topic: str
    queue: str
    function: str
    role: str
    kms_alias: str
    kms_policy: str
    alarm: str
    bastion: str
    # The bastion's IAM role (it may use Systems Manager) and the instance profile holding it:
    # made only when the lab launches the bastion on aws.
    bastion_role: str
    bastion_profile: str
    log_group: str
    test_event: str
    # The prefix the names were made with ('' or 'kim-'): notebook 08's names derive from it.
    prefix: str = ""

    def as_dict(self) -> dict[str, str]:
        """The names by what they name (the prefix is not a name, so it is left out)."""
        names = asdict(self)
        del names["prefix"]
        return names


def names_for(prefix: str = "") -> Names:
    """The lab's names with *prefix* ('' or 'kim-') in front."""
    function = f"{prefix}mission-lambda"
    return Names(
        topic=f"{prefix}mission-sns",
        queue=f"{prefix}mission-sns-inbox",
        function=function,
        role=f"{prefix}mission-lambda-role",
        kms_alias=f"alias/{prefix}mission-kms-key",
        # The source lab's spelling, kept so its screenshots and text still match.
        kms_policy=f"{prefix}AwsLambdaKmsExcutionPolicy",
        alarm=f"{prefix}mission-cpu-alarm",
        bastion=f"{prefix}bastion",
        bastion_role=f"{prefix}bastion-ssm-role",
        bastion_profile=f"{prefix}bastion-ssm-profile",
        log_group=f"/aws/lambda/{function}",
        test_event="MissionSlackTest",
        prefix=prefix,
    )


@dataclass(frozen=True)
class FlakyNames:
    """Names of notebook 08's own pipeline; a channel of its own keeps faults off #project."""

    channel: str
    parameter: str
    queue: str
    role: str
    function: str
    log_group: str
    topic: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def flaky_names(prefix: str = "") -> FlakyNames:
    """Notebook 08's names with the learner's *prefix* ('' or 'kim-') in front."""
    function = f"{prefix}mission-flaky-lambda"
    return FlakyNames(channel=f"{prefix}mission-flaky",
                      parameter=f"{prefix}mission-flaky-webhook",
                      queue=f"{prefix}mission-flaky-dlq", role=f"{prefix}mission-flaky-role",
                      function=function, log_group=f"/aws/lambda/{function}",
                      topic=f"{prefix}mission-flaky-sns")


# S3 bucket names are at most 63 characters (and global, and lower case).
_BUCKET_LIMIT = 63


@dataclass(frozen=True)
class StackNames:
    """Names of notebook 09's CloudFormation stack, which lives beside the hand-made pipeline."""

    stack: str
    # The template's NamePrefix parameter: every resource of the stack is named with it.
    name_prefix: str
    # Where the function's zip is uploaded for the stack ("" until the account is known).
    artifact_bucket: str
    # The stack's resources, named as the hand-made ones with name_prefix in front.
    resources: Names

    def as_dict(self) -> dict[str, str]:
        """The stack's own names (its resources' names are in ``resources``)."""
        return {"stack": self.stack, "name_prefix": self.name_prefix,
                "artifact_bucket": self.artifact_bucket}


def artifact_bucket(prefix: str, account: str, region: str) -> str:
    """The S3 bucket holding the stack's function zip for *prefix* in *account* and *region*.

    The account and region make the name unique across AWS (bucket names are global). A long
    student name with a long region would pass S3's 63 characters: then "mission-" is left out.
    """
    name = f"{prefix}mission-artifacts-{account}-{region}"
    if len(name) > _BUCKET_LIMIT:
        name = f"{prefix}artifacts-{account}-{region}"
    return name


def stack_names(prefix: str = "", account: str = "", region: str = "") -> StackNames:
    """Notebook 09's names with the learner's *prefix* ('' or 'kim-') in front; the artifact
    bucket's name needs the *account* and *region* (left empty without them)."""
    name_prefix = f"{prefix}stack-"
    bucket = artifact_bucket(prefix, account, region) if account and region else ""
    return StackNames(stack=f"{prefix}mission-stack", name_prefix=name_prefix,
                      artifact_bucket=bucket, resources=names_for(name_prefix))


def standard_tags(student: str = "") -> dict[str, str]:
    """The tags every resource of the lab carries, so cleanup and checks can find them."""
    return {"Project": PROJECT_TAG, "Student": student or "default", "ManagedBy": "labkit"}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` in the ``[{"Key": "k", "Value": "v"}]`` shape most AWS APIs take."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def kms_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` in KMS's own ``[{"TagKey": "k", "TagValue": "v"}]`` shape."""
    return [{"TagKey": key, "TagValue": value} for key, value in tags.items()]


# Notebooks that create something on target local only: on aws notebook 08 creates nothing,
# since a real Slack cannot be told to fail on cue.
LOCAL_ONLY = frozenset({"08"})


def plan(names: Names, account: str = "", region: str = "") -> list[tuple[str, str, str]]:
    """(notebook, what, name) for everything the lab creates, in the order it is created;
    *what* is in the current language. Notebook 08 deletes what it creates at its end.

    The artifact bucket's name holds the *account* and *region*; without them it is shown as
    its pattern (``mission-artifacts-<account>-<region>``).
    """
    flaky = flaky_names(names.prefix)
    stack = stack_names(names.prefix, account, region)
    bucket = stack.artifact_bucket or f"{names.prefix}mission-artifacts-<account>-<region>"
    return [
        ("01", t("plan.slack_webhook"), "#project channel"),
        ("02", t("plan.sns_topic"), names.topic),
        ("02", t("plan.sqs_inbox"), names.queue),
        ("03", t("plan.function_role"), names.role),
        ("03", t("plan.lambda_function"), names.function),
        ("03", t("plan.log_group"), names.log_group),
        ("04", t("plan.kms_key"), names.kms_alias),
        ("05", t("plan.kms_policy"), names.kms_policy),
        ("06", t("plan.bastion"), names.bastion),
        ("06", t("plan.alarm"), names.alarm),
        ("08", t("plan.flaky_webhook"), "#" + flaky.channel),
        ("08", t("plan.webhook_parameter"), flaky.parameter),
        ("08", t("plan.dead_letter_queue"), flaky.queue),
        ("08", t("plan.function_role"), flaky.role),
        ("08", t("plan.log_group"), flaky.log_group),
        ("08", t("plan.lambda_function"), flaky.function),
        ("08", t("plan.sns_topic"), flaky.topic),
        ("09", t("plan.artifact_bucket"), bucket),
        ("09", t("plan.stack"), stack.stack),
        ("09", t("plan.stack_resources"), stack.name_prefix + "…"),
    ]
