"""Start, find and stop the local cloud from any process (CLI, notebook kernel, test).

The server writes its state file only once it listens, so "the state file names a live local
cloud that answers" is the one test of readiness used everywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from ..errors import LabError
from . import state as st
from .processes import detached, stop_tree, wait_ended

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Found:
    """The outcome of looking for a local cloud: its state, and a note for the learner."""

    state: st.CloudState | None
    note: str = ""


def _get_json(url: str, timeout: float = 2.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def find(home: Path | None = None) -> Found:
    """The running local cloud of *home*, cleaning up a stale state file on the way."""
    home = home or st.labkit_home()
    state = st.read_state(home)
    if state is None:
        return Found(None)
    if not st.process_is_local_cloud(state.pid):
        st.remove_state(home)
        return Found(None, f"Removed a stale state file: the local cloud (pid {state.pid}) "
                           "is no longer running.")
    return Found(state)


def fetch_status(state: st.CloudState) -> dict:
    """The live status the server reports about itself (uptime, what it holds, webhooks)."""
    try:
        return _get_json(state.endpoint_url + "/labkit/status")
    except (OSError, ValueError) as exc:
        raise LabError(
            f"The local cloud (pid {state.pid}) does not answer on {state.endpoint_url}.",
            "Restart it with `labkit local down` then `labkit local up`.",
        ) from exc


def up(home: Path | None = None, *, rate_limit: bool = True,
       timeout: float = START_TIMEOUT) -> tuple[st.CloudState, bool, str]:
    """Make sure a local cloud runs for *home*.

    Returns ``(state, started, note)``: *started* tells whether this call started it, *note* is
    anything worth telling the learner (for example a stale state file that was cleaned up).
    """
    home = home or st.labkit_home()
    found = find(home)
    if found.state is not None:
        return found.state, False, found.note
    home.mkdir(parents=True, exist_ok=True)

    log_path = home / st.LOG_FILE
    command = [sys.executable, "-m", "labkit.local.server", "--home", str(home)]
    if not rate_limit:
        command.append("--no-rate-limit")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # A process group of its own: the cloud outlives the kernel or shell that started
            # it, and a Ctrl-C in a terminal does not reach it.
            cwd=home, **detached(),
        )

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = st.read_state(home)
        if state is not None and state.pid == process.pid:
            return state, True, found.note
        code = process.poll()
        if code == 3:
            # Another process is starting one for this folder at the same moment (it holds the
            # lock): wait for it to be ready, then use it.
            raced = find(home)
            if raced.state is not None:
                return raced.state, False, found.note
            time.sleep(0.05)
            continue
        if code is not None:
            raise LabError(
                f"The local cloud stopped while starting (exit code {code}). "
                f"Last lines of its log:\n{_tail(log_path)}",
                f"Read the whole log in {log_path}, fix what it says, then run `labkit local up`.",
            )
        time.sleep(0.05)
    stop_tree(process.pid)
    raise LabError(f"The local cloud did not become ready within {timeout:.0f} s.",
                   f"Look at {log_path}, then run `labkit local up` again.")


def down(home: Path | None = None, timeout: float = 10.0) -> str:
    """Stop the local cloud of *home*; returns a one-line account of what happened."""
    home = home or st.labkit_home()
    found = find(home)
    state = found.state
    if state is None:
        return found.note or "No local cloud is running."
    _ask_to_stop(state)
    # Whatever is still running after the request (or instead of it) is stopped, with the
    # function workers it started.
    stop_tree(state.pid, timeout)
    st.remove_state(home)
    return f"Stopped the local cloud (pid {state.pid}); everything it held is gone."


def _ask_to_stop(state: st.CloudState, wait: float = 5.0) -> None:
    """Ask the server to stop itself over its control route, and wait a moment for it to end.

    The same clean stop everywhere: on Windows terminating a process runs none of its code, so
    without this the server could not stop its function workers and servers itself.
    """
    request = urllib.request.Request(state.endpoint_url + "/labkit/shutdown", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2.0):  # noqa: S310 (loopback)
            pass
    except OSError:
        return  # not answering: stop_tree stops it
    try:
        wait_ended([psutil.Process(state.pid)], wait)
    except psutil.NoSuchProcess:
        pass


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
