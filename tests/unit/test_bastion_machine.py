"""The local bastion: its CPU figure is its own processes' CPU time over its vCPUs, never the host's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import psutil
import pytest

from labkit.bastion import machine
from labkit.bastion.machine import (CpuMeter, LocalBastion, StressArgs, cpu_utilization,
                                    parse_stress, process_seconds, tree_seconds)
from labkit.errors import LabError
from labkit.i18n import set_language


def times(user: float, system: float = 0.0, children_user: float = 0.0,
          children_system: float = 0.0) -> SimpleNamespace:
    """What psutil's cpu_times() returns for one process."""
    return SimpleNamespace(user=user, system=system, children_user=children_user,
                           children_system=children_system)


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    machine.stop_all()


# -- the figure, from injected CPU times -------------------------------------------------------
@pytest.mark.parametrize("seconds, interval, vcpus, expected", [
    (20.0, 10.0, 2, 100.0),    # two busy processes on 2 vCPUs
    (10.0, 10.0, 2, 50.0),     # one of them
    (40.0, 10.0, 2, 100.0),    # four workers on 2 vCPUs: capped, as for an instance
    (0.2, 10.0, 2, 1.0),       # idle
    (20.0, 10.0, 8, 25.0),     # stress --cpu 2 on an 8-vCPU instance
    (0.0, 0.0, 2, 0.0),        # no time passed
])
def test_cpu_utilization(seconds, interval, vcpus, expected):
    assert cpu_utilization(seconds, interval, vcpus) == pytest.approx(expected)


def test_a_process_counts_its_own_time_and_its_reaped_childrens():
    assert process_seconds(times(1.5, 0.5, 3.0, 1.0)) == 6.0
    assert tree_seconds([times(1.0), times(2.0, 1.0), times(0.0, 0.0, 4.0)]) == 8.0


def host(cores: int, busy_elsewhere: int, stress_workers: int, interval: float) -> dict:
    """CPU seconds each process gets in *interval* on a host of *cores* with *busy_elsewhere*
    CPU-bound processes outside the bastion at the lowest priority: the bastion's workers get
    a whole core each while there are cores, the others share what is left."""
    bastion_cores = min(stress_workers, cores)
    per_worker = interval * bastion_cores / stress_workers if stress_workers else 0.0
    left = max(0, cores - bastion_cores)
    per_other = interval * left / busy_elsewhere if busy_elsewhere else 0.0
    return {"bastion": [per_worker] * stress_workers, "elsewhere": [per_other] * busy_elsewhere}


@pytest.mark.parametrize("cores, expected_load", [(1, 50.0), (2, 100.0), (8, 100.0), (64, 100.0)])
def test_the_bastion_reads_the_same_on_any_host_and_ignores_the_hosts_other_processes(
        cores, expected_load):
    """stress --cpu 2 on the 2-vCPU bastion: ≈100 % when the host has 2 cores for it (only
    a 1-core host cannot give them), ≈0 % idle, whatever else runs on every core."""
    clock = SimpleNamespace(now=0.0)
    used = SimpleNamespace(seconds=0.0)
    meter = CpuMeter(lambda: used.seconds, vcpus=2, clock=lambda: clock.now)

    # Idle bastion; the host is busy on every core with processes that are not on it.
    split = host(cores, busy_elsewhere=cores, stress_workers=0, interval=10.0)
    assert sum(split["elsewhere"]) == pytest.approx(10.0 * cores)
    clock.now += 10.0
    used.seconds += 0.05  # the bastion's own idle processes
    assert meter.sample() < 1.0

    # stress --cpu 2 on the bastion, the host still busy elsewhere.
    split = host(cores, busy_elsewhere=cores, stress_workers=2, interval=10.0)
    clock.now += 10.0
    used.seconds += tree_seconds(times(s) for s in split["bastion"])
    assert meter.sample() == pytest.approx(expected_load)
    # What the host-wide figure would have said: everything busy, idle or not.
    host_wide = 100.0 * (sum(split["bastion"]) + sum(split["elsewhere"])) / (10.0 * cores)
    assert host_wide == pytest.approx(100.0)


