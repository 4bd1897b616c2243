"""Deploy the pipeline's CloudFormation template as a stack beside the hand-made pipeline.

The stack's names come from :func:`labkit.names.stack_names`; the template's shape (its
parameters, resources and outputs) is the contract of :mod:`labkit.stack.template`.

Deploying is two-phase, because the webhook URL must reach the function encrypted with a key
the stack itself creates: the stack is created (or updated) with an empty ``EncryptedWebhook``,
the URL is encrypted with the stack's key (output ``KeyArn``) under the encryption context
naming the stack's function, and the stack is updated with that ciphertext. The URL itself is
only ever handed to KMS, never printed.

The same calls run on both targets; the local cloud answers CloudFormation at once, so its
waits end on their first look.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, WaiterError

from ..errors import LabError
from ..functions import SOURCE
from ..i18n import t
from ..names import StackNames, stack_names
from ..show.pipeline import Table

if TYPE_CHECKING:
    from ..lab import Lab

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# On AWS a stack with a KMS key and IAM resources takes minutes: look every 5 s, up to 30 min.
WAIT = {"Delay": 5, "MaxAttempts": 360}
# What CloudFormation says to an update that changes nothing: not an error for a re-run.
NO_UPDATES = "No updates are to be performed"
# Stack states an update starts from; any other needs a look (or a delete) first.
_UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
              "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
# The stack's own events that start an operation (the rollbacks belong to the same one).
_STARTS = {"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"}
# What CloudFormation says of resources it stopped because another one failed.
_CANCELLED = "Resource creation cancelled"


def function_zip() -> bytes:
    """The function's zip: ``slack_notifier.py`` at its root. Its bytes depend on the source
    only (a fixed date and mode), so the same code gives the same zip and the same S3 key."""
    info = zipfile.ZipInfo(SOURCE.name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, SOURCE.read_bytes())
    return buffer.getvalue()


def _refused(error: ClientError) -> Exception:
    """What to raise when CloudFormation refuses a request: a template it cannot read (or one
    whose parameters do not fit) is a LabError saying so and what to do; anything else (a
    missing permission, say) is raised as it is, for the notebook's own explanation."""
    if _code(error) != "ValidationError":
        return error
    return LabError(t("stack.refused.what", message=_message(error)), t("stack.refused.todo"))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


