"""The handout stands alone: catch-up works from it with labkit installed, nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from labkit.batch.notebooks import default_notebooks
from labkit.classroom.student_edition import build
from labkit.local import cloud

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_catch_up_from_a_handout_folder_makes_the_earlier_steps_resources(home, tmp_path):
    handout = tmp_path / "handout"
    build(default_notebooks(ROOT), handout)
    # labkit as a learner has it: installed on its own, with no workbook checkout around it.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "labkit", site / "labkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert not any((folder / "notebooks").is_dir() for folder in tmp_path.parents)
    env = dict(os.environ, LABKIT_HOME=str(home), PYTHONPATH=str(site))
    done = subprocess.run([sys.executable, "-m", "labkit", "catch-up", "03", "-q",
                           "--out", str(tmp_path / "caught-up")], cwd=handout / "notebooks",
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name[:2] for p in (tmp_path / "caught-up").glob("*.ipynb")) == [
        "00", "01", "02"]

    state = cloud.find(home).state
    sns = boto3.client("sns", region_name="ap-northeast-2", endpoint_url=state.endpoint_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert topic.endswith(":mission-sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Protocol"] for s in subscriptions] == ["sqs"]
