"""Notebook 01 stepped through in JupyterLab, in a real browser, as a learner does it.

JupyterLab starts on a free localhost port over a copy of the notebook (the repository's
notebooks are never touched), with this environment's Python as the kernel, as
``python3 tasks.py jupyter`` runs it. The test presses Shift+Enter cell by cell, then checks
what the learner sees: the Slack previews and the check cell's ✅ lines. A screenshot of the run
is kept under ``runs/browser-<time>/``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest

from labkit.events import first_message
from labkit.masking import mask_secrets

from .conftest import ROOT, WAIT_MS, expect

pytestmark = pytest.mark.browser

NOTEBOOK = "01_slack_webhook.ipynb"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


@dataclass(frozen=True)
class JupyterLab:
    url: str
    token: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jupyter_env(home: Path) -> dict[str, str]:
    """The environment ``tasks.py jupyter`` gives JupyterLab, with the user's settings kept out.

    The kernel inherits it: it finds the test session's local cloud through LABKIT_HOME.
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    # This environment's "python3" kernel, not one from the user's folders.
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env.pop("PYTHONHOME", None)
    # A learner's JupyterLab has a front end: widgets, not the printed progress of batch runs.
    env.pop("LABKIT_BATCH", None)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    # Answer JupyterLab's "get notified about news?" question in advance, as a learner would
    # once: the pop-up would otherwise cover part of the screenshot.
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "settings")
    return env


def wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not answer on {url}:\n{tail(log)}")
        time.sleep(0.2)


def tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return mask_secrets("\n".join(text.splitlines()[-lines:]))


def stop(process: subprocess.Popen) -> None:
    """Stop JupyterLab and the kernels it started (they run in sessions of their own)."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[JupyterLab]:
    """JupyterLab on a free localhost port, over a folder holding a copy of notebook 01."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, folder / NOTEBOOK)
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
        # Nothing from the internet: no update check, no news feed.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
        # Containers and CI machines often run as root, which JupyterLab refuses unless told.
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=folder, env=jupyter_env(tmp_path / "jupyter"),
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, f"{url}/api/status?token={token}", log)
        yield JupyterLab(url, token, log)
    finally:
        stop(process)


def code_cell_count(path: Path) -> tuple[int, int]:
    """(all cells, code cells) of a notebook."""
    cells = nbformat.read(path, as_version=4).cells
    return len(cells), sum(cell.cell_type == "code" for cell in cells)


def errors_shown(page: Any) -> list[str]:
    texts = page.locator(STDERR).all_inner_texts()
    return [mask_secrets(t) for t in texts if "Error" in t or "Traceback" in t]


def test_a_learner_steps_through_notebook_01(jupyterlab: JupyterLab, browser: Any,
                                             run_folder: Path) -> None:
    cells, code_cells = code_cell_count(ROOT / "notebooks" / NOTEBOOK)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    shot = run_folder / "jupyterlab-01.png"
    try:
        page.goto(f"{jupyterlab.url}/lab/tree/{NOTEBOOK}?token={jupyterlab.token}")
        notebook = page.locator(".jp-NotebookPanel-notebook")
        expect(notebook.locator(".jp-Cell").first).to_be_visible()
        # The status bar says Idle only once the kernel is connected (the toolbar's indicator
        # says idle from the start), as a learner waits for it before running anything.
        expect(page.locator("#jp-main-statusbar")).to_contain_text(
            re.compile(r"Python 3 \(ipykernel\) \| Idle"))

        # Select the first cell, in command mode, as a click in its margin does.
        notebook.locator(".jp-Cell").first.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        ran = 0
        for index in range(cells):
            page.keyboard.press("Shift+Enter")
            cell = notebook.locator(".jp-Cell").nth(index)
            if "jp-CodeCell" not in (cell.get_attribute("class") or ""):
                continue
            ran += 1
            # A fresh kernel numbers executions 1, 2, ...: the prompt says when this one ended.
            prompt = cell.locator(".jp-InputPrompt")
            expect(prompt).to_have_text(f"[{ran}]:")
            shown = errors_shown(cell)
            assert not shown, f"cell {index + 1} failed:\n" + "\n".join(shown)
        assert ran == code_cells

        # The Slack previews: the test message, and the alarm-like one with its red bar.
        previews = notebook.locator(".jp-OutputArea-output .labkit-slack-preview")
        expect(previews.filter(has_text=first_message())).to_have_count(1)
        bar = previews.locator(".labkit-slack-bar").first
        expect(bar).to_be_visible()
        assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(214, 39, 40)"

        # The check cell, as the learner reads it.
        check = notebook.locator(".jp-OutputArea-output", has_text="checks passed").last
        check.scroll_into_view_if_needed()
        expect(check).to_be_visible()
        text = check.inner_text()
        passed = re.search(r"Step 01: (\d+)/(\d+) checks passed", text)
        assert passed and passed.group(1) == passed.group(2), text
        assert text.count("✅") == int(passed.group(2)) > 0, text
        assert "❌" not in text, text
    finally:
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        context.close()
