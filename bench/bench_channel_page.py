"""Measure how fast a message posted to the local Slack shows on an open channel page.

Run from the repository root (needs Debian's chromium and Playwright, as the browser tests do):

    .venv/bin/python bench/bench_channel_page.py [--messages 20]

It starts a local cloud of its own (a temporary LABKIT_HOME, rate limit off), opens the channel
page in headless chromium, then posts messages one at a time to the webhook over https, as the
lab's function does. For each it takes the time from just before the POST to the first frame
drawn after the message's element joined the page (the page records that time itself, with a
MutationObserver and requestAnimationFrame), and prints the median, p95 and extremes, with the
POST's own round trip for comparison. The page may show a message before the POST's answer is
back: the local Slack wakes the page's stream as it stores the message, before it answers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.local import cloud  # noqa: E402
from labkit.local.slack.channel_page import page_url  # noqa: E402
from labkit.masking import mask_secrets  # noqa: E402

CHANNEL = "bench"
# Records, per message id, when the first frame after its arrival starts (epoch milliseconds).
OBSERVE = """
window.seen = {};
new MutationObserver(function (records) {
  records.forEach(function (record) {
    record.addedNodes.forEach(function (node) {
      if (node.dataset && node.dataset.id) {
        requestAnimationFrame(function () { window.seen[node.dataset.id] = Date.now(); });
      }
    });
  });
}).observe(document.getElementById("messages"), {childList: true});
"""


def create_webhook(base_url: str) -> str:
    request = urllib.request.Request(
        base_url + "/labkit/slack/webhooks", method="POST",
        data=json.dumps({"channel": CHANNEL}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())["path"]


def newest_id(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/api/messages?channel={CHANNEL}",  # noqa: S310
                                timeout=10) as answer:
        messages = json.loads(answer.read())["messages"]
    return messages[-1]["id"]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Needs chromium: apt-get install -y --no-install-recommends chromium")
    home = Path(tempfile.mkdtemp(prefix="labkit-bench-page-"))
    try:
        state, _, _ = cloud.up(home, rate_limit=False)
        webhook = state.slack_https_url + create_webhook(state.slack_http_url)
        session = requests.Session()
        visible_ms: list[float] = []
        post_ms: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium,
                                                 args=["--disable-dev-shm-usage"])
            page = browser.new_page()
            page.goto(page_url(state.slack_http_url, CHANNEL))
            page.wait_for_selector("#status.live")
            page.evaluate(OBSERVE)
            for number in range(args.messages):
                payload = {"text": f"bench message {number}",
                           "attachments": [{"color": "danger", "text": "*CPU* high"}]}
                started = time.time()
                # verify per call: a REQUESTS_CA_BUNDLE variable would override session.verify
                answer = session.post(webhook, json=payload, verify=state.ca_bundle, timeout=30)
                post_ms.append((time.time() - started) * 1000)
                answer.raise_for_status()
                message_id = str(newest_id(state.slack_http_url))
                page.wait_for_function("id => window.seen[id] !== undefined", arg=message_id,
                                       timeout=60_000)
                seen = page.evaluate("id => window.seen[id]", message_id)
                visible_ms.append(seen - started * 1000)
            browser.close()
    finally:
        cloud.down(home)
        shutil.rmtree(home, ignore_errors=True)

    print(f"channel page, {len(visible_ms)} messages posted one at a time over https")
    for label, samples in (("POST to visible on the page", visible_ms),
                           ("POST round trip alone", post_ms)):
        print(f"  {label:<28} median {statistics.median(samples):6.1f} ms   "
              f"p95 {percentile(samples, 0.95):6.1f} ms   "
              f"min {min(samples):6.1f} ms   max {max(samples):6.1f} ms")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # noqa: BLE001 - an HTTP error quotes the webhook URL: mask it
        sys.exit(f"bench failed: {mask_secrets(f'{type(exc).__name__}: {exc}')}")
