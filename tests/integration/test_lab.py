"""The notebook-facing facade against a real local cloud (and the aws target's refusals)."""

from __future__ import annotations

import os

import pytest
import requests

import labkit
from labkit.errors import LabError
from labkit.local import cloud

pytestmark = pytest.mark.integration


def test_start_local_starts_the_cloud_and_aims_everything_at_it(home):
    lab = labkit.start()
    assert lab.account == "123456789012"
    assert any("Started the local cloud" in note for note in lab.notes)
    assert os.environ["AWS_ENDPOINT_URL"] == lab.state.endpoint_url
    # A plain boto3 client, as a learner might write one, reaches the local cloud too.
    import boto3

    boto3.client("sns", region_name="ap-northeast-2").create_topic(Name="plain")
    assert any(t["TopicArn"].endswith(":plain")
               for t in lab.client("sns").list_topics()["Topics"])

    second = labkit.start()
    assert second.state.pid == lab.state.pid  # re-running the cell reuses the cloud
    assert not any("Started" in note for note in second.notes)


def test_webhook_is_stable_masked_and_delivers(home):
    lab = labkit.start()
    webhook = lab.webhook()
    assert lab.webhook() == webhook
    assert webhook.reveal().rsplit("/", 1)[-1] not in repr(webhook)
    before = lab.last_slack_message_id()
    answer = requests.post(webhook.reveal(), json={"text": "from a test"}, timeout=5)
    assert (answer.status_code, answer.text) == (200, "ok")
    message = lab.wait_for_slack_message(after=before, timeout=5)
    assert message["text"] == "from a test" and message["channel"] == "project"


def test_waiting_for_a_message_that_never_comes_says_so(home):
    lab = labkit.start(slack_channel="quiet")
    with pytest.raises(LabError, match="No message reached #quiet"):
        lab.wait_for_slack_message(after=lab.last_slack_message_id(), timeout=0.5)


def test_a_restarted_cloud_names_the_steps_to_rerun(home):
    lab = labkit.start()
    lab.check("00")
    cloud.down(home)
    again = labkit.start()
    assert any("restarted" in note and "00" in note for note in again.notes)
    assert not any("restarted" in note for note in labkit.start().notes)


def test_student_names_and_tags(home):
    lab = labkit.start(student="kim")
    assert lab.names.topic == "kim-mission-sns"
    assert {"Key": "Student", "Value": "kim"} in lab.tag_list


def test_aws_target_without_credentials_says_how_to_provide_them(home, monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(LabError) as raised:
        labkit.start(target="aws")
    assert "No AWS credentials" in raised.value.what
    assert "aws configure" in raised.value.todo and "AWS_PROFILE" in raised.value.todo


@pytest.mark.parametrize("value, words", [
    ("", "is not set"),
    ("http://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXX", "over https"),
])
def test_aws_target_webhook_comes_only_from_the_named_variable(home, monkeypatch, value, words):
    lab = labkit.start()  # a Lab on local, switched to read the variable as aws would
    object.__setattr__(lab.config, "target", "aws")
    monkeypatch.setenv("MY_HOOK", value)
    object.__setattr__(lab.config, "webhook_env", "MY_HOOK")
    with pytest.raises(LabError) as raised:
        lab.webhook()
    assert words in str(raised.value)
    assert "XXXXXXXXXXXX" not in str(raised.value)


def test_a_statement_id_is_used_once_as_on_aws(home):
    import io
    import json as _json
    import zipfile

    lab = labkit.start()
    iam, lam = lab.client("iam"), lab.client("lambda")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=_json.dumps(trust))["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("f.py", "def handler(event, context):\n    return 1\n")
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=role["Arn"],
                        Handler="f.handler", Code={"ZipFile": code.getvalue()})
    permission = dict(FunctionName="f", StatementId="sns", Action="lambda:InvokeFunction",
                      Principal="sns.amazonaws.com")
    lam.add_permission(**permission)
    with pytest.raises(lam.exceptions.ResourceConflictException, match="already exists"):
        lam.add_permission(**permission)
    assert len(_json.loads(lam.get_policy(FunctionName="f")["Policy"])["Statement"]) == 1


def test_a_cloud_started_by_another_copy_of_the_workbook_is_pointed_out(home):
    from dataclasses import replace

    from labkit.local import state as st

    first = labkit.start()
    assert not any("another copy" in note for note in first.notes)
    st.write_state(home, replace(first.state, labkit_dir="/elsewhere/labkit"))
    second = labkit.start()
    assert any("another copy or version" in note and "labkit local down" in note
               for note in second.notes)