class PipelineStack:
    """The learner's pipeline stack (``lab.names`` with ``stack-`` in front) on the lab's
    target: package the function, deploy the template, read its events, delete it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.names: StackNames = stack_names(lab.config.prefix, lab.account, lab.region)
        self.cloudformation = lab.client("cloudformation")
        # A deleted stack answers only to its id: kept to show its events after the delete.
        self._stack_id: str | None = None

    @property
    def name(self) -> str:
        """The stack's name (``kim-mission-stack``)."""
        return self.names.stack

    # -- reading ---------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any] | None:
        """The stack as DescribeStacks gives it, or None when there is none."""
        stack = describe_stack(self.cloudformation, self.name)
        if stack is not None:
            self._stack_id = stack["StackId"]
        return stack

    @property
    def outputs(self) -> dict[str, str]:
        """The stack's outputs (TopicArn, FunctionName, KeyArn, AlarmName); {} without a stack."""
        stack = self.describe()
        return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}

    def events(self) -> list[dict[str, Any]]:
        """The stack's events, oldest first: each a dict of time, logical_id, type, status and
        reason ("" when CloudFormation gave none)."""
        return _events(self.cloudformation, self._stack_id or self.name)

    def events_table(self, last: int | None = None) -> Table:
        """The stack's events (the *last* ones only, if given), oldest first, as a table: the
        time, the resource, its type, the status and CloudFormation's reason."""
        events = self.events()[-last:] if last else self.events()
        header = tuple(t(f"stack.events.{column}")
                       for column in ("time", "resource", "type", "status", "reason"))
        return Table(header, [(f"{e['time']:%H:%M:%S}", e["logical_id"], e["type"], e["status"],
                               e["reason"]) for e in events])

    def resources(self) -> list[dict[str, str]]:
        """The stack's resources: logical_id, physical_id (the name or ARN), type, status."""
        pages = self.cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=self.name)
        return [{"logical_id": r["LogicalResourceId"],
                 "physical_id": r.get("PhysicalResourceId", ""),
                 "type": r["ResourceType"], "status": r["ResourceStatus"]}
                for page in pages for r in page["StackResourceSummaries"]]

    # -- the function's code ---------------------------------------------------------------------
    def package_function(self) -> tuple[str, str]:
        """Upload the function's zip to the artifact bucket (made if missing); its (bucket, key).

        The key holds the zip's sha256, so a changed function is a changed parameter and an
        unchanged one is no change at all.
        """
        code = function_zip()
        digest = hashlib.sha256(code).hexdigest()
        bucket, key = self.names.artifact_bucket, f"functions/slack_notifier-{digest}.zip"
        self._ensure_bucket()
        self.lab.client("s3").put_object(Bucket=bucket, Key=key, Body=code)
        print(t("stack.progress.package", file=SOURCE.name, size=len(code) // 1024,
                where=f"s3://{bucket}/{key}"))
        return bucket, key

    def _ensure_bucket(self) -> None:
        """Create the artifact bucket, tagged as the learner's; refuse one that is not theirs."""
        s3, bucket = self.lab.client("s3"), self.names.artifact_bucket
        exists = _bucket_exists(s3, bucket)
        if exists is None:
            raise LabError(t("stack.bucket_taken.what", bucket=bucket),
                           t("stack.bucket_taken.todo"))
        if exists:
            self.lab.ensure_ours("S3 bucket", bucket, lambda: _bucket_tags(s3, bucket))
            return
        where = ({} if self.lab.region == "us-east-1" else
                 {"CreateBucketConfiguration": {"LocationConstraint": self.lab.region}})
        try:
            s3.create_bucket(Bucket=bucket, **where)
        except ClientError as error:
            if _code(error) == "BucketAlreadyExists":  # taken a moment ago, by another account
                raise LabError(t("stack.bucket_taken.what", bucket=bucket),
                               t("stack.bucket_taken.todo")) from error
            raise
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": self.lab.tag_list})

    # -- deploying -------------------------------------------------------------------------------
    def deploy(self, template_text: str, instance_id: str) -> dict[str, str]:
        """Create the stack from *template_text* (or update it), then give its function the
        encrypted webhook; the stack's outputs. Safe to run again.

        *instance_id* is the instance the stack's alarm watches. A failed create or update is a
        LabError naming the resources that failed and why.
        """
        webhook = self.lab.webhook()  # before anything is made: on aws it may be unset
        stack = self._usable_stack()
        bucket, key = self.package_function()
        values = {"NamePrefix": self.names.name_prefix, "InstanceId": instance_id,
                  "CodeS3Bucket": bucket, "CodeS3Key": key}
        if stack is None:
            print(t("stack.progress.create", stack=self.name))
            try:
                self.cloudformation.create_stack(
                    StackName=self.name, TemplateBody=template_text,
                    Parameters=_parameters(values, EncryptedWebhook=""),
                    Capabilities=CAPABILITIES, Tags=self.lab.tag_list)
            except ClientError as error:
                raise _refused(error) from None
            self._wait("stack_create_complete", "create")
        else:
            print(t("stack.progress.update", stack=self.name))
            # The webhook encrypted by the last deploy stays until the second phase replaces it.
            self._update(TemplateBody=template_text,
                         Parameters=_parameters(values, EncryptedWebhook=None))
        key_arn = self.outputs["KeyArn"]
        function = self.names.resources.function
        ciphertext = self.lab.client("kms").encrypt(
            KeyId=key_arn, Plaintext=webhook.reveal().encode(),
            EncryptionContext={"LambdaFunctionName": function})["CiphertextBlob"]
        print(t("stack.progress.encrypt", key_arn=key_arn, function=function))
        print(t("stack.progress.webhook", stack=self.name))
        self._update(UsePreviousTemplate=True, Parameters=_parameters(
            dict.fromkeys(values), EncryptedWebhook=base64.b64encode(ciphertext).decode()))
        outputs = self.outputs
        print(t("stack.progress.done", stack=self.name,
                status=self.describe()["StackStatus"]))  # type: ignore[index]
        return outputs

    def _usable_stack(self) -> dict[str, Any] | None:
        """The existing stack if it can be updated, None if it must be created.

        A stack whose create failed (ROLLBACK_COMPLETE) cannot be updated, only deleted: it is
        deleted here, saying so. A stack of this name without the lab's tags is refused.
        """
        stack = self.describe()
        if stack is None:
            return None
        self.lab.ensure_ours("CloudFormation stack", self.name, stack.get("Tags"))
        status = stack["StackStatus"]
        if status == "ROLLBACK_COMPLETE":
            print(t("stack.progress.delete_failed_create", stack=self.name))
            _delete_stack(self.cloudformation, stack["StackId"], self.name)
            return None
        if status.endswith("_IN_PROGRESS"):
            raise LabError(t("stack.busy.what", stack=self.name, status=status),
                           t("stack.busy.todo"))
        if status not in _UPDATABLE:
            raise LabError(t("stack.stuck.what", stack=self.name, status=status,
                             failures=_failures(self.cloudformation, self.name, stack)),
                           t("stack.stuck.todo"))
        return stack

    def _update(self, **request: Any) -> None:
        """UpdateStack with *request*, and wait; an update that changes nothing is fine."""
        try:
            self.cloudformation.update_stack(StackName=self.name, Capabilities=CAPABILITIES,
                                             Tags=self.lab.tag_list, **request)
        except ClientError as error:
            if _code(error) == "ValidationError" and NO_UPDATES in _message(error):
                print(t("stack.progress.no_changes", stack=self.name))
                return
            raise _refused(error) from None
        self._wait("stack_update_complete", "update")

    def _wait(self, waiter: str, operation: str) -> None:
        """Wait with CloudFormation's *waiter*; a LabError from the stack's events if it failed."""
        try:
            self.cloudformation.get_waiter(waiter).wait(StackName=self.name, WaiterConfig=WAIT)
        except WaiterError as error:
            stack = self.describe()
            status = stack["StackStatus"] if stack else "?"
            todo = t("stack.failed.todo")
            if status == "ROLLBACK_COMPLETE":
                todo += " " + t("stack.failed.rolled_back", stack=self.name)
            raise LabError(t("stack.failed.what", stack=self.name,
                             operation=t(f"stack.operation.{operation}"),
                             status=status,
                             failures=_failures(self.cloudformation, self.name, stack)),
                           todo) from error

    # -- deleting --------------------------------------------------------------------------------
    def delete(self) -> None:
        """Delete the stack and wait until it is gone, then the function's zip and the artifact
        bucket. A stack or bucket already gone is fine; a stack of this name without the lab's
        tags is refused (a LabError), a bucket without them left alone."""
        stack = self.describe()
        if stack is None:
            print(t("stack.already_gone", stack=self.name))
        else:
            self.lab.ensure_ours("CloudFormation stack", self.name, stack.get("Tags"))
            _delete_stack(self.cloudformation, stack["StackId"], self.name)
            print(t("stack.deleted", stack=self.name))
        delete_artifact_bucket(self.lab)


