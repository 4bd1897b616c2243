"""Notebook 09's stack on target aws: the CloudFormation, S3 and KMS calls labkit makes, played
by botocore's Stubber (it answers only the calls it expects, in order, with these parameters).

The Lab is a real aws-target Lab (moto in-process answers its STS call); its clients are
replaced by stubbed ones.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from labkit.errors import LabError
from labkit.functions import SOURCE
from labkit.names import standard_tags, tag_list
from labkit.stack.deploy import PipelineStack, delete_leftover_stacks, function_zip

from .test_aws_target import MOTO_ACCOUNT, REGION, WEBHOOK, aws, start_aws  # noqa: F401

STACK = "kim-mission-stack"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{MOTO_ACCOUNT}:stack/{STACK}/0f1e2d3c"
BUCKET = f"kim-mission-artifacts-{MOTO_ACCOUNT}-{REGION}"
KEY_ARN = f"arn:aws:kms:{REGION}:{MOTO_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TEMPLATE = "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n"
INSTANCE = "i-0123456789abcdef0"
CODE_KEY = f"functions/slack_notifier-{hashlib.sha256(function_zip()).hexdigest()}.zip"
CIPHERTEXT = b"\x01\x02ciphertext"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def lab(aws, monkeypatch):
    """An aws Lab for student kim whose cloudformation, s3 and kms clients are stubbed."""
    monkeypatch.setenv("SLACK_WEBHOOK_URL", WEBHOOK)
    lab = start_aws(student="kim")
    clients = {name: boto3.client(name, region_name=REGION)
               for name in ("cloudformation", "s3", "kms")}
    lab.stubs = {name: Stubber(client) for name, client in clients.items()}
    lab.client = lambda service, **kwargs: clients[service]
    for stub in lab.stubs.values():
        stub.activate()
    yield lab
    for stub in lab.stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def stack(lab, status: str, tags=None, outputs: bool = True) -> dict:
    answer = {"StackId": STACK_ID, "StackName": STACK, "CreationTime": T0,
              "StackStatus": status, "Tags": lab.tag_list if tags is None else tags}
    if outputs:
        answer["Outputs"] = [{"OutputKey": "KeyArn", "OutputValue": KEY_ARN},
                             {"OutputKey": "FunctionName",
                              "OutputValue": "kim-stack-mission-lambda"}]
    return answer


def described(lab, status: str, name: str = STACK, **kwargs) -> None:
    lab.stubs["cloudformation"].add_response(
        "describe_stacks", {"Stacks": [stack(lab, status, **kwargs)]}, {"StackName": name})


def no_stack(lab, name: str = STACK) -> None:
    lab.stubs["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", f"Stack with id {name} does not exist", 400,
        expected_params={"StackName": name})


def new_bucket(lab) -> None:
    s3 = lab.stubs["s3"]
    s3.add_client_error("head_bucket", "404", "Not Found", 404, expected_params={"Bucket": BUCKET})
    s3.add_response("create_bucket", {}, {
        "Bucket": BUCKET, "CreateBucketConfiguration": {"LocationConstraint": REGION}})
    s3.add_response("put_bucket_tagging", {}, {"Bucket": BUCKET,
                                               "Tagging": {"TagSet": lab.tag_list}})
    upload(lab)


def our_bucket(lab) -> None:
    lab.stubs["s3"].add_response("head_bucket", {}, {"Bucket": BUCKET})
    lab.stubs["s3"].add_response("get_bucket_tagging", {"TagSet": lab.tag_list},
                                 {"Bucket": BUCKET})


def upload(lab) -> None:
    lab.stubs["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": CODE_KEY,
                                                    "Body": function_zip()})


def first_parameters(webhook: dict) -> list[dict]:
    return [{"ParameterKey": "NamePrefix", "ParameterValue": "kim-stack-"},
            {"ParameterKey": "InstanceId", "ParameterValue": INSTANCE},
            {"ParameterKey": "CodeS3Bucket", "ParameterValue": BUCKET},
            {"ParameterKey": "CodeS3Key", "ParameterValue": CODE_KEY},
            {"ParameterKey": "EncryptedWebhook", **webhook}]


def created(lab) -> None:
    """CreateStack with the empty webhook, NAMED_IAM and the lab's tags; complete at once."""
    lab.stubs["cloudformation"].add_response("create_stack", {"StackId": STACK_ID}, {
        "StackName": STACK, "TemplateBody": TEMPLATE,
        "Parameters": first_parameters({"ParameterValue": ""}),
        "Capabilities": CAPABILITIES, "Tags": lab.tag_list})
    described(lab, "CREATE_COMPLETE")  # the waiter's first look


