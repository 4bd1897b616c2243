"""Starting and stopping the local cloud's process alike on Linux, macOS and Windows.

POSIX and Windows differ in how a background process is detached from the terminal that
started it, in which signals exist, and in how a process is stopped. The differences are kept
here, so that the rest of the local cloud does not branch on the platform:

* :func:`detached`: the ``subprocess.Popen`` arguments that give the local cloud a process
  group of its own (``start_new_session`` on POSIX, ``CREATE_NEW_PROCESS_GROUP`` on Windows),
  so a Ctrl-C in the learner's terminal or the end of a notebook kernel does not reach it;
* :func:`stop_signals`: the signals that ask the server to stop, as far as this platform has
  them (``SIGHUP`` is POSIX only, ``SIGBREAK`` Windows only);
* :func:`stop_tree`: psutil, which works the same everywhere, instead of process-group calls
  that exist on POSIX only (a running local cloud is recognised with psutil too, in
  ``state.process_is_local_cloud``, rather than by sending it signal 0);
* :func:`wait_ended`: a process that has exited counts as ended even while it waits, as a
  zombie, for a parent that is not this process to collect it (POSIX).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import psutil


def detached() -> dict[str, Any]:
    """``Popen`` keyword arguments that start a process in a group of its own."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def stop_signals() -> list[signal.Signals]:
    """The signals on which the local cloud stops cleanly, those this platform has."""
    names = ("SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK")
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def stop_tree(pid: int, timeout: float = 10.0) -> bool:
    """Stop process *pid* and every process it started; True if *pid* was running.

    The process is asked first (on POSIX SIGTERM, which the local cloud handles by stopping
    its servers and its function workers); whatever is still running after *timeout* seconds,
    the process or any of its children, is killed.
    """
    try:
        parent = psutil.Process(pid)
        # Listed before the parent stops: afterwards they are no longer its children.
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    _signal_all([parent], "terminate")
    alive = wait_ended([parent], timeout)
    _signal_all(alive, "kill")
    # A clean stop has ended the children too; a killed parent may have left some behind.
    alive = wait_ended(children, min(timeout, 2.0))
    _signal_all(alive, "kill")
    wait_ended(alive, min(timeout, 2.0))
    return True


def wait_ended(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited, at most *timeout* seconds; returns those still
    running.

    A process that has exited but not yet been collected by its parent (a zombie) has ended:
    psutil would wait for it to disappear, which only its parent decides - the local cloud's
    parent is the process that started it, long gone, and an init that collects late.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        alive = [p for p in processes if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _running(process: psutil.Process) -> bool:
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            process.wait(0)  # collected here if it is this process's own child
            return False
        return process.is_running()
    except psutil.TimeoutExpired:
        return False  # a zombie whose parent is another process
    except psutil.NoSuchProcess:
        return False


def _signal_all(processes: list[psutil.Process], how: str) -> None:
    for process in processes:
        try:
            getattr(process, how)()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
