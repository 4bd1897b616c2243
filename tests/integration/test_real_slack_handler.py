"""A handler written for real Slack and real AWS delivers unchanged on the local cloud.

The handler below is what people deploy from the classic blueprint's recipe: decrypt the
webhook (stored without https://) with KMS and the function-name encryption context, prepend
https://, POST JSON with urllib. Nothing in it knows about the local cloud.
"""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile

import boto3
import pytest
import requests

from labkit.local import cloud

pytestmark = pytest.mark.integration

HANDLER = '''
import base64, json, os, urllib.request
import boto3

ENCRYPTED = os.environ["kmsEncryptedHookUrl"]
HOOK_URL = "https://" + boto3.client("kms").decrypt(
    CiphertextBlob=base64.b64decode(ENCRYPTED),
    EncryptionContext={"LambdaFunctionName": os.environ["AWS_LAMBDA_FUNCTION_NAME"]},
)["Plaintext"].decode("utf-8")


def lambda_handler(event, context):
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    body = {"channel": os.environ["slackChannel"],
            "text": "%s state is now %s: %s" % (message["AlarmName"], message["NewStateValue"],
                                                 message["NewStateReason"])}
    request = urllib.request.Request(HOOK_URL, data=json.dumps(body).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status
'''

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"Service": "lambda.amazonaws.com"}}]}


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


def test_a_handler_written_for_real_slack_delivers_unchanged(home):
    state, _, _ = cloud.up(home)
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="ap-northeast-2")
    client = lambda name: session.client(name, endpoint_url=state.endpoint_url)
    iam, kms, lam, sns = client("iam"), client("kms"), client("lambda"), client("sns")

    hook_path = requests.post(state.slack_http_url + "/labkit/slack/webhooks",
                              json={"channel": "project"}, timeout=5).json()["path"]
    url_without_scheme = state.slack_https_url.removeprefix("https://") + hook_path

    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    role = iam.create_role(RoleName="blueprint-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName="blueprint-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    iam.put_role_policy(RoleName="blueprint-role", PolicyName="decrypt", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}]}))
    ciphertext = base64.b64encode(kms.encrypt(
        KeyId=key_arn, Plaintext=url_without_scheme.encode(),
        EncryptionContext={"LambdaFunctionName": "blueprint"})["CiphertextBlob"]).decode()
    function_arn = lam.create_function(
        FunctionName="blueprint", Runtime="python3.12", Role=role["Role"]["Arn"],
        Handler="lambda_function.lambda_handler", Code={"ZipFile": zipped(HANDLER)},
        Environment={"Variables": {"kmsEncryptedHookUrl": ciphertext, "slackChannel": "project"}},
    )["FunctionArn"]
    topic_arn = sns.create_topic(Name="alarms")["TopicArn"]
    lam.add_permission(FunctionName="blueprint", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic_arn)
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)

    sns.publish(TopicArn=topic_arn, Message=json.dumps({
        "AlarmName": "mission-cpu-alarm", "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint (99.0) was >= 50.0."}))

    deadline = time.monotonic() + 60
    messages = []
    while time.monotonic() < deadline and not messages:
        messages = requests.get(state.slack_http_url + "/api/messages",
                                params={"channel": "project"}, timeout=5).json()["messages"]
        time.sleep(0.2)
    assert [m["text"] for m in messages] == [
        "mission-cpu-alarm state is now ALARM: Threshold Crossed: 1 datapoint (99.0) was >= 50.0."]
