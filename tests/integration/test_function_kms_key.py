"""A function's customer managed key (KMSKeyArn) on the local cloud, as on Lambda.

Lambda decrypts a function's environment variables with that key before the function runs, so
while the key is disabled or pending deletion Invoke fails with HTTP 502 and
``KMSDisabledException`` / ``KMSInvalidStateException`` (Lambda API reference, Invoke, Errors),
and works again once the key is enabled. Asynchronous invocations fail the same way and are
retried, then dead-lettered, like any failed event. Notebook 04 sets the lab's key on the lab's
function.

One local cloud (own LABKIT_HOME) per test; asynchronous outcomes are polled for, never timed.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

import labkit
from labkit import i18n
from labkit.events import mission_slack_test
from labkit.local import cloud
from labkit.batch.notebooks import default_notebooks
from labkit.batch.run import run_notebooks
from labkit.checks.steps import run_checks

from .support import error_of, poll

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

REGION = "ap-northeast-2"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]}
# Dead-letter queues and destinations are written with the function's role, as on AWS.
DELIVERY_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]}
HANDLER = '''
import os

def handler(event, context):
    return {"colour": os.environ["COLOUR"], "event": event}
'''


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


class Cloud:
    """Clients of an isolated local cloud, a key, and a function whose variables it encrypts."""

    def __init__(self, home: Path) -> None:
        state, _, _ = cloud.up(home)
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name=REGION)
        self.lam, self.kms, self.iam, self.sqs, self.sns = (
            session.client(name, endpoint_url=state.endpoint_url)
            for name in ("lambda", "kms", "iam", "sqs", "sns"))
        role = self.iam.create_role(RoleName="key-test-role",
                                    AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
        self.iam.put_role_policy(RoleName="key-test-role", PolicyName="deliveries",
                                 PolicyDocument=json.dumps(DELIVERY_POLICY))
        self.role_arn = role["Arn"]
        self.key = self.kms.create_key(Description="function key")["KeyMetadata"]

    def deploy(self, name: str, **config: Any) -> str:
        return self.lam.create_function(
            FunctionName=name, Runtime="python3.11", Role=self.role_arn, Handler="index.handler",
            Code={"ZipFile": zipped(HANDLER)}, Environment={"Variables": {"COLOUR": "blue"}},
            **config)["FunctionArn"]

    def invoke(self, name: str, event: Any = None, **kwargs: Any) -> tuple[dict, Any]:
        answer = self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
        return answer, json.loads(answer["Payload"].read() or b"null")

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def receive(self, queue_url: str) -> dict:
        def one() -> dict | None:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"],
                                                WaitTimeSeconds=1).get("Messages", [])
            return messages[0] if messages else None
        return poll(one)


@pytest.fixture
def lab(home, monkeypatch) -> Cloud:
    # Short retry delays keep the asynchronous test quick; the cloud process reads them.
    monkeypatch.setenv("LABKIT_LAMBDA_RETRY_DELAYS", "0.2,0.4")
    return Cloud(home)


def works(lab: Cloud, name: str) -> bool:
    answer, result = lab.invoke(name, {"n": 1})
    return (answer["StatusCode"] == 200 and "FunctionError" not in answer
            and result == {"colour": "blue", "event": {"n": 1}})


def test_kms_key_arn_is_kept_by_create_and_update_and_shown_only_when_set(lab):
    lab.deploy("keyed", KMSKeyArn=lab.key["Arn"])
    assert lab.lam.get_function_configuration(FunctionName="keyed")["KMSKeyArn"] == lab.key["Arn"]

    lab.deploy("plain")
    assert "KMSKeyArn" not in lab.lam.get_function_configuration(FunctionName="plain")
    answer = lab.lam.update_function_configuration(FunctionName="plain", KMSKeyArn=lab.key["Arn"])
    assert answer["KMSKeyArn"] == lab.key["Arn"]
    assert lab.lam.get_function_configuration(FunctionName="plain")["KMSKeyArn"] == lab.key["Arn"]

    # Another update that does not name the key leaves it; an empty one goes back to aws/lambda.
    lab.lam.update_function_configuration(FunctionName="plain", Timeout=5)
    assert lab.lam.get_function_configuration(FunctionName="plain")["KMSKeyArn"] == lab.key["Arn"]
    lab.lam.update_function_configuration(FunctionName="plain", KMSKeyArn="")
    assert "KMSKeyArn" not in lab.lam.get_function_configuration(FunctionName="plain")


def test_invoke_fails_while_the_key_is_disabled_and_works_once_it_is_enabled(lab):
    lab.deploy("keyed")
    lab.lam.update_function_configuration(FunctionName="keyed", KMSKeyArn=lab.key["Arn"])
    assert works(lab, "keyed")  # and its environment is now warm

    lab.kms.disable_key(KeyId=lab.key["KeyId"])
    status, code, message = error_of(lambda: lab.invoke("keyed"))
    assert (status, code) == (502, "KMSDisabledException")
    assert "unable to decrypt the environment variables" in message
    assert f"{lab.key['Arn']} is disabled" in message
    # A function without the key is not affected.
    lab.deploy("unkeyed")
    assert works(lab, "unkeyed")

    lab.kms.enable_key(KeyId=lab.key["KeyId"])
    assert works(lab, "keyed")


def test_invoke_fails_while_the_key_is_pending_deletion_until_it_is_cancelled(lab):
    lab.deploy("keyed", KMSKeyArn=lab.key["Arn"])
    assert works(lab, "keyed")

    lab.kms.schedule_key_deletion(KeyId=lab.key["KeyId"], PendingWindowInDays=7)
    status, code, message = error_of(lambda: lab.invoke("keyed"))
    assert (status, code) == (502, "KMSInvalidStateException")
    assert f"{lab.key['Arn']} is pending deletion" in message

    # As on AWS, a cancelled deletion leaves the key disabled: Invoke says so, until enabled.
    lab.kms.cancel_key_deletion(KeyId=lab.key["KeyId"])
    assert error_of(lambda: lab.invoke("keyed"))[:2] == (502, "KMSDisabledException")
    lab.kms.enable_key(KeyId=lab.key["KeyId"])
    assert works(lab, "keyed")


def test_a_key_that_does_not_exist_is_kms_not_found(lab):
    missing = lab.key["Arn"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    lab.deploy("lost", KMSKeyArn=missing)
    assert error_of(lambda: lab.invoke("lost"))[:2] == (502, "KMSNotFoundException")


def test_asynchronous_invocations_fail_the_same_way_and_are_retried_then_dead_lettered(lab):
    queue_url, queue_arn = lab.queue("dead-letters")
    failures_url, failures_arn = lab.queue("on-failure")
    function_arn = lab.deploy("keyed", KMSKeyArn=lab.key["Arn"],
                              DeadLetterConfig={"TargetArn": queue_arn})
    lab.lam.put_function_event_invoke_config(
        FunctionName="keyed", DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    lab.kms.disable_key(KeyId=lab.key["KeyId"])

    answer = lab.lam.invoke(FunctionName="keyed", InvocationType="Event",
                            Payload=json.dumps({"n": 7}))
    assert answer["StatusCode"] == 202  # accepted: the failure comes when the event runs
    record = json.loads(lab.receive(failures_url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # Lambda's two retries
    assert record["responsePayload"]["errorType"] == "KMSDisabledException"
    dead = lab.receive(queue_url)
    assert json.loads(dead["Body"]) == {"n": 7}
    assert "KMS key used is disabled" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]

    # SNS hands its message to the same asynchronous queue.
    topic_arn = lab.sns.create_topic(Name="alarms")["TopicArn"]
    lab.lam.add_permission(FunctionName="keyed", StatementId="sns",
                           Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                           SourceArn=topic_arn)
    lab.sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
    lab.sns.publish(TopicArn=topic_arn, Message="cpu high")
    dead = lab.receive(queue_url)
    assert json.loads(dead["Body"])["Records"][0]["Sns"]["Message"] == "cpu high"
    assert "KMS key used is disabled" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]


def test_notebook_04_sets_the_lab_key_on_the_function_and_its_check_sees_it(home, tmp_path):
    notebooks = [p for p in default_notebooks(ROOT) if p.name[:2] <= "04"]
    results = run_notebooks(notebooks, {}, tmp_path / "run", progress=False)
    assert [(r.notebook, r.status, r.checks_failed) for r in results] == [
        (p.name, "passed", 0) for p in notebooks]

    lab = labkit.start(target="local", step="04")
    lam, kms = lab.client("lambda"), lab.client("kms")
    key = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]
    config = lam.get_function_configuration(FunctionName=lab.names.function)
    assert config["KMSKeyArn"] == key["Arn"]

    wording = i18n.t("check.04.function_key", alias=lab.names.kms_alias)

    def key_check() -> bool:
        (item,) = [i for i in run_checks(lab, "04").items if i.text == wording]
        return item.ok

    assert key_check()
    lam.update_function_configuration(FunctionName=lab.names.function, KMSKeyArn="")
    assert not key_check()
    lam.update_function_configuration(FunctionName=lab.names.function, KMSKeyArn=key["Arn"])
    assert key_check()

    # The lab's function now stops while its key is disabled, and runs again once enabled
    # (until notebook 05 its own kms:Decrypt is still denied: a function error, not a 502).
    def invoke() -> dict:
        return lam.invoke(FunctionName=lab.names.function,
                          Payload=json.dumps(mission_slack_test()))

    kms.disable_key(KeyId=key["KeyId"])
    assert error_of(invoke)[:2] == (502, "KMSDisabledException")
    kms.enable_key(KeyId=key["KeyId"])
    answer = invoke()
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert "kms:Decrypt" in json.loads(answer["Payload"].read())["errorMessage"]
