"""Browser tests: Debian's chromium, driven by Playwright.

Playwright's own browser download does not work everywhere (it fetches a build from the
internet), so the tests launch the system's chromium by path. `.ci/run` installs it when it is
missing; `python3 tasks.py test` installs Playwright with the test tools.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture fails with how to install it
    expect = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
# Generous: the machine may be busy, and the first cell of a notebook may start the local cloud.
WAIT_MS = 120_000


def chromium_path() -> str:
    """The system chromium, or a failure that says how to install it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("The browser tests need Debian's chromium on PATH. Install it with: "
                    "sudo apt-get update && sudo apt-get install -y --no-install-recommends "
                    "chromium  (.ci/run does this by itself)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium for one test module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The browser tests need Playwright: run `python3 tasks.py setup` (it "
                    "installs the test tools), or `.venv/bin/python -m pip install playwright`.",
                    pytrace=False)
    executable = chromium_path()
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        # Small /dev/shm in containers makes chromium crash on big pages; use /tmp instead.
        launched = playwright.chromium.launch(executable_path=executable,
                                              args=["--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def run_folder() -> Path:
    """``runs/browser-<time>/``: screenshots of this session's browser tests (git-ignored)."""
    folder = ROOT / "runs" / time.strftime("browser-%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