def webhook_phase(lab) -> None:
    """Outputs read, the URL encrypted for the stack's function, the stack updated with it."""
    described(lab, "CREATE_COMPLETE")  # outputs: KeyArn
    lab.stubs["kms"].add_response("encrypt", {"CiphertextBlob": CIPHERTEXT, "KeyId": KEY_ARN}, {
        "KeyId": KEY_ARN, "Plaintext": WEBHOOK.encode(),
        "EncryptionContext": {"LambdaFunctionName": "kim-stack-mission-lambda"}})
    previous = [{"ParameterKey": key, "UsePreviousValue": True}
                for key in ("NamePrefix", "InstanceId", "CodeS3Bucket", "CodeS3Key")]
    lab.stubs["cloudformation"].add_response("update_stack", {"StackId": STACK_ID}, {
        "StackName": STACK, "Capabilities": CAPABILITIES, "Tags": lab.tag_list,
        "UsePreviousTemplate": True,
        "Parameters": previous + [{"ParameterKey": "EncryptedWebhook",
                                   "ParameterValue": base64.b64encode(CIPHERTEXT).decode()}]})
    described(lab, "UPDATE_COMPLETE")  # the waiter
    described(lab, "UPDATE_COMPLETE")  # outputs returned
    described(lab, "UPDATE_COMPLETE")  # the status said at the end


def event(logical_id: str, kind: str, status: str, reason: str = "", second: int = 0) -> dict:
    return {"StackId": STACK_ID, "EventId": f"{logical_id}-{status}", "StackName": STACK,
            "LogicalResourceId": logical_id, "ResourceType": kind, "ResourceStatus": status,
            "ResourceStatusReason": reason, "Timestamp": T0 + timedelta(seconds=second)}


# -- the zip -------------------------------------------------------------------------------------
def test_the_zip_holds_the_function_at_its_root_and_depends_on_the_source_only():
    code = function_zip()
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        assert archive.namelist() == ["slack_notifier.py"]
        assert archive.read("slack_notifier.py") == SOURCE.read_bytes()
    assert function_zip() == code  # same source, same bytes: same S3 key, no stack change


# -- deploy ------------------------------------------------------------------------------------
def test_a_first_deploy_creates_the_stack_then_gives_it_the_encrypted_webhook(lab, capsys):
    no_stack(lab)
    new_bucket(lab)
    created(lab)
    webhook_phase(lab)
    outputs = PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    assert outputs["KeyArn"] == KEY_ARN
    said = capsys.readouterr().out
    lines = said.strip().splitlines()
    assert lines[0].startswith("packaged slack_notifier.py") and f"s3://{BUCKET}/" in lines[0]
    assert lines[1].startswith(f"creating stack {STACK}")
    assert "LambdaFunctionName=kim-stack-mission-lambda" in lines[2]
    assert lines[3].startswith(f"updating stack {STACK} with the encrypted webhook")
    assert lines[4] == f"stack {STACK}: UPDATE_COMPLETE"
    assert WEBHOOK not in said and "XXXXXXXXXXXXXXXXXXXXXXXX" not in said


def test_deploying_again_updates_the_stack_and_keeps_the_webhook_until_it_is_replaced(lab,
                                                                                     capsys):
    described(lab, "UPDATE_COMPLETE")
    our_bucket(lab)
    upload(lab)
    lab.stubs["cloudformation"].add_client_error(
        "update_stack", "ValidationError", "No updates are to be performed.", 400,
        expected_params={"StackName": STACK, "Capabilities": CAPABILITIES,
                         "Tags": lab.tag_list, "TemplateBody": TEMPLATE,
                         "Parameters": first_parameters({"UsePreviousValue": True})})
    webhook_phase(lab)
    PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    said = capsys.readouterr().out
    assert f"updating stack {STACK} with the template" in said
    assert f"stack {STACK}: nothing to change" in said
    assert "creating" not in said