def test_the_meter_never_goes_backwards_when_a_process_ends_between_reads():
    clock = SimpleNamespace(now=0.0)
    readings = iter([0.0, 10.0, 8.0, 12.0])  # 8.0: a process ended before its parent reaped it
    meter = CpuMeter(lambda: next(readings), vcpus=2, clock=lambda: clock.now)
    clock.now = 10.0
    assert meter.sample() == 50.0
    clock.now = 20.0
    assert meter.sample() == 0.0
    clock.now = 30.0
    assert meter.sample() == 10.0  # counted from 10.0, not from the dip


# -- stress command lines -----------------------------------------------------------------------
@pytest.mark.parametrize("command, expected", [
    ("stress --cpu 2 --timeout 300", StressArgs(2, 300.0)),
    ("stress -c 4 -t 60s", StressArgs(4, 60.0)),
    ("stress-ng --cpu=1 --timeout=2m", StressArgs(1, 120.0)),
    ("/usr/bin/stress --timeout 1h --cpu 8", StressArgs(8, 3600.0)),
])
def test_stress_command_lines(command, expected):
    assert parse_stress(command) == expected


@pytest.mark.parametrize("command, words", [
    ("rm -rf /", "stress commands only"),
    ("stress --cpu 2", "--timeout"),
    ("stress --cpu two --timeout 60", "--cpu takes a whole number"),
    ("stress --cpu 0 --timeout 60", "--cpu takes a whole number"),
    ("stress --cpu 2 --timeout soon", "--timeout takes seconds"),
    ("stress --cpu 2 --io 4 --timeout 60", "not --io"),
])
def test_a_wrong_stress_command_says_how_to_write_it(command, words):
    with pytest.raises(LabError) as caught:
        parse_stress(command)
    assert words in caught.value.what
    assert "stress --cpu 2 --timeout 60" in caught.value.todo


def test_wrong_bastion_parameters_name_the_parameter_in_english_and_korean():
    with pytest.raises(LabError, match="bastion_vcpus"):
        LocalBastion("i-1", vcpus=0)
    with pytest.raises(LabError, match="bastion_cpu"):
        LocalBastion("i-1", cpu="fast")
    set_language("ko")
    try:
        with pytest.raises(LabError) as caught:
            LocalBastion("i-1", cpu="fast")
        assert "파라미터 셀" in caught.value.todo
    finally:
        set_language("en")


# -- the scripted bastion ----------------------------------------------------------------------
def test_the_scripted_bastion_runs_nothing_and_reports_workers_over_vcpus():
    bastion = LocalBastion("i-1", vcpus=4, cpu="scripted")
    before = set(psutil.Process().children(recursive=True))
    with bastion.run("stress --cpu 2 --timeout 60") as run:
        assert run.scripted and run.running and run.pid is None
        assert set(psutil.Process().children(recursive=True)) == before
        assert bastion.scripted_load() == 50.0
        with bastion.run("stress --cpu 4 --timeout 60"):
            assert bastion.scripted_load() == 100.0  # 6 workers on 4 vCPUs: capped
    assert not run.running
    assert bastion.scripted_load() is None


def test_a_scripted_run_ends_at_its_timeout():
    bastion = LocalBastion("i-1", cpu="scripted")
    run = bastion.run("stress --cpu 2 --timeout 0.2s")
    assert run.wait(timeout=5)
    assert bastion.scripted_load() is None


# -- real processes on the bastion -----------------------------------------------------------------
def tree_of(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def gone(procs: list[psutil.Process], within: float = 10.0) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=within)
    return not alive


@pytest.fixture(params=["installed", "built-in"])
def stress_kind(request, monkeypatch):
    """Each real-process test runs with the installed stress and with the Python stand-in."""
    if request.param == "installed":
        if machine.stress_program() is None:
            pytest.fail("stress is not installed: `apt-get install stress` (.ci/run does it)")
    else:
        monkeypatch.setattr(machine, "stress_program", lambda: None)
    return request.param


