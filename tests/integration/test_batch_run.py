"""`labkit run` over the real notebooks on an isolated local cloud, and what it leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.local import cloud
from labkit.masking import find_webhook_urls

from ..secret_scan import slack_secrets_in

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run_lab(home: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LABKIT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "labkit", "run", "--out", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_batch_run_passes_and_leaks_no_webhook(home, tmp_path):
    out = tmp_path / "run"
    result = run_lab(home, out, "--only", "00", "01", "02")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["notebooks"] if isinstance(summary, dict) else summary
    assert [(r["notebook"], r["status"]) for r in rows] == [
        ("00_overview.ipynb", "passed"), ("01_slack_webhook.ipynb", "passed"),
        ("02_sns_topic.ipynb", "passed")]
    assert all(r["checks_passed"] > 0 and r["checks_failed"] == 0 for r in rows)

    executed = sorted(out.glob("*.ipynb"))
    assert len(executed) == 3
    for path in executed:
        text = path.read_text()
        assert find_webhook_urls(text) == [], path.name
        assert slack_secrets_in(text) == [], path.name
    # The secret really was used: the local Slack holds the notebook's messages.
    state = cloud.find(home).state
    status = cloud.fetch_status(state)
    assert status["slack"]["messages"] >= 2


def test_a_failing_notebook_is_named_with_its_cell_and_the_rest_skipped(home, tmp_path):
    result = run_lab(home, tmp_path / "run", "--only", "00", "01", "--region", "ap-northeast-9")
    assert result.returncode == 1
    report = result.stdout + result.stderr
    assert "00_overview.ipynb" in report and "cell" in report
    assert "not an AWS region code" in report
    rows = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = rows["notebooks"] if isinstance(rows, dict) else rows
    assert [r["status"] for r in rows] == ["failed", "skipped"]


def test_a_webhook_url_as_parameter_is_refused_before_anything_runs(home, tmp_path):
    url = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    result = run_lab(home, tmp_path / "run", "--webhook-env", url)
    assert result.returncode == 2
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in result.stdout + result.stderr
    assert not list((tmp_path / "run").glob("*.ipynb"))


def test_cleanup_always_runs_the_cleanup_notebook_after_a_failure(home, tmp_path):
    # 05 alone on an empty cloud fails (there is no function yet); 07 must still run after it.
    result = run_lab(home, tmp_path / "run", "--only", "05", "--cleanup", "always", "-q")
    assert result.returncode == 1
    rows = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = rows["notebooks"] if isinstance(rows, dict) else rows
    assert [(r["notebook"], r["status"]) for r in rows] == [
        ("05_iam_policy.ipynb", "failed"), ("07_cleanup.ipynb", "passed")]
