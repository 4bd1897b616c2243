"""The local bastion: a virtual EC2 instance with its own vCPUs and its own processes.

On AWS the hypervisor reports an instance's ``CPUUtilization``: the CPU time the instance's
processes used in an interval, divided by the interval × the instance's vCPUs. The local
bastion is accounted the same way. It is not this computer: only the processes started *on the
bastion* (:meth:`LocalBastion.run`) count, against the bastion's vCPUs (2 by default, as a
t3.micro has). The browser, a video call or a test suite on the same computer never show up in
its figure, and ``stress --cpu 2`` on a 2-vCPU bastion reads about 100 % whether this computer
has 2 cores or 64. Only when the computer cannot give the bastion its vCPUs at all (every core
busy with programs of the same or higher priority) does the figure fall, as it does for an
instance on an overcommitted host.

Two ways of producing the figure (the notebook parameter ``bastion_cpu``):

* ``"measured"`` (default): the commands really run - ``stress`` or ``stress-ng`` when
  installed, else a Python stand-in with the same options (:mod:`.cpu_load`) - and their CPU time
  is measured.
* ``"scripted"``: nothing runs; while a ``stress --cpu N`` command "runs", the bastion reports
  what it would use, N / vCPUs (at most 100 %), and the metric agent replays a whole period of
  it at once so the alarm can evaluate it at the next tick. The same result on any computer, in
  the least time: for batch runs and tests that are not about the CPU.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import psutil

from ..errors import LabError
from ..i18n import t
from .guard import stop_tree
from .cpu_load import stop_processes, wait_while
from .metric_agent import MetricAgent

CPU_MODES = ("measured", "scripted")
#: What the scripted bastion reads when nothing runs on it (an idle instance is never at 0).
SCRIPTED_IDLE = 1.0

_GUARD = Path(__file__).with_name("guard.py")
_LOAD = Path(__file__).with_name("cpu_load.py")
_STRESS_NAMES = ("stress", "stress-ng")

_live: "weakref.WeakSet[LocalBastion]" = weakref.WeakSet()


# -- the pure part: accounting ---------------------------------------------------------------
def cpu_utilization(cpu_seconds: float, interval: float, vcpus: int) -> float:
    """CPUUtilization in percent: *cpu_seconds* used in *interval* s on *vcpus*, at most 100.

    >>> cpu_utilization(20.0, 10.0, 2)    # two busy processes for 10 s on 2 vCPUs
    100.0
    >>> cpu_utilization(10.0, 10.0, 2)    # one of them
    50.0
    """
    if interval <= 0:
        return 0.0
    return max(0.0, min(100.0, 100.0 * cpu_seconds / (interval * vcpus)))


def process_seconds(times: object) -> float:
    """CPU seconds in a psutil ``cpu_times()`` result: the process's own and its reaped children's.

    A child that has ended and been waited for moves its time into its parent's ``children_*``
    fields, so a tree's total never goes down while its root lives.
    """
    return sum(float(getattr(times, field, 0.0) or 0.0)
               for field in ("user", "system", "children_user", "children_system"))


def tree_seconds(times: Iterable[object]) -> float:
    """CPU seconds of a process tree, given the ``cpu_times()`` of each live process in it."""
    return sum(process_seconds(t) for t in times)


class CpuMeter:
    """Turns a growing CPU-seconds counter into one CPUUtilization figure per call.

    *read_seconds* returns the CPU seconds the bastion's processes have used so far; *clock*
    the time (monotonic). Both are seams for tests.
    """

    def __init__(self, read_seconds: Callable[[], float], vcpus: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.read_seconds, self.vcpus, self.clock = read_seconds, vcpus, clock
        self._last = (self.clock(), self.read_seconds())

    def sample(self) -> float:
        """The bastion's CPUUtilization since the previous call (or since the meter was made)."""
        now, used = self.clock(), self.read_seconds()
        then, before = self._last
        self._last = (now, max(used, before))
        return cpu_utilization(max(0.0, used - before), now - then, self.vcpus)


# -- commands on the bastion -----------------------------------------------------------------
@dataclass(frozen=True)
class StressArgs:
    """What a ``stress`` / ``stress-ng`` command line asks for: CPU workers and a timeout."""

    cpu: int
    timeout: float