# -- shared with the cleanup -------------------------------------------------------------------
def delete_leftover_stacks(lab: Lab) -> list[str]:
    """Delete every CloudFormation stack carrying the learner's lab tags (waiting for each),
    then the artifact bucket; the names of what was deleted. For notebook 07, before the
    hand-made resources, since a stack deletes what it made itself."""
    cloudformation = lab.client("cloudformation")
    deleted = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            if stack["StackStatus"] == "DELETE_COMPLETE" or not lab.is_ours(stack.get("Tags")):
                continue
            _delete_stack(cloudformation, stack["StackId"], stack["StackName"])
            print(t("stack.deleted", stack=stack["StackName"]))
            deleted.append(stack["StackName"])
    if not deleted:
        print(t("stack.none_left"))
    bucket = delete_artifact_bucket(lab)
    return deleted + ([bucket] if bucket else [])


def delete_artifact_bucket(lab: Lab) -> str:
    """Empty and delete the learner's artifact bucket; its name, or "" if there was none to
    delete (gone already, or not the lab's: then it is left, saying so)."""
    s3 = lab.client("s3")
    bucket = stack_names(lab.config.prefix, lab.account, lab.region).artifact_bucket
    exists = _bucket_exists(s3, bucket)
    if not exists:
        print(t("stack.bucket_gone", bucket=bucket) if exists is False
              else t("stack.bucket_not_ours", bucket=bucket))
        return ""
    if not lab.is_ours(_bucket_tags(s3, bucket)):
        print(t("stack.bucket_not_ours", bucket=bucket))
        return ""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
    print(t("stack.bucket_deleted", bucket=bucket))
    return bucket


