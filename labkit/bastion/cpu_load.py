"""CPU load in Python: the stand-in for ``stress --cpu 2 --timeout 300``.

Where neither ``stress`` nor ``stress-ng`` is installed, the local bastion runs this file as its
``stress`` (``cpu_load.py --cpu 2 --timeout 300``); :class:`CpuLoad` is N worker processes that each
keep one core busy until a timeout.

A forgotten load would keep a learner's laptop hot for minutes, so it is stopped from both sides:

* the parent stops its workers on :meth:`CpuLoad.stop`, when a ``with`` block ends (normally, by
  an exception or by KeyboardInterrupt), when the object is garbage collected (a re-run cell
  replaces it) and at interpreter exit (``weakref.finalize`` runs at exit too);
* each worker stops by itself at its timeout, and as soon as its parent is gone (the pipe on its
  stdin reaches EOF, or it is re-parented), which covers a kernel killed by SIGKILL or an OOM.

Workers are plain ``subprocess`` children running this file with ``sys.executable``: nothing is
pickled and nothing depends on the kernel's ``__main__``, which is what trips multiprocessing up
inside Jupyter.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
import weakref
from typing import Callable

# Each worker checks its deadline and its parent this often while burning CPU.
_CHECK_EVERY = 0.05
# How long stop() waits for a worker to exit after SIGTERM before it kills it.
_TERM_GRACE = 2.0

_live: "weakref.WeakSet[CpuLoad]" = weakref.WeakSet()


def stress_command(workers: int = 2, timeout: float = 300) -> str:
    """The ``stress`` command line that does what ``CpuLoad(workers, timeout)`` does.

    >>> stress_command(2, 300)
    'stress --cpu 2 --timeout 300'
    """
    workers, timeout = _checked(workers, timeout)
    # stress takes whole seconds; round up so the load lasts at least as long as asked.
    return f"stress --cpu {workers} --timeout {math.ceil(timeout)}"


def _checked(workers: int, timeout: float) -> tuple[int, float]:
    """*workers* and *timeout* if they make sense, else ValueError in plain words."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, not {workers!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return workers, float(timeout)


def _remaining(started: float | None, timeout: float, now: float) -> float:
    """Seconds left of a load started at *started* (monotonic clock); 0 if none or over."""
    if started is None:
        return 0.0
    return max(0.0, started + timeout - now)