def parse_stress(command: str) -> StressArgs:
    """Read ``--cpu N`` (``-c N``) and ``--timeout T`` (``-t T``, ``60s``, ``2m``) of a stress command.

    >>> parse_stress("stress --cpu 2 --timeout 60")
    StressArgs(cpu=2, timeout=60.0)
    """
    words = shlex.split(command)
    if not words or Path(words[0]).name not in _STRESS_NAMES:
        raise LabError(t("bastion.stress_only", command=repr(command)), t("bastion.stress.todo"))
    cpu, timeout = None, None
    i = 1
    while i < len(words):
        word, value = words[i], None
        if "=" in word and word.startswith("--"):
            word, value = word.split("=", 1)
        elif i + 1 < len(words):
            value = words[i + 1]
            i += 1
        if word in ("-c", "--cpu"):
            cpu = _whole(value, command)
        elif word in ("-t", "--timeout"):
            timeout = _seconds(value, command)
        else:
            raise LabError(t("bastion.stress_option", command=repr(command), option=word),
                           t("bastion.stress.todo"))
        i += 1
    if cpu is None or timeout is None:
        raise LabError(t("bastion.stress_needs", command=repr(command)), t("bastion.stress.todo"))
    return StressArgs(cpu, timeout)


def _whole(value: str | None, command: str) -> int:
    if value is None or not value.isdigit() or int(value) < 1:
        raise LabError(t("bastion.stress_cpu", command=repr(command)), t("bastion.stress.todo"))
    return int(value)