@pytest.mark.cpu_exclusive
def test_a_measured_run_is_the_bastions_own_cpu_time(stress_kind):
    bastion = LocalBastion("i-1", vcpus=2)
    meter = CpuMeter(bastion.cpu_seconds, vcpus=2)
    with bastion.run("stress --cpu 1 --timeout 30") as run:
        time.sleep(2.0)
        busy = meter.sample()
        procs = tree_of(run.pid)
        names = " ".join(" ".join(p.cmdline()) for p in procs)
        assert ("stress --cpu 1" in names) if stress_kind == "installed" else ("cpu_load.py" in names)
    assert gone(procs)
    # One worker on a 2-vCPU bastion: about half; less only when other programs of this
    # computer take its cores (no other test runs meanwhile: cpu_exclusive), never more.
    assert 15.0 < busy <= 55.0
    time.sleep(1.0)
    assert meter.sample() < 5.0


def test_a_busy_host_outside_the_bastion_never_shows_in_its_figure():
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        bastion = LocalBastion("i-1", vcpus=2)
        meter = CpuMeter(bastion.cpu_seconds, vcpus=2)
        time.sleep(1.5)
        assert meter.sample() < 5.0
        assert psutil.Process(hog.pid).cpu_times().user > 0.5  # the hog really burned
    finally:
        hog.kill()
        hog.wait()


def test_an_interrupted_cell_stops_the_run(stress_kind):
    bastion = LocalBastion("i-1")
    with pytest.raises(KeyboardInterrupt):
        with bastion.run("stress --cpu 2 --timeout 60") as run:
            time.sleep(0.5)
            procs = tree_of(run.pid)
            assert len(procs) >= 3  # the guard, the stress, its workers
            raise KeyboardInterrupt
    assert gone(procs)
    assert not run.running


def test_wait_returns_when_the_command_ends_by_itself(stress_kind):
    bastion = LocalBastion("i-1")
    run = bastion.run("stress --cpu 1 --timeout 1")
    assert run.wait(timeout=30)
    assert not run.running


_KERNEL = textwrap.dedent("""
    import sys, time
    from labkit.bastion import machine
    if sys.argv[1] == "built-in":
        machine.stress_program = lambda: None
    run = machine.LocalBastion("i-1").run("stress --cpu 2 --timeout 120")
    print(run.pid, flush=True)
    time.sleep(600)
""")


def test_no_run_outlives_a_killed_kernel(stress_kind):
    kernel = subprocess.Popen([sys.executable, "-c", _KERNEL, stress_kind],
                              stdout=subprocess.PIPE, text=True)
    try:
        guard = int(kernel.stdout.readline())
        deadline = time.monotonic() + 10
        while len(tree_of(guard)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)  # the guard, stress, its two workers
        procs = tree_of(guard)
        assert len(procs) >= 4
    finally:
        kernel.kill()  # as an OOM kill or a crashed kernel: no clean-up code runs
        kernel.wait()
    assert gone(procs)


def test_a_new_bastion_object_for_the_same_instance_stops_the_earlier_ones_load():
    first = LocalBastion("i-1")
    run = first.run("stress --cpu 1 --timeout 60")
    procs = tree_of(run.pid)
    LocalBastion("i-1")  # a re-run cell
    assert gone(procs)
    other = LocalBastion("i-2")
    assert other.run("stress --cpu 1 --timeout 60").running


@pytest.mark.skipif(not hasattr(os, "getpgid"), reason="process groups are POSIX")
def test_the_run_is_in_its_own_process_group_but_the_kernels_session():
    run = LocalBastion("i-1").run("stress --cpu 1 --timeout 60")
    # Own group: the kernel's interrupt signal does not hit it mid-cell; same session: on
    # Linux its CPU competes within the kernel's scheduling group, not as a group of its own.
    assert os.getpgid(run.pid) == run.pid
    assert os.getsid(run.pid) == os.getsid(0)
