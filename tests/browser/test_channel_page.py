"""The local Slack's channel page, in a real browser: a posted message appears live, as Slack
shows it, with its attachment's colour bar.

Runs against the test session's local cloud (its own LABKIT_HOME, see the root conftest.py),
over the plain-http port a notebook links to and over the https port.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

import labkit
import labkit.lab
from labkit import cli
from labkit.local import cloud
from labkit.local import state as st
from labkit.local.slack.channel_page import page_url

from .conftest import WAIT_MS, expect

pytestmark = pytest.mark.browser

# The browser runs in Seoul's zone, so a time shown in the server's zone (UTC here) would differ.
SEOUL = timezone(timedelta(hours=9))
ALARM_RED = "#d62728"


@pytest.fixture
def start_lab() -> Iterator[Callable[[str], labkit.Lab]]:
    """Start a lab on a channel of its own, on the session's local cloud."""
    yield lambda channel: labkit.start(target="local", slack_channel=channel)
    labkit.lab._point_kernel_at(None, "")  # undo the variables start() set in this process


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A browser context in Seoul's time zone, trusting the local CA's certificate."""
    # The https port's certificate comes from the local CA, which this browser does not know.
    made = browser.new_context(ignore_https_errors=True, timezone_id="Asia/Seoul",
                               locale="en-US", viewport={"width": 1100, "height": 800})
    made.set_default_timeout(WAIT_MS)
    yield made
    made.close()


def post(lab: labkit.Lab, payload: dict[str, Any]) -> None:
    assert lab.state is not None
    answer = requests.post(lab.webhook().reveal(), json=payload, verify=lab.state.ca_bundle,
                           timeout=30)
    assert (answer.status_code, answer.text) == (200, "ok")


def alarm_payload(marker: str) -> dict[str, Any]:
    """An alarm-shaped message like the lab function's, with every kind of formatting."""
    return {
        "text": f"ALARM: {marker}",
        "attachments": [{
            "color": ALARM_RED,
            "blocks": [
                {"type": "header",
                 "text": {"type": "plain_text", "text": f":rotating_light: {marker} is in ALARM"}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*State*\nOK → ALARM"},
                    {"type": "mrkdwn", "text": "*Region*\n_ap-northeast-2_"},
                ]},
                {"type": "divider"},
                {"type": "section", "text": {
                    "type": "mrkdwn",
                    "text": "<!channel> see the <https://example.com/runbook|runbook>, "
                            "ask <@U024BE7LH>, `CPUUtilization`"}},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": "Average ≥ 50 for 1 datapoint"}]},
            ],
        }],
    }


def clock(ts: str, zone: timezone) -> str:
    moment = datetime.fromtimestamp(float(ts), zone)
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_posted_message_appears_live_with_its_colour(start_lab, context, scheme: str,
                                                       run_folder: Path) -> None:
    lab = start_lab(f"browser-{scheme}")
    assert lab.state is not None
    url = (lab.channel_page_url() if scheme == "http"
           else page_url(lab.state.slack_https_url, lab.config.slack_channel))
    assert url.startswith(f"{scheme}://")
    page = context.new_page()
    page.goto(url)
    expect(page.locator("h1")).to_have_text(f"#{lab.config.slack_channel}")
    expect(page.locator("#status")).to_have_text("live")
    # A reload would drop this variable: its survival proves the message came in live.
    page.evaluate("window.openedOnce = true")

    marker = f"cpu-{uuid.uuid4().hex[:8]}"
    post(lab, alarm_payload(marker))
    stored = lab.wait_for_slack_message(match=lambda m: marker in m["text"])

    article = page.locator(f"#m{stored['id']}")
    expect(article).to_be_visible()
    expect(article).to_contain_text(f"{marker} is in ALARM")
    bar = article.locator(".labkit-slack-bar")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(214, 39, 40)"
    assert page.evaluate("window.openedOnce") is True
    expect(page.locator("#empty")).to_be_hidden()

    # Rendered as Slack renders it: mrkdwn, link, mentions, emoji, the app and its time.
    expect(article.locator("b", has_text="State")).to_be_visible()
    expect(article.locator("i", has_text="ap-northeast-2")).to_be_visible()
    assert article.locator("a", has_text="runbook").get_attribute("href") == \
        "https://example.com/runbook"
    expect(article).to_contain_text("@channel")
    expect(article).to_contain_text("@U024BE7LH")
    expect(article.locator("code", has_text="CPUUtilization")).to_be_visible()
    expect(article).to_contain_text("\U0001F6A8")
    expect(article).to_contain_text("Lab Alerts")
    expect(article.locator(".labkit-slack-time")).to_have_text(clock(stored["ts"], SEOUL))

    shot = run_folder / f"channel-page-{scheme}.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")


