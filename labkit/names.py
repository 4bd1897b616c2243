"""Resource names and tags, derived from the learner's prefix.

The defaults are the source lab's names, so the notebooks, the AWS console and the original
instructions all agree. A learner prefix (``kim-mission-sns``) keeps a class apart in one account.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
    log_group: str
    test_event: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


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
        log_group=f"/aws/lambda/{function}",
        test_event="MissionSlackTest",
    )


def standard_tags(student: str = "") -> dict[str, str]:
    """The tags every resource of the lab carries, so cleanup and checks can find them."""
    return {"Project": PROJECT_TAG, "Student": student or "default", "ManagedBy": "labkit"}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` in the ``[{"Key": "k", "Value": "v"}]`` shape most AWS APIs take."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def kms_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` in KMS's own ``[{"TagKey": "k", "TagValue": "v"}]`` shape."""
    return [{"TagKey": key, "TagValue": value} for key, value in tags.items()]


def plan(names: Names) -> list[tuple[str, str, str]]:
    """(notebook, what, name) for everything the lab creates, in the order it is created."""
    return [
        ("01", "Slack incoming webhook", "#project channel"),
        ("02", "SNS topic", names.topic),
        ("02", "SQS queue (shows what SNS delivers)", names.queue),
        ("03", "IAM role for the function", names.role),
        ("03", "Lambda function", names.function),
        ("03", "CloudWatch Logs log group", names.log_group),
        ("04", "KMS key and alias", names.kms_alias),
        ("05", "IAM policy allowing kms:Decrypt", names.kms_policy),
        ("06", "EC2 instance to watch (local target)", names.bastion),
        ("06", "CloudWatch alarm", names.alarm),
    ]
