"""Every notebook runs twice in a row without errors or duplicates; catch-up restores a step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

from labkit.local import cloud
from labkit.batch.notebooks import default_notebooks
from labkit.batch.run import run_notebooks

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# These runs are about re-runs and leftovers, not the CPU: the bastion's figures are scripted
# (tests/integration/test_bastion_alarm.py and nbval run the real load).
SCRIPTED = {"bastion_cpu": "scripted"}


def clients(home: Path):
    state = cloud.find(home).state
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="ap-northeast-2")
    return state, (lambda name: session.client(name, endpoint_url=state.endpoint_url))


def test_every_notebook_twice_in_a_row_then_the_whole_lab_again_each_ending_empty(
        home, tmp_path):
    """Re-runs, in one shared sequence of runs: every notebook twice in a row (notebook 09's
    stack included) leaves one of each resource; the cleanup then leaves nothing; the whole lab
    run once more, in the lesson's order, ends empty again with only keys pending deletion."""
    import labkit
    from labkit.inventory import inventory

    notebooks = [p for p in default_notebooks(ROOT) if "cleanup" not in p.stem]
    (cleanup,) = [p for p in default_notebooks(ROOT) if "cleanup" in p.stem]
    doubled = [path for path in notebooks for _ in range(2)]
    results = run_notebooks(doubled, SCRIPTED, tmp_path / "run", progress=False)
    failed = [(r.notebook, r.location, r.error) for r in results if r.status != "passed"]
    assert failed == []
    assert len(results) == 2 * len(notebooks)

    state, client = clients(home)
    sns, lam, iam, kms, cw, ec2 = (client(n) for n in ("sns", "lambda", "iam", "kms",
                                                       "cloudwatch", "ec2"))
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert [t.rsplit(":", 1)[-1] for t in topics] == ["mission-sns"]
    protocols = sorted(s["Protocol"] for s in
                       sns.list_subscriptions_by_topic(TopicArn=topics[0])["Subscriptions"])
    assert protocols == ["lambda", "sqs"]
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["mission-lambda"]
    policy = json.loads(lam.get_policy(FunctionName="mission-lambda")["Policy"])
    assert len(policy["Statement"]) == 1
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["mission-lambda-role"]
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == [
        "AwsLambdaKmsExcutionPolicy"]
    # Notebook 09's stacks each left a key pending deletion; one key of the lab's is in use.
    states = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
              for k in kms.list_keys()["Keys"]]
    assert sorted(states) == ["Enabled", "PendingDeletion", "PendingDeletion"]
    assert [a["AliasName"] for a in kms.list_aliases()["Aliases"]
            if not a["AliasName"].startswith("alias/aws/")] == ["alias/mission-kms-key"]
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["mission-cpu-alarm"]
    running = [i for r in ec2.describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["running", "pending"]}])["Reservations"]
        for i in r["Instances"]]
    assert len(running) == 1
    hooks = requests.get(state.endpoint_url + "/labkit/status", timeout=5).json()["slack"]
    # Notebook 08 posts to a channel of its own; webhooks of the local Slack are not deleted.
    assert sorted(w["channel"] for w in hooks["webhooks"]) == ["mission-flaky", "project"]

    (cleaned,) = run_notebooks([cleanup], SCRIPTED, tmp_path / "cleanup", progress=False)
    assert cleaned.status == "passed", cleaned.error
    assert [x for x in inventory(labkit.start()) if not x.expected] == []

    whole = default_notebooks(ROOT)  # as `labkit run` runs them: 08 cleans up after itself
    results = run_notebooks(whole, SCRIPTED, tmp_path / "again", progress=False)
    assert [(r.notebook, r.status) for r in results if r.status != "passed"] == []
    leftovers = inventory(labkit.start())
    assert [x for x in leftovers if not x.expected] == []
    # Each round made and scheduled the deletion of its own key, and so did each of the three
    # runs of notebook 09 (its stack's key); nothing else remains.
    assert sum(x.kind == "KMS key" for x in leftovers) == 2 + 3


def test_a_notebook_opened_first_works_after_catch_up(home, tmp_path):
    env = dict(os.environ, LABKIT_HOME=str(home))
    caught_up = subprocess.run([sys.executable, "-m", "labkit", "catch-up", "05", "-q",
                                "--out", str(tmp_path / "catch-up")], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=900)
    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    ran = sorted(p.name[:2] for p in (tmp_path / "catch-up").glob("*.ipynb"))
    assert ran == ["00", "01", "02", "03", "04"]

    notebook = [p for p in default_notebooks(ROOT) if p.name.startswith("05")]
    (result,) = run_notebooks(notebook, {}, tmp_path / "run", progress=False)
    assert (result.status, result.checks_failed) == ("passed", 0)


def test_catch_up_refuses_a_step_that_is_not_a_number(home):
    env = dict(os.environ, LABKIT_HOME=str(home))
    done = subprocess.run([sys.executable, "-m", "labkit", "catch-up", "lambda"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "not a step number" in done.stdout + done.stderr


def test_catch_up_from_a_notebook_runs_the_earlier_steps(home, capsys):
    import labkit

    lab = labkit.start(step="02")
    assert lab.slack_messages() == []
    lab.catch_up()
    assert "00_overview.ipynb" in capsys.readouterr().out
    # Notebook 01 ran in the same local cloud: its test message is in the channel.
    assert any("Hello, World!" in m["text"] for m in lab.slack_messages())