def test_a_failed_create_names_the_resource_and_why(lab):
    no_stack(lab)
    new_bucket(lab)
    cloudformation = lab.stubs["cloudformation"]
    cloudformation.add_response("create_stack", {"StackId": STACK_ID}, None)
    described(lab, "ROLLBACK_COMPLETE", outputs=False)  # the waiter: a failure state
    described(lab, "ROLLBACK_COMPLETE", outputs=False)
    denied = "Resource handler returned message: \"Error occurred while GetObject. S3 Error " \
             "Code: NoSuchKey\""
    cloudformation.add_response("describe_stack_events", {"StackEvents": list(reversed([
        event(STACK, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated", 0),
        event("Topic", "AWS::SNS::Topic", "CREATE_IN_PROGRESS", "", 1),
        event("Function", "AWS::Lambda::Function", "CREATE_FAILED", denied, 2),
        event("Topic", "AWS::SNS::Topic", "CREATE_FAILED", "Resource creation cancelled", 3),
        event(STACK, "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS", "", 4),
        event(STACK, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", "", 5),
    ]))}, {"StackName": STACK})
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    error = raised.value
    assert f"The create of stack {STACK} failed (ROLLBACK_COMPLETE)" in error.what
    assert "Function (AWS::Lambda::Function): CREATE_FAILED" in error.what
    assert "NoSuchKey" in error.what
    assert "Topic" not in error.what  # cancelled because of the function: not the cause
    assert "events" in error.todo and "deploy again" in error.todo
    assert "next deploy deletes it" in error.todo


def test_a_template_cloudformation_cannot_read_is_a_lab_error_saying_what_to_do(lab):
    no_stack(lab)
    new_bucket(lab)
    lab.stubs["cloudformation"].add_client_error(
        "create_stack", "ValidationError", "Template format error: YAML not well-formed. "
        "(line 3, column 7)")
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    assert "refused the template: Template format error: YAML not well-formed. (line 3" \
        in raised.value.what
    assert "lint_template" in raised.value.todo and "export_template" in raised.value.todo


def test_a_stack_left_by_a_failed_create_is_deleted_before_it_is_created_again(lab, capsys):
    described(lab, "ROLLBACK_COMPLETE", outputs=False)
    cloudformation = lab.stubs["cloudformation"]
    cloudformation.add_response("delete_stack", {}, {"StackName": STACK_ID})
    no_stack(lab, STACK_ID)  # the delete waiter: gone
    new_bucket(lab)
    created(lab)
    webhook_phase(lab)
    PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    said = capsys.readouterr().out
    assert said.index("ROLLBACK_COMPLETE") < said.index("creating stack")
    assert "deleted first" in said


def test_a_stack_of_that_name_without_the_lab_tags_is_left_alone(lab):
    described(lab, "CREATE_COMPLETE", tags=[{"Key": "Team", "Value": "ops"}])
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    assert f"CloudFormation stack '{STACK}' already exists but is not this lab's" in \
        raised.value.what


def test_without_a_webhook_nothing_is_made(lab, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).deploy(TEMPLATE, INSTANCE)
    assert "SLACK_WEBHOOK_URL" in raised.value.what  # and no call was made: no stub answered


def test_a_bucket_of_another_account_is_refused(lab):
    lab.stubs["s3"].add_client_error("head_bucket", "403", "Forbidden", 403,
                                     expected_params={"Bucket": BUCKET})
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).package_function()
    assert f"The S3 bucket name {BUCKET} is taken" in raised.value.what
    assert "student = 'yourname'" in raised.value.todo


def test_a_bucket_of_that_name_without_the_lab_tags_is_refused(lab):
    lab.stubs["s3"].add_response("head_bucket", {}, {"Bucket": BUCKET})
    lab.stubs["s3"].add_client_error("get_bucket_tagging", "NoSuchTagSet", "no tags", 404,
                                     expected_params={"Bucket": BUCKET})
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).package_function()
    assert f"S3 bucket '{BUCKET}' already exists but is not this lab's" in raised.value.what


