"""Runs one command on the local bastion and takes it down with the kernel that started it.

``python -I guard.py <kernel pid> -- stress --cpu 2 --timeout 60``

The command is an ordinary process (``stress`` forks its workers as it would on an instance),
so nothing inside it can notice that its parent is gone. This small process sits between the
two and stops the command's whole process tree when:

* its stdin reaches EOF - the kernel closed the pipe, died, or was killed with SIGKILL;
* it is re-parented - the kernel is gone even if someone else still holds the pipe;
* it receives SIGTERM / SIGINT (or, on Windows, CTRL_BREAK).

It exits with the command's exit code when the command ends by itself. Standard library and
psutil only: it is started with ``-I``, so nothing of the kernel's environment leaks in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import psutil

# How often the guard looks at its parent and the command.
_POLL = 0.2
# How long the command's processes get to exit after SIGTERM before they are killed.
_GRACE = 2.0


def stop_tree(pid: int, grace: float = _GRACE) -> None:
    """Terminate process *pid* and all its descendants; kill what is left after *grace* s."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)


def main(argv: list[str]) -> int:
    """``guard.py <parent pid> -- <command...>``: run the command until it or the parent ends."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: guard.py <parent pid> -- <command> [args...]", file=sys.stderr)
        return 2
    parent, command = int(argv[0]), argv[2:]
    try:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    except OSError as exc:
        print(f"could not start {command[0]}: {exc}", file=sys.stderr)
        return 127
    done = threading.Event()

    def watch_stdin() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        done.set()

    def on_signal(*_: object) -> None:
        done.set()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    threading.Thread(target=watch_stdin, daemon=True).start()
    while not done.wait(_POLL):
        if child.poll() is not None:
            return child.returncode
        if os.getppid() != parent:
            break
    stop_tree(child.pid)
    child.wait()
    return 143


if __name__ == "__main__":
    # os._exit: end now, without waiting on the stdin watcher thread.
    os._exit(main(sys.argv[1:]))
