"""The CPU load generator: its pure parts, and that its workers burn CPU and always stop.

Kept light for a 2-core machine: one worker, short timeouts, CPU time measured (not wall time).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from labkit.bastion import cpu_load as load
from labkit.bastion.cpu_load import CpuLoad, stress_command

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int, within: float = 10.0) -> bool:
    """True once *pid* has exited (a zombie nobody reaps counts as exited)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    load.stop_all()


# -- pure parts ------------------------------------------------------------------------------
@pytest.mark.parametrize("workers, timeout, expected", [
    (2, 300, "stress --cpu 2 --timeout 300"),   # the source lab's command
    (1, 60, "stress --cpu 1 --timeout 60"),
    (4, 2.5, "stress --cpu 4 --timeout 3"),      # whole seconds, rounded up
    (2, 300.0, "stress --cpu 2 --timeout 300"),
])
def test_stress_command(workers, timeout, expected):
    assert stress_command(workers, timeout) == expected


def test_stress_command_defaults_are_the_source_labs():
    assert stress_command() == "stress --cpu 2 --timeout 300"


@pytest.mark.parametrize("workers, timeout", [
    (0, 10), (-1, 10), (1.5, 10), (True, 10), ("2", 10),
    (1, 0), (1, -5), (1, float("inf")), (1, float("nan")), (1, "300"),
])
def test_nonsense_parameters_are_refused(workers, timeout):
    with pytest.raises(ValueError):
        CpuLoad(workers, timeout)
    with pytest.raises(ValueError):
        stress_command(workers, timeout)


@pytest.mark.parametrize("started, timeout, now, expected", [
    (None, 300, 1000.0, 0.0),
    (100.0, 300, 100.0, 300.0),
    (100.0, 300, 250.0, 150.0),
    (100.0, 300, 400.0, 0.0),
    (100.0, 300, 900.0, 0.0),
])
def test_remaining(started, timeout, now, expected):
    assert load._remaining(started, timeout, now) == expected


def test_a_new_load_is_not_running():
    fresh = CpuLoad(1, 5)
    assert not fresh.running and fresh.remaining == 0 and fresh.pids == []
    assert "stopped" in repr(fresh)
    fresh.stop()  # stopping what never started is fine


# -- processes -------------------------------------------------------------------------------
def test_a_worker_really_burns_cpu_and_stop_ends_it():
    busy = CpuLoad(workers=1, timeout=30).start()
    try:
        (pid,) = busy.pids
        assert busy.running and 0 < busy.remaining <= 30
        worker = psutil.Process(pid)
        deadline = time.monotonic() + 15
        while sum(worker.cpu_times()[:2]) < 0.5:  # half a CPU-second of user+system time
            assert time.monotonic() < deadline, "the worker used almost no CPU"
            time.sleep(0.1)
    finally:
        busy.stop()
    assert not busy.running and busy.remaining == 0
    assert gone(pid, within=1)
    busy.stop()  # a second stop is safe


def test_workers_stop_by_themselves_at_the_timeout():
    short = CpuLoad(workers=1, timeout=0.5).start()
    assert short.wait(timeout=15)
    assert not short.running
    assert [proc.returncode for proc in short._procs] == [0]  # exited, not killed


def test_a_with_block_stops_the_workers_on_an_exception():
    with pytest.raises(RuntimeError):
        with CpuLoad(workers=1, timeout=30) as busy:
            (pid,) = busy.pids
            raise RuntimeError("a failing cell")
    assert not busy.running and gone(pid, within=1)


def test_a_with_block_stops_the_workers_on_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        with CpuLoad(workers=1, timeout=30) as busy:
            (pid,) = busy.pids
            raise KeyboardInterrupt
    assert gone(pid, within=1)


def test_an_interrupted_wait_stops_the_workers():
    busy = CpuLoad(workers=1, timeout=30).start()
    (pid,) = busy.pids
    # What the stop button does to a kernel: SIGINT, KeyboardInterrupt in the main thread. A
    # kernel raises it while a cell runs; a test process may have been told to ignore SIGINT.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            busy.wait(timeout=20)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert not busy.running and gone(pid, within=1)


def test_a_forgotten_load_is_stopped_when_collected():
    busy = CpuLoad(workers=1, timeout=30).start()
    (pid,) = busy.pids
    del busy  # e.g. a re-run cell rebinds the variable
    gc.collect()
    assert gone(pid, within=5)


def test_start_while_running_adds_no_workers_and_a_load_can_run_again():
    busy = CpuLoad(workers=1, timeout=30).start()
    first = busy.pids
    assert busy.start().pids == first
    busy.stop()
    again = busy.start().pids
    assert len(again) == 1 and again != first
    assert load.stop_all() == 1
    assert not busy.running


def test_a_worker_whose_parent_is_gone_ends_at_once():
    # The worker is told a parent that is not its parent: the same check that catches a
    # re-parented worker after its kernel died.
    worker = subprocess.Popen([sys.executable, "-I", load.__file__, "--worker", "0", "30"],
                              stdin=subprocess.PIPE)
    try:
        assert worker.wait(timeout=10) == 0
    finally:
        worker.kill()
        worker.stdin.close()


PARENT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from labkit.bastion.cpu_load import CpuLoad
    busy = CpuLoad(workers=1, timeout=60).start()
    print(busy.pids[0], flush=True)
    {after}
""")


@pytest.mark.parametrize("how, after", [
    ("SIGKILL", "time.sleep(60)"),          # a dead kernel: no cleanup code runs at all
    ("exit", "pass"),                      # the interpreter ends without stop()
    ("exception", "raise SystemExit(3)"),
])
def test_workers_never_outlive_their_parent(how, after):
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(after=after), str(ROOT)],
                              stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        if how == "SIGKILL":
            assert psutil.Process(pid).is_running()
            os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert gone(pid, within=10), f"the worker outlived its parent ({how})"
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