def _delete_stack(cloudformation: Any, stack_id: str, name: str) -> None:
    """DeleteStack by id, and wait for DELETE_COMPLETE; a LabError naming what would not go."""
    cloudformation.delete_stack(StackName=stack_id)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_id,
                                                                 WaiterConfig=WAIT)
    except WaiterError as error:
        stack = describe_stack(cloudformation, stack_id)
        raise LabError(t("stack.delete_failed.what", stack=name,
                         failures=_failures(cloudformation, stack_id, stack)),
                       t("stack.delete_failed.todo")) from error


def describe_stack(cloudformation: Any, stack: str) -> dict[str, Any] | None:
    """DescribeStacks of one stack (by name or id), None when it does not exist (a deleted
    stack asked for by id answers DELETE_COMPLETE: gone as well)."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if _code(error) == "ValidationError" and "does not exist" in _message(error):
            return None
        raise
    if not found or found[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    return found[0]


def _events(cloudformation: Any, stack: str) -> list[dict[str, Any]]:
    pages = cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack)
    events = [{"time": e["Timestamp"], "logical_id": e["LogicalResourceId"],
               "type": e.get("ResourceType", ""), "status": e.get("ResourceStatus", ""),
               "reason": e.get("ResourceStatusReason", "")}
              for page in pages for e in page["StackEvents"]]
    events.reverse()  # CloudFormation lists the newest first
    return events


def _failures(cloudformation: Any, stack: str, described: dict[str, Any] | None) -> str:
    """The resources that failed in the stack's last operation, with CloudFormation's reasons,
    one per line; the stack's own reason when no resource failed."""
    try:
        events = _events(cloudformation, stack)
    except ClientError:
        events = []
    name = (described or {}).get("StackName", stack)
    starts = [i for i, e in enumerate(events)
              if e["logical_id"] == name and e["status"] in _STARTS]
    latest = events[starts[-1]:] if starts else events
    failed = [e for e in latest if e["status"].endswith("_FAILED") and e["logical_id"] != name]
    real = [e for e in failed if _CANCELLED not in e["reason"]] or failed
    lines = [f"{e['logical_id']} ({e['type']}): {e['status']}, {e['reason'] or '?'}"
             for e in real]
    if not lines:
        lines = [(described or {}).get("StackStatusReason") or t("stack.failed.no_reason")]
    return "\n".join("  " + line for line in lines)


def _parameters(values: dict[str, str | None], **more: str | None) -> list[dict[str, Any]]:
    """CloudFormation's parameter list; a value of None keeps the stack's previous value."""
    return [{"ParameterKey": key, "UsePreviousValue": True} if value is None
            else {"ParameterKey": key, "ParameterValue": value}
            for key, value in {**values, **more}.items()]


def _bucket_exists(s3: Any, bucket: str) -> bool | None:
    """True if the bucket exists in this account, False if no bucket has the name, None if
    another account owns it (S3 names are global)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as error:
        code = _code(error)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "AccessDenied", "Forbidden"):
            return None
        raise


def _bucket_tags(s3: Any, bucket: str) -> list[dict[str, str]]:
    """The bucket's tags; [] for a bucket without any (S3 answers NoSuchTagSet then)."""
    try:
        return s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as error:
        if _code(error) == "NoSuchTagSet":
            return []
        raise