class CpuLoad:
    """N processes keeping N cores busy for at most *timeout* seconds.

    >>> with CpuLoad(workers=2, timeout=300) as load:   # doctest: +SKIP
    ...     wait_for_the_alarm()
    """

    def __init__(self, workers: int = 2, timeout: float = 300) -> None:
        self.workers, self.timeout = _checked(workers, timeout)
        self._procs: list[subprocess.Popen] = []
        self._started: float | None = None
        self._finalizer: weakref.finalize | None = None

    # -- control -----------------------------------------------------------------------------
    def start(self) -> "CpuLoad":
        """Start the workers (a no-op while they run). Returns the load, for chaining."""
        if self.running:
            return self
        self.stop()  # reap workers of an earlier run that ended by themselves
        self._started = time.monotonic()
        try:
            for _ in range(self.workers):
                self._procs.append(_spawn_worker(self.timeout))
        except BaseException:
            self.stop()
            raise
        # Holds the process list, not self: it runs when the object is collected or at exit.
        self._finalizer = weakref.finalize(self, stop_processes, self._procs)
        _live.add(self)
        return self

    def stop(self) -> None:
        """Stop every worker and wait for them to exit. Safe to call any number of times."""
        if self._finalizer is not None:
            self._finalizer()  # runs stop_processes once, then detaches
            self._finalizer = None
        stop_processes(self._procs)
        self._procs = []
        self._started = None
        _live.discard(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the workers end by themselves (or *timeout* s); True if they have ended.

        An interrupt (the stop button) or any other exception while waiting stops the load.
        """
        return wait_while(lambda: self.running, self.stop, timeout)

    # -- state -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while at least one worker is alive."""
        return any(proc.poll() is None for proc in self._procs)

    @property
    def remaining(self) -> float:
        """Seconds until the workers stop by themselves; 0 when not running."""
        if not self.running:
            return 0.0
        return _remaining(self._started, self.timeout, time.monotonic())

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (to watch them, e.g. with psutil)."""
        return [proc.pid for proc in self._procs if proc.poll() is None]

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self) -> "CpuLoad":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()  # also on an exception or KeyboardInterrupt, which then propagates

    def __repr__(self) -> str:
        if self.running:
            return (f"<CpuLoad {self.workers} worker(s) running, "
                    f"{self.remaining:.0f} s left: {stress_command(self.workers, self.timeout)}>")
        return f"<CpuLoad {self.workers} worker(s), stopped>"


def wait_while(running: Callable[[], bool], stop: Callable[[], None],
               timeout: float | None = None) -> bool:
    """Block while *running()* (at most *timeout* s); True once it is not running any more.

    An interrupt (the stop button) or any other exception while waiting calls *stop* first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while running():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True
    except BaseException:
        stop()
        raise


def stop_all() -> int:
    """Stop every load started in this process (e.g. one a re-run cell lost track of).

    Returns how many were running.
    """
    loads = [load for load in list(_live) if load.running]
    for load in list(_live):
        load.stop()
    return len(loads)


def _spawn_worker(timeout: float) -> subprocess.Popen:
    """Start one worker process: this file run as a script (standard library only)."""
    return subprocess.Popen(
        # -I: ignore PYTHON* variables and user site-packages; the worker needs neither.
        [sys.executable, "-I", os.path.abspath(__file__), "--worker",
         str(os.getpid()), repr(timeout)],
        stdin=subprocess.PIPE,  # its EOF tells the worker that its parent is gone
        stdout=subprocess.DEVNULL,
        close_fds=True,
    )


def stop_processes(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each live process, wait a little, SIGKILL what is left; close the pipes."""
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.terminate()
            except OSError:
                pass  # already gone
    for proc in procs:
        try:
            proc.wait(_TERM_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass


# -- the worker side -------------------------------------------------------------------------
def _exit_on_eof() -> None:
    """Block until stdin closes (the parent died or let go), then end the worker at once."""
    try:
        # The raw descriptor, not sys.stdin: a buffered reader's lock held by this daemon
        # thread would make a normal interpreter shutdown abort.
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os._exit(0)


def _burn(parent_pid: int, timeout: float) -> None:
    """Keep one core busy until *timeout* s have passed or the parent is gone."""
    deadline = time.monotonic() + timeout
    threading.Thread(target=_exit_on_eof, daemon=True).start()
    while time.monotonic() < deadline:
        # A re-parented worker has lost its parent even if someone else holds the pipe open.
        if os.getppid() != parent_pid:
            return
        until = time.monotonic() + _CHECK_EVERY
        while time.monotonic() < until:
            pass


def _worker_main(argv: list[str]) -> int:
    """Entry point of a worker: ``cpu_load.py --worker <parent pid> <timeout>``."""
    try:
        _burn(int(argv[0]), float(argv[1]))
    except KeyboardInterrupt:
        pass  # Ctrl-C / the stop button reaches the whole process group: end quietly
    return 0


def stress_main(argv: list[str]) -> int:
    """``cpu_load.py --cpu N --timeout T``: what ``stress --cpu N --timeout T`` does, in Python.

    The stand-in the local bastion runs where neither ``stress`` nor ``stress-ng`` is installed:
    N worker processes each keep one CPU busy until the timeout.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="cpu_load.py", description=stress_main.__doc__)
    parser.add_argument("-c", "--cpu", type=int, required=True, help="workers spinning on CPU")
    parser.add_argument("-t", "--timeout", type=float, required=True, help="seconds to run")
    args = parser.parse_args(argv)
    load = CpuLoad(args.cpu, args.timeout)
    try:
        load.start().wait()
    except KeyboardInterrupt:
        load.stop()
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    # os._exit: end now, without waiting on (or tearing down) the stdin watcher thread.
    os._exit(_worker_main(sys.argv[2:]))
elif __name__ == "__main__":
    sys.exit(stress_main(sys.argv[1:]))