def test_the_page_named_by_local_status_shows_earlier_messages(start_lab, context,
                                                                capsys) -> None:
    lab = start_lab("browser-history")
    marker = f"earlier-{uuid.uuid4().hex[:8]}"
    post(lab, {"text": f"*{marker}*"})
    stored = lab.wait_for_slack_message(match=lambda m: marker in m["text"])

    assert cli.main(["local", "status", "--channel", "browser-history"]) == 0
    listed = re.search(r"channel page\W+(http://\S+)", capsys.readouterr().out)
    assert listed and listed.group(1) == lab.channel_page_url()

    page = context.new_page()
    page.goto(listed.group(1))
    expect(page.locator(f"#m{stored['id']}").locator("b", has_text=marker)).to_be_visible()
    expect(page.locator("#status")).to_have_text("live")


def start_cloud_on(home: Path, ports: dict[str, int]) -> st.CloudState:
    """A local cloud for *home* on the given ports (``cloud.up`` picks its own)."""
    command = [sys.executable, "-m", "labkit.local.server", "--home", str(home),
               "--aws-port", str(ports["aws"]), "--slack-port", str(ports["http"]),
               "--slack-tls-port", str(ports["https"]), "--no-rate-limit"]
    with open(home / st.LOG_FILE, "ab") as log:
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + WAIT_MS / 1000
    while (state := cloud.find(home).state) is None:
        assert time.monotonic() < deadline, (home / st.LOG_FILE).read_text()[-2000:]
        time.sleep(0.1)
    assert state.slack_http_port == ports["http"], "another program took the port meanwhile"
    return state


def post_to_channel(state: st.CloudState, channel: str, payload: dict[str, Any]) -> None:
    created = requests.post(state.slack_http_url + "/labkit/slack/webhooks",
                            json={"channel": channel}, timeout=30)
    answer = requests.post(state.slack_http_url + created.json()["path"], json=payload,
                           timeout=30)
    assert (answer.status_code, answer.text) == (200, "ok")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_open_page_follows_a_restarted_local_cloud(context, tmp_path: Path) -> None:
    # A new local cloud numbers messages from 1 again: the page must notice and start over.
    home = tmp_path / "home"
    home.mkdir()
    ports = {"aws": free_port(), "http": free_port(), "https": free_port()}
    try:
        state = start_cloud_on(home, ports)
        post_to_channel(state, "restart", {"text": "before the restart"})
        page = context.new_page()
        page.goto(page_url(state.slack_http_url, "restart"))
        expect(page.locator("#m1")).to_contain_text("before the restart")
        expect(page.locator("#status")).to_have_text("live")
        page.evaluate("window.openedOnce = true")

        cloud.down(home)
        expect(page.locator("#status")).to_have_text("reconnecting\u2026")
        state = start_cloud_on(home, ports)
        post_to_channel(state, "restart", {"text": "after the restart"})

        expect(page.locator("#m1")).to_contain_text("after the restart")
        expect(page.locator("#messages")).not_to_contain_text("before the restart")
        assert page.evaluate("window.openedOnce") is None  # it reloaded itself
    finally:
        cloud.down(home)
