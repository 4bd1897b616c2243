"""Notebook 09's stack on a local cloud: the function's zip in the learner's bucket, the
two-phase deploy (the webhook encrypted for the stack's function), and the cleanup: the
inventory lists a stack and its artifact bucket, and delete_leftover_stacks removes them and
nothing of another learner's.

The stacks here are tiny (a topic; a topic and a key): what is tested is labkit's calls around
a stack, not what a stack of the whole pipeline creates.
"""

from __future__ import annotations

import io
import zipfile

import pytest

import labkit
from labkit.errors import LabError
from labkit.inventory import inventory
from labkit.names import stack_names, standard_tags, tag_list
from labkit.stack.deploy import PipelineStack, delete_leftover_stacks

pytestmark = pytest.mark.integration

TINY = """\
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: {name}
"""


@pytest.fixture
def lab(module_home):
    return labkit.start(student="kim")


def tiny_stack(lab, name: str, tags) -> str:
    """A one-topic stack named *name* with *tags*; its id."""
    cloudformation = lab.client("cloudformation")
    stack_id = cloudformation.create_stack(
        StackName=name, TemplateBody=TINY.format(name=f"{name}-topic"), Tags=tags)["StackId"]
    assert cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == \
        "CREATE_COMPLETE"
    return stack_id


def live_stacks(lab) -> set[str]:
    stacks = lab.client("cloudformation").describe_stacks()["Stacks"]
    return {s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}


def test_the_function_is_packaged_into_a_tagged_bucket_of_the_learners(lab):
    stack = PipelineStack(lab)
    bucket, key = stack.package_function()
    assert bucket == f"kim-mission-artifacts-{lab.account}-{lab.region}"
    s3 = lab.client("s3")
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]} == \
        lab.tags
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == lab.region
    code = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(code)).namelist() == ["slack_notifier.py"]
    assert stack.package_function() == (bucket, key)  # again: the same bucket and key


def test_the_inventory_lists_the_stack_and_the_bucket_and_the_cleanup_removes_them(lab, capsys):
    names = stack_names(lab.config.prefix, lab.account, lab.region)
    PipelineStack(lab).package_function()
    tiny_stack(lab, names.stack, lab.tag_list)
    tiny_stack(lab, "lee-mission-stack", tag_list(standard_tags("lee")))
    tiny_stack(lab, "web", [])

    leftovers = inventory(lab)
    assert [(x.kind, x.name, x.note) for x in leftovers[:2]] == [
        ("CloudFormation stack", names.stack, "CREATE_COMPLETE"),
        ("S3 bucket", names.artifact_bucket, "")]
    assert {x.name for x in leftovers}.isdisjoint({"lee-mission-stack", "web"})
    capsys.readouterr()

    assert delete_leftover_stacks(lab) == [names.stack, names.artifact_bucket]
    said = capsys.readouterr().out
    assert f"deleted stack {names.stack}" in said
    assert f"deleted bucket {names.artifact_bucket}" in said
    assert live_stacks(lab) >= {"lee-mission-stack", "web"}
    assert names.stack not in live_stacks(lab)
    assert names.artifact_bucket not in {
        b["Name"] for b in lab.client("s3").list_buckets()["Buckets"]}
    left = {(x.kind, x.name) for x in inventory(lab)}
    assert not {kind for kind, _ in left} & {"CloudFormation stack", "S3 bucket"}

    # Run again (notebook 07 re-run): nothing left, and it says so.
    assert delete_leftover_stacks(lab) == []
    again = capsys.readouterr().out
    assert "no CloudFormation stack of yours" in again
    assert f"bucket {names.artifact_bucket}: already gone" in again


def test_deleting_the_stack_takes_its_zip_and_bucket_and_is_safe_twice(lab, capsys):
    stack = PipelineStack(lab)
    stack.package_function()
    tiny_stack(lab, stack.name, lab.tag_list)
    assert [e["status"] for e in stack.events()][-1] == "CREATE_COMPLETE"
    assert [(r["logical_id"], r["type"]) for r in stack.resources()] == [
        ("Topic", "AWS::SNS::Topic")]
    capsys.readouterr()
    stack.delete()
    assert stack.describe() is None
    stack.delete()
    assert capsys.readouterr().out.splitlines() == [
        f"deleted stack {stack.name}",
        f"deleted bucket {stack.names.artifact_bucket} and the function's zip in it",
        f"stack {stack.name}: already gone",
        f"bucket {stack.names.artifact_bucket}: already gone"]


# The template's parameters as the contract has them, a topic and a key: enough for the two
# phases of a deploy. The output Webhook shows what the second phase gave the stack (a real
# template never outputs it).
TWO_PHASES = """\
Parameters:
  NamePrefix: {Type: String}
  EncryptedWebhook: {Type: String, NoEcho: true, Default: ""}
  InstanceId: {Type: String}
  CodeS3Bucket: {Type: String}
  CodeS3Key: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${NamePrefix}mission-sns"
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
Outputs:
  TopicArn: {Value: !Ref Topic}
  KeyArn: {Value: !GetAtt Key.Arn}
  Webhook: {Value: !Ref EncryptedWebhook}
  Code: {Value: !Sub "${CodeS3Bucket}/${CodeS3Key}"}
"""


def test_a_deploy_gives_the_stack_the_webhook_encrypted_for_its_function_and_runs_again(
        lab, capsys):
    import base64

    stack = PipelineStack(lab)
    outputs = stack.deploy(TWO_PHASES, "i-0123456789abcdef0")
    assert outputs["TopicArn"].endswith(":kim-stack-mission-sns")
    bucket, key = outputs["Code"].split("/", 1)
    assert bucket == stack.names.artifact_bucket and key.endswith(".zip")
    plain = lab.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(outputs["Webhook"]), KeyId=outputs["KeyArn"],
        EncryptionContext={"LambdaFunctionName": "kim-stack-mission-lambda"})["Plaintext"]
    assert plain.decode() == lab.webhook().reveal()
    said = capsys.readouterr().out
    assert lab.webhook().reveal() not in said

    again = stack.deploy(TWO_PHASES, "i-0123456789abcdef0")
    assert again["KeyArn"] == outputs["KeyArn"] and again["Code"] == outputs["Code"]
    assert f"stack {stack.name}: nothing to change" in capsys.readouterr().out
    assert delete_leftover_stacks(lab) == [stack.name, stack.names.artifact_bucket]


@pytest.mark.parametrize("broken, where", [
    ("Resources:\n  Topic: [not closed\n", "YAML not well-formed. (line 3, column 1)"),
    # CloudFormation's short forms are YAML too: the place told is where the text breaks.
    ("Resources:\n  Topic:\n    Type: !Ref Nothing\n  Broken: [x\n",
     "YAML not well-formed. (line 5, column 1)"),
    ("- a list\n- not a template\n", "unsupported structure."),
])
def test_a_template_that_cannot_be_read_is_refused_as_cloudformation_refuses_it(
        lab, broken, where):
    with pytest.raises(LabError) as raised:
        PipelineStack(lab).deploy(broken, "i-0123456789abcdef0")
    assert f"Template format error: {where}" in raised.value.what
    assert PipelineStack(lab).describe() is None  # nothing was created
