"""The local cloud's start-up path works alike on Linux, macOS and Windows.

No fcntl, no unconditional SIGHUP, no POSIX-only process calls: the lock is ``filelock``'s,
signals are the ones the platform has, processes are handled with psutil, and a detached
process gets a group of its own with the option each platform has for it. The tests run on
Linux, so the Windows branches are reached by pretending to be Windows where the code asks.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import psutil
import pytest
from filelock import FileLock, Timeout
from nbformat.v4 import new_notebook

from labkit.batch import run as runner
from labkit.errors import LabError
from labkit.local import cloud, processes
from labkit.local import state as st

PACKAGE = Path(__file__).resolve().parents[2] / "labkit"
# What the local cloud's start-up runs: the CLI and the batch run, the lab facade and the cloud itself.
STARTUP_MODULES = sorted([PACKAGE / "cli.py", *(PACKAGE / "batch").glob("*.py"), PACKAGE / "lab.py",
                          *(PACKAGE / "local").rglob("*.py")])
POSIX_ONLY = {
    "fcntl": re.compile(r"^\s*(import fcntl|from fcntl import)", re.M),
    "SIGHUP used unguarded": re.compile(r"signal\.SIGHUP"),
    "start_new_session outside processes.py": re.compile(r"start_new_session"),
    "os.kill": re.compile(r"\bos\.kill\("),
    "process groups": re.compile(r"\bos\.(killpg|setsid|setpgrp|getpgid)\("),
}


@pytest.mark.parametrize("path", STARTUP_MODULES, ids=lambda p: p.name)
def test_the_start_up_path_uses_nothing_posix_only(path):
    text = path.read_text(encoding="utf-8")
    found = [what for what, pattern in POSIX_ONLY.items() if pattern.search(text)
             and not (path.name == "processes.py" and what.startswith("start_new_session"))]
    assert found == []


# ---------------------------------------------------------------------------------------------
# Detaching, signals, stopping


def test_posix_detaches_with_a_new_session(monkeypatch):
    monkeypatch.setattr(processes.sys, "platform", "linux")
    assert processes.detached() == {"start_new_session": True}


def test_windows_detaches_with_a_new_process_group(monkeypatch):
    monkeypatch.setattr(processes.sys, "platform", "win32")
    monkeypatch.setattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200, raising=False)
    assert processes.detached() == {"creationflags": 0x200}


def test_up_starts_the_server_detached_as_the_platform_does_it(monkeypatch, tmp_path):
    seen: dict = {}

    class ExitsAtOnce:
        pid = 999_999

        def __init__(self, command, **kwargs):
            seen.update(kwargs)

        def poll(self):
            return 1

    monkeypatch.setattr(cloud.subprocess, "Popen", ExitsAtOnce)
    monkeypatch.setattr(processes.sys, "platform", "win32")
    monkeypatch.setattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200, raising=False)
    with pytest.raises(LabError):
        cloud.up(tmp_path)
    assert seen["creationflags"] == 0x200 and "start_new_session" not in seen


def test_stop_signals_are_the_ones_the_platform_has(monkeypatch):
    assert {signal.SIGTERM, signal.SIGINT} <= set(processes.stop_signals())
    monkeypatch.delattr(signal, "SIGHUP", raising=False)
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)  # Windows has it
    assert processes.stop_signals() == [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1]


PARENT = textwrap.dedent('''
    import signal, subprocess, sys, time
    if sys.argv[1] == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(child.pid, flush=True)
    time.sleep(600)
''')


@pytest.mark.parametrize("kind", ["polite", "stubborn"])
def test_stop_tree_stops_a_process_and_the_processes_it_started(kind):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, kind], stdout=subprocess.PIPE,
                              text=True)
    child_pid = int(parent.stdout.readline())
    child = psutil.Process(child_pid)

    assert processes.stop_tree(parent.pid, timeout=1.0)
    parent.wait()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert not processes.stop_tree(parent.pid)  # already gone


# ---------------------------------------------------------------------------------------------
# The locks


def test_a_second_server_for_the_same_folder_gives_up_with_code_3(tmp_path):
    with FileLock(tmp_path / st.LOCK_FILE):  # as a running server holds it
        second = subprocess.run([sys.executable, "-m", "labkit.local.server", "--home",
                                 str(tmp_path)], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL)
    assert second.returncode == 3
    assert "Another local cloud already uses" in second.stderr
    assert st.read_state(tmp_path) is None  # it started nothing


def notebook(path: Path, uses_cpu: bool) -> Path:
    nb = new_notebook()
    if uses_cpu:
        nb.metadata["labkit"] = {"uses_machine_cpu": True}
    nbformat.write(nb, path)
    return path


def test_notebooks_that_load_the_cpu_take_the_machine_wide_lock_in_turn(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    lock_file = tmp_path / "home" / "machine-cpu.lock"
    loading = notebook(tmp_path / "06_load.ipynb", uses_cpu=True)
    quiet = notebook(tmp_path / "02_quiet.ipynb", uses_cpu=False)

    with runner.machine_cpu(loading):
        with pytest.raises(Timeout):  # anyone else, in any process, waits for it
            FileLock(lock_file).acquire(timeout=0)
    with FileLock(lock_file).acquire(timeout=0):
        pass  # free again afterwards
    with runner.machine_cpu(quiet):
        with FileLock(lock_file).acquire(timeout=0):
            pass  # a notebook that does not load the CPU never holds it
    with runner.machine_cpu(loading, {"bastion_cpu": "scripted"}):
        with FileLock(lock_file).acquire(timeout=0):
            pass  # a scripted bastion burns nothing: nobody waits for it


def test_filelock_is_a_declared_dependency():
    # Installed here by hand or not, a fresh installation must bring it.
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    assert re.search(r'"filelock>=[\d.]+"', pyproject)


def test_wait_ended_counts_an_exited_child_as_ended_and_collects_it():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    process = psutil.Process(child.pid)
    assert processes.wait_ended([process], timeout=30) == []
    # Collected here, as its parent: no zombie is left behind.
    with pytest.raises(psutil.NoSuchProcess):
        process.status()


def test_wait_ended_returns_what_still_runs_when_the_time_is_up():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        process = psutil.Process(child.pid)
        assert processes.wait_ended([process], timeout=0.2) == [process]
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no zombie processes")
def test_wait_ended_does_not_wait_for_another_parent_to_collect_a_zombie():
    # A parent that never collects its exited child, as a late init does with a local cloud.
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        print(child.pid, flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        zombie = psutil.Process(int(parent.stdout.readline()))
        assert processes.wait_ended([zombie], timeout=60) == []
        assert zombie.status() == psutil.STATUS_ZOMBIE  # still there: only its parent collects
    finally:
        parent.kill()
        parent.wait()
