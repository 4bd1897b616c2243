"""The source lab's own terminal commands, unchanged, after ``eval "$(labkit local env)"``.

The real curl and the real AWS CLI, run by bash in a clean environment: nothing of whoever runs
the tests (an AWS profile, a CA bundle) may help or hinder.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from labkit.local import cloud
from labkit.local import state as st
from labkit.local.slack import api as slack_api
from labkit.masking import find_webhook_urls

from .support import error_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
    pytest.mark.skipif(shutil.which("aws", path=str(Path(sys.executable).parent)) is None,
                       reason="the AWS CLI (awscli) is not installed"),
]

# As the source lab writes them (its region; its plaintext without "https://").
CURL = ("curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"Hello, World!\"}' "
        "$SLACK_WEBHOOK_URL")
CREATE_KEY = "aws kms create-key --region ap-northeast-2"
HOOK = "hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def in_a_terminal(home: Path, tmp_path: Path, commands: str, *env_args: str) -> str:
    """Run *commands* in bash after ``eval "$(labkit local env ...)"``; their stdout."""
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(LABKIT_HOME=str(home),
               # The labkit and aws commands of the Python that runs the tests come first.
               PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
               # No AWS configuration of whoever runs the tests may leak in.
               AWS_CONFIG_FILE=str(tmp_path / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"))
    labkit = " ".join([f"{sys.executable} -m labkit local env", *env_args])
    script = f'set -e\neval "$({labkit})"\n{commands}\n'
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_source_labs_curl_posts_to_the_local_slack(home, tmp_path):
    answer = in_a_terminal(home, tmp_path, CURL, "--slack-channel", "terminal")
    assert answer == "ok"  # Slack's answer to a message it accepted

    state = st.read_state(home)
    assert state is not None, "labkit local env started the local cloud"
    found = slack_api.call(state.slack_http_url, "GET", slack_api.MESSAGES_PATH
                           + "?channel=terminal&after=0")["messages"]
    assert [m["text"] for m in found] == ["Hello, World!"]
    # The URL went from stdout to the shell only: the cloud's log has it masked.
    log = (home / st.LOG_FILE).read_text(encoding="utf-8", errors="replace")
    assert "/services/T" in log and find_webhook_urls(log) == []


def test_the_source_labs_kms_commands_work_unchanged(home, tmp_path):
    alias = f"alias/mission-kms-key-{uuid.uuid4().hex[:6]}"
    out = in_a_terminal(home, tmp_path, "\n".join([
        # The key id the learner copies from create-key's answer into create-alias.
        f"KEY_ID=$({CREATE_KEY} | python3 -c 'import json, sys; "
        "print(json.load(sys.stdin)[\"KeyMetadata\"][\"KeyId\"])')",
        f"aws kms create-alias --alias-name {alias} --target-key-id $KEY_ID --region ap-northeast-2",
        f"aws kms encrypt \\\n  --key-id {alias} \\\n"
        f"  --plaintext fileb://<(echo -n \"{HOOK}\") \\\n  --region ap-northeast-2 \\\n"
        "  --encryption-context LambdaFunctionName=mission-lambda",
    ]))
    encrypted = json.loads(out)

    state = st.read_state(home)
    kms = boto3.client("kms", region_name="ap-northeast-2", endpoint_url=state.endpoint_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    key = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and encrypted["KeyId"] == key["Arn"]
    assert any(a["AliasName"] == alias and a["TargetKeyId"] == key["KeyId"]
               for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"])

    # As the function decrypts it: with the context it was encrypted with, and only then.
    blob = base64.b64decode(encrypted["CiphertextBlob"])
    plain = kms.decrypt(CiphertextBlob=blob,
                        EncryptionContext={"LambdaFunctionName": "mission-lambda"})["Plaintext"]
    assert plain == HOOK.encode()
    wrong = {"LambdaFunctionName": "another-lambda"}
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong))[1] \
        == "InvalidCiphertextException"


def test_the_region_option_reaches_the_cli(home, tmp_path):
    # No --region on the command line: the key is made in the region the variables name.
    out = in_a_terminal(home, tmp_path, "aws kms create-key --query KeyMetadata.Arn --output text",
                        "--region", "us-west-2")
    assert out.strip().startswith("arn:aws:kms:us-west-2:")


def test_it_uses_a_running_cloud_instead_of_starting_another(home, tmp_path):
    state, _, _ = cloud.up(home)
    out = in_a_terminal(home, tmp_path, "echo $AWS_ENDPOINT_URL")
    assert out.strip() == state.endpoint_url
    assert st.read_state(home).pid == state.pid