# -- events ------------------------------------------------------------------------------------
def test_events_are_plain_and_oldest_first(lab):
    lab.stubs["cloudformation"].add_response("describe_stack_events", {"StackEvents": [
        event("Topic", "AWS::SNS::Topic", "CREATE_COMPLETE", "", 2),
        event(STACK, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated", 1),
    ]}, {"StackName": STACK})
    assert PipelineStack(lab).events() == [
        {"time": T0 + timedelta(seconds=1), "logical_id": STACK,
         "type": "AWS::CloudFormation::Stack", "status": "CREATE_IN_PROGRESS",
         "reason": "User Initiated"},
        {"time": T0 + timedelta(seconds=2), "logical_id": "Topic", "type": "AWS::SNS::Topic",
         "status": "CREATE_COMPLETE", "reason": ""}]


# -- delete ------------------------------------------------------------------------------------
def bucket_emptied_and_deleted(lab) -> None:
    our_bucket(lab)
    s3 = lab.stubs["s3"]
    s3.add_response("list_objects_v2", {"Contents": [{"Key": CODE_KEY}], "IsTruncated": False},
                    {"Bucket": BUCKET})
    s3.add_response("delete_objects", {}, {"Bucket": BUCKET, "Delete": {
        "Objects": [{"Key": CODE_KEY}], "Quiet": True}})
    s3.add_response("delete_bucket", {}, {"Bucket": BUCKET})


def test_delete_waits_for_the_stack_then_removes_the_zip_and_the_bucket(lab, capsys):
    described(lab, "UPDATE_COMPLETE")
    lab.stubs["cloudformation"].add_response("delete_stack", {}, {"StackName": STACK_ID})
    described(lab, "DELETE_COMPLETE", name=STACK_ID)
    bucket_emptied_and_deleted(lab)
    PipelineStack(lab).delete()
    assert capsys.readouterr().out.splitlines() == [
        f"deleted stack {STACK}", f"deleted bucket {BUCKET} and the function's zip in it"]


def test_deleting_a_stack_that_is_gone_is_fine(lab, capsys):
    no_stack(lab)
    lab.stubs["s3"].add_client_error("head_bucket", "404", "Not Found", 404,
                                     expected_params={"Bucket": BUCKET})
    PipelineStack(lab).delete()
    assert capsys.readouterr().out.splitlines() == [
        f"stack {STACK}: already gone", f"bucket {BUCKET}: already gone"]


def test_a_delete_that_fails_names_what_stays(lab):
    described(lab, "UPDATE_COMPLETE")
    cloudformation = lab.stubs["cloudformation"]
    cloudformation.add_response("delete_stack", {}, {"StackName": STACK_ID})
    described(lab, "DELETE_FAILED", name=STACK_ID)
    described(lab, "DELETE_FAILED", name=STACK_ID)
    cloudformation.add_response("describe_stack_events", {"StackEvents": list(reversed([
        event(STACK, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS", "User Initiated", 0),
        event("Role", "AWS::IAM::Role", "DELETE_FAILED",
              "Cannot delete entity, must detach all policies first.", 1),
        event(STACK, "AWS::CloudFormation::Stack", "DELETE_FAILED", "", 2),
    ]))}, {"StackName": STACK_ID})
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).delete()
    assert "Role (AWS::IAM::Role): DELETE_FAILED, Cannot delete entity" in raised.value.what


def test_delete_leftover_stacks_deletes_the_learners_stacks_only_then_the_bucket(lab, capsys):
    other = stack(lab, "CREATE_COMPLETE", tags=tag_list(standard_tags("lee")))
    other.update(StackName="lee-mission-stack", StackId=STACK_ID.replace("kim", "lee"))
    untagged = {**stack(lab, "CREATE_COMPLETE", tags=[]), "StackName": "web",
                "StackId": STACK_ID.replace(STACK, "web")}
    cloudformation = lab.stubs["cloudformation"]
    cloudformation.add_response("describe_stacks", {"Stacks": [
        other, stack(lab, "ROLLBACK_COMPLETE"), untagged]}, {})
    cloudformation.add_response("delete_stack", {}, {"StackName": STACK_ID})
    no_stack(lab, STACK_ID)  # the waiter: gone
    bucket_emptied_and_deleted(lab)
    assert delete_leftover_stacks(lab) == [STACK, BUCKET]
    assert capsys.readouterr().out.splitlines()[0] == f"deleted stack {STACK}"


def test_delete_leftover_stacks_with_nothing_left_says_so(lab, capsys):
    lab.stubs["cloudformation"].add_response("describe_stacks", {"Stacks": []}, {})
    lab.stubs["s3"].add_client_error("head_bucket", "404", "Not Found", 404,
                                     expected_params={"Bucket": BUCKET})
    assert delete_leftover_stacks(lab) == []
    assert capsys.readouterr().out.splitlines() == [
        "no CloudFormation stack of yours", f"bucket {BUCKET}: already gone"]


# -- inventory ---------------------------------------------------------------------------------
def test_the_inventory_names_a_stack_and_a_bucket_from_their_arns():
    from labkit.inventory import describe_arn

    assert describe_arn(STACK_ID) == ("CloudFormation stack", STACK)
    assert describe_arn(f"arn:aws:s3:::{BUCKET}") == ("S3 bucket", BUCKET)