def _seconds(value: str | None, command: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    text = (value or "").strip().lower()
    scale = units.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds <= 0:
        raise LabError(t("bastion.stress_timeout", command=repr(command)),
                       t("bastion.stress.todo"))
    return seconds


def stress_program() -> str | None:
    """The path of ``stress`` or ``stress-ng`` on this computer, or None when neither is."""
    for name in _STRESS_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BastionRun:
    """One command running on the bastion. A context manager: leaving the block stops it.

    Stopped also when the cell is interrupted (KeyboardInterrupt leaves the ``with`` block),
    when the object is collected (a re-run cell replaces it), at interpreter exit, and by its
    guard process when the kernel dies.
    """

    def __init__(self, command: str, args: StressArgs, proc: subprocess.Popen | None) -> None:
        self.command, self.args, self._proc = command, args, proc
        self.started = time.monotonic()
        self._stopped_at: float | None = None
        self._seconds = 0.0  # the last CPU total read while the process lived
        self._finalizer = weakref.finalize(self, _stop_popen, proc) if proc else None

    @property
    def scripted(self) -> bool:
        """True when nothing really runs (the scripted bastion)."""
        return self._proc is None

    @property
    def running(self) -> bool:
        """True until the command ends by itself (its timeout) or is stopped."""
        if self._proc is not None:
            return self._proc.poll() is None
        if self._stopped_at is not None:
            return False
        return time.monotonic() < self.started + self.args.timeout

    @property
    def pid(self) -> int | None:
        """The process id of the run's guard (its command runs under it); None if scripted."""
        return self._proc.pid if self._proc is not None else None

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the command's processes (0 when scripted)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return self._seconds
        try:
            root = psutil.Process(proc.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return self._seconds
        times = []
        for member in tree:
            try:
                times.append(member.cpu_times())
            except psutil.Error:
                pass  # ended between listing and reading: its parent's children_* has it soon
        self._seconds = max(self._seconds, tree_seconds(times))
        return self._seconds

    def stop(self) -> None:
        """Stop the command and all its processes. Safe to call any number of times."""
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        if self._proc is not None:
            self.cpu_seconds()  # keep what it used up to now in the bastion's total
            if self._finalizer is not None:
                self._finalizer()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the command ends by itself (or *timeout* s); True if it has ended.

        An interrupt (the stop button) or any other exception while waiting stops it.
        """
        return wait_while(lambda: self.running, self.stop, timeout)

    def __enter__(self) -> "BastionRun":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        how = "scripted" if self.scripted else f"pid {self.pid}"
        state = "running" if self.running else "ended"
        return f"<BastionRun {self.command!r} ({how}) {state}>"


def _stop_popen(proc: subprocess.Popen) -> None:
    """Stop a guard and its command's tree, from outside (works where signals do not reach)."""
    if proc.poll() is None:
        stop_tree(proc.pid)
    stop_processes([proc])  # reaps the guard and closes its pipe


class LocalBastion:
    """The local target's bastion instance: *vcpus* vCPUs, and the processes run on it.

    >>> bastion = LocalBastion("i-0123456789abcdef0", vcpus=2)          # doctest: +SKIP
    >>> with bastion.run("stress --cpu 2 --timeout 60"):               # doctest: +SKIP
    ...     wait_for_the_alarm()
    """

    def __init__(self, instance_id: str, vcpus: int = 2, cpu: str = "measured") -> None:
        if isinstance(vcpus, bool) or not isinstance(vcpus, int) or not 1 <= vcpus <= 192:
            raise LabError(t("bastion.vcpus.what", value=repr(vcpus)), t("bastion.vcpus.todo"))
        if cpu not in CPU_MODES:
            raise LabError(t("bastion.cpu.what", value=repr(cpu)), t("bastion.cpu.todo"))
        # A re-run cell makes a new bastion object: the earlier one's load and agent stop, so
        # one instance never has two agents publishing its metric.
        for earlier in [b for b in list(_live) if b.instance_id == instance_id]:
            earlier.stop_all()
            _live.discard(earlier)
        self.instance_id, self.vcpus, self.mode = instance_id, vcpus, cpu
        self._runs: list[BastionRun] = []
        self.agent: MetricAgent | None = None
        _live.add(self)

    @property
    def scripted(self) -> bool:
        """True when the bastion reports scripted figures instead of measuring its processes."""
        return self.mode == "scripted"

    def run(self, command: str) -> BastionRun:
        """Run a ``stress`` command on the bastion; returns the running command.

        measured: the installed ``stress``/``stress-ng``, else labkit's Python stand-in with the
        same options. scripted: nothing runs; the bastion reports what it would use.
        """
        args = parse_stress(command)
        # Ended measured runs stay: their CPU seconds are part of the bastion's total.
        self._runs = [r for r in self._runs if r.running or not r.scripted]
        if self.scripted:
            run = BastionRun(command, args, None)
        else:
            run = BastionRun(command, args, _spawn(_argv(command, args)))
        self._runs.append(run)
        return run

    @property
    def runs(self) -> list[BastionRun]:
        """The commands run on the bastion so far (those still running first)."""
        return sorted(self._runs, key=lambda r: not r.running)

    def stop_all(self) -> int:
        """Stop every command still running on the bastion and its agent; returns how many
        commands were running."""
        running = [r for r in self._runs if r.running]
        for run in self._runs:
            run.stop()
        self.stop_agent()
        return len(running)

    # -- the figure ------------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        """CPU seconds the bastion's processes have used since it was made (measured mode)."""
        return sum(run.cpu_seconds() for run in self._runs)

    def scripted_load(self) -> float | None:
        """What a scripted load running on the bastion reads (workers over vCPUs), else None."""
        workers = sum(r.args.cpu for r in self._runs if r.scripted and r.running)
        return cpu_utilization(float(workers), 1.0, self.vcpus) if workers else None

    def start_agent(self, cloudwatch: Any, period: int = 10,
                    interval: float = 1.0) -> MetricAgent:
        """Start publishing the bastion's CPUUtilization (as EC2's hypervisor does on AWS).

        A re-run replaces the agent started before. Returns the running agent.
        """
        self.stop_agent()
        if self.scripted:
            source: Callable[[], float] = lambda: SCRIPTED_IDLE
            busy = self.scripted_load
        else:
            source, busy = CpuMeter(self.cpu_seconds, self.vcpus).sample, None
        self.agent = MetricAgent(cloudwatch, self.instance_id, source, period=period,
                                 interval=interval, busy=busy).start()
        return self.agent

    def stop_agent(self) -> None:
        """Stop publishing (the metric then has no new datapoints, as for a stopped instance)."""
        if self.agent is not None:
            self.agent.stop()

    def latest_cpu(self) -> float | None:
        """The figure the agent published last, or None before the first one."""
        samples = self.agent.samples if self.agent is not None else []
        return samples[-1][1] if samples else None

    @property
    def samples(self) -> list[tuple[dt.datetime, float]]:
        """(timestamp, percent) of every datapoint the agent published, oldest first."""
        return self.agent.samples if self.agent is not None else []

    def __repr__(self) -> str:
        running = sum(r.running for r in self._runs)
        return (f"<LocalBastion {self.instance_id}: {self.vcpus} vCPU, {self.mode} CPU, "
                f"{running} command(s) running>")


def _argv(command: str, args: StressArgs) -> list[str]:
    """The program to run for *command*: the installed stress, or the Python stand-in."""
    program = stress_program()
    if program is not None:
        words = shlex.split(command)
        # stress-ng takes stress's options; run whichever is installed.
        return [program, *words[1:]]
    return [sys.executable, "-I", str(_LOAD), "--cpu", str(args.cpu),
            "--timeout", repr(args.timeout)]


def _spawn(argv: list[str]) -> subprocess.Popen:
    """Start *argv* under a guard that stops it when this process (the kernel) is gone."""
    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        # Its own process group (not its own session: a new session would get a scheduler
        # group of its own on Linux, and then compete with the kernel's as an equal).
        kwargs["process_group"] = 0
    return subprocess.Popen([sys.executable, "-I", str(_GUARD), str(os.getpid()), "--", *argv],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, close_fds=True, **kwargs)


def stop_all() -> int:
    """Stop every command running on any bastion of this process (a re-run cell lost one)."""
    return sum(bastion.stop_all() for bastion in list(_live))
