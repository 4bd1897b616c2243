"""No file of the project holds a Slack secret (the notebooks above all)."""

import subprocess
from pathlib import Path

import pytest

from ..secret_scan import slack_secrets_in

ROOT = Path(__file__).resolve().parents[2]


def project_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout: every file but the environments
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    return [ROOT / name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


def test_the_scanner_finds_a_real_looking_webhook():
    # Built here so that this file does not itself hold a real-looking webhook.
    ids = "/".join(["T0A1B2C3D", "B0A1B2C3D", "abcdefghijklmnopqrstuvwx"])
    leaked = f"url = 'https://hooks.slack.com/services/{ids}'"
    assert slack_secrets_in(leaked)
    assert not slack_secrets_in(leaked.replace("T0A1B2C3D/B0A1B2C3D", "T00000000/B00000000"))


@pytest.mark.parametrize("path", project_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_slack_secret_in(path):
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        return
    assert slack_secrets_in(text) == []
