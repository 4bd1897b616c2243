"""Execution environments: worker processes that run a function, and the pool that keeps them warm.

An :class:`ExecutionEnvironment` is one ``worker.py`` process for one function
configuration. It goes through Lambda's INIT phase once (:meth:`ExecutionEnvironment.start`)
and then serves invocations one at a time (:meth:`ExecutionEnvironment.invoke`), stopping the
process when an invocation runs past the function's timeout.

The :class:`EnvironmentPool` keeps idle environments for reuse ("warm starts"), retires those
of an outdated configuration, reaps those idle for too long, and kills them all on shutdown.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .logs import LogEvent, LogWriter, exit_error, timeout_error

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("worker.py")
# Lambda gives the INIT phase (importing the function) at most 10 seconds.
INIT_LIMIT_SECONDS = 10.0


def now_ms() -> int:
    """Milliseconds since the epoch (CloudWatch Logs timestamps)."""
    return int(time.time() * 1000)


class InvocationClock:
    """The time one invocation has used, as its function counts it (``LABKIT_WAIT_SCALE``).

    At scale 1 it is the real time since the invocation started. Below 1 the worker sleeps
    ``seconds × scale`` for each ``time.sleep(seconds)`` and says so first; the sleep still counts
    in full, so while it lasts the function's time runs ``1 / scale`` times faster than the
    real one. The function's own remaining time (``worker.py``) is counted the same way, so
    both sides agree on when the timeout comes. Times are ``time.monotonic()`` seconds.
    """

    def __init__(self, started: float, timeout_s: float, scale: float = 1.0) -> None:
        self.started = started
        self.timeout_s = timeout_s
        self.scale = scale
        self._skipped = 0.0  # of the sleeps before the latest one: counted, not slept
        self._sleep: tuple[float, float] | None = None  # the latest sleep: (real start, seconds)

    def sleep_started(self, at: float, seconds: float) -> None:
        """The function began to sleep *seconds* at *at* (a worker's ``sleep`` frame)."""
        if self._sleep is not None:  # one thread sleeps at a time: the previous one has ended
            self._skipped += self._not_slept(self._sleep[1])
        self._sleep = (at, max(0.0, seconds))

    def elapsed(self, now: float) -> float:
        """Seconds of the invocation used at *now*, as the function counts them."""
        deadline = self.deadline()
        if now >= deadline:  # being stopped: a late look at the clock is late in real time
            return self.timeout_s + (now - deadline)
        skipped = self._skipped
        if self._sleep is not None:
            at, seconds = self._sleep
            if now < at + seconds * self.scale:  # still asleep: its time runs faster
                return (at - self.started) + skipped + (now - at) / self.scale
            skipped += self._not_slept(seconds)
        return (now - self.started) + skipped

    def deadline(self) -> float:
        """The real time at which the invocation has used its whole timeout."""
        if self._sleep is None:
            return self.started + self.timeout_s - self._skipped
        at, seconds = self._sleep
        used = (at - self.started) + self._skipped
        if used + seconds >= self.timeout_s:  # the timeout comes during this sleep
            return at + (self.timeout_s - used) * self.scale
        return self.started + self.timeout_s - self._skipped - self._not_slept(seconds)

    def _not_slept(self, seconds: float) -> float:
        return seconds - seconds * self.scale


@dataclass
class InitResult:
    """How the INIT phase of a new environment went."""

    ok: bool
    init_ms: float
    lines: list[LogEvent] = field(default_factory=list)
    error: dict[str, Any] | None = None  # Lambda's error document when it failed
    status: str | None = None  # "error" or "timeout" when it failed


@dataclass
class Outcome:
    """What one invocation in an environment gave."""

    ok: bool
    payload: str  # the handler's result as JSON, or Lambda's error document
    duration_ms: float
    max_memory_mb: int
    lines: list[LogEvent] = field(default_factory=list)
    status: str | None = None  # "timeout" or "error" when the environment had to end
    error_type: str | None = None

    @classmethod
    def failed(cls, error: dict[str, Any], duration_ms: float, max_memory_mb: int,
               lines: list[LogEvent], status: str) -> Outcome:
        return cls(False, json.dumps(error), duration_ms, max_memory_mb, lines, status,
                   error.get("errorType"))


class ExecutionEnvironment:
    """One worker process running one function configuration."""

    def __init__(self, key: str, function_arn: str, environ: Mapping[str, str], task_root: Path,
                 writer: LogWriter, wait_scale: float = 1.0) -> None:
        self.key = key
        self.wait_scale = wait_scale
        self.function_arn = function_arn
        self.environ = dict(environ)
        self.task_root = task_root
        self.writer = writer
        self.created = time.monotonic()
        self.last_used = self.created
        self.max_memory_mb = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._frames: queue.Queue[tuple[int, dict[str, Any] | None]] = queue.Queue()

    # -- life cycle -------------------------------------------------------------------------
    def start(self, limit_s: float = INIT_LIMIT_SECONDS) -> InitResult:
        """Start the process and run the INIT phase (import the handler's module)."""
        started = time.perf_counter()

        def elapsed_ms() -> float:
            return (time.perf_counter() - started) * 1000

        command = [sys.executable, "-I", "-X", "utf8", str(WORKER)]
        if self.wait_scale != 1.0:  # at 1 the worker leaves time.sleep as it is
            command += ["--wait-scale", repr(self.wait_scale)]
        try:
            self.process = subprocess.Popen(
                # -I: isolated mode, so no PYTHON* variable, user site or current folder
                # changes what the function imports; -X utf8: text files default to UTF-8 as
                # on Lambda, whatever locales this machine has; sys.executable: the same
                # Python as the local cloud's, so boto3 is there as on Lambda.
                command,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=self.environ, cwd=self.task_root, close_fds=True,
            )
        except OSError as exc:
            error = {"errorMessage": f"Could not start the execution environment: {exc}",
                     "errorType": "Runtime.ExitError"}
            return InitResult(False, elapsed_ms(), [], error, "error")
        threading.Thread(target=self._read_frames, daemon=True,
                         name=f"lambda-out-{self.process.pid}").start()
        threading.Thread(target=self._read_stderr, daemon=True,
                         name=f"lambda-err-{self.process.pid}").start()

        lines: list[LogEvent] = []
        deadline = time.monotonic() + limit_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return InitResult(False, elapsed_ms(), lines, status="timeout")
            try:
                at, frame = self._frames.get(timeout=left)
            except queue.Empty:
                continue
            if frame is None:
                code = self._wait()
                return InitResult(False, elapsed_ms(), lines, exit_error("", code), "error")
            kind = frame.get("type")
            if kind == "log":
                self._log(lines, at, frame)
            elif kind == "ready":
                return InitResult(True, elapsed_ms(), lines)
            elif kind == "init_error":
                self.kill()
                return InitResult(False, elapsed_ms(), lines, frame.get("error") or {}, "error")

    def invoke(self, request_id: str, event_text: str, timeout_s: float,
               invoked_arn: str) -> Outcome:
        """Run one invocation; stop the environment when it runs past *timeout_s*."""
        self._log_stray_output()
        clock = InvocationClock(time.monotonic(), timeout_s, self.wait_scale)
        lines: list[LogEvent] = []

        def elapsed_ms() -> float:
            return clock.elapsed(time.monotonic()) * 1000

        request = {"type": "invoke", "request_id": request_id, "event": event_text,
                   "remaining_ms": int(timeout_s * 1000), "invoked_function_arn": invoked_arn}
        try:
            assert self.process is not None and self.process.stdin is not None
            self.process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (OSError, ValueError):  # the process is gone (BrokenPipe) or its pipe closed
            return Outcome.failed(exit_error(request_id, self._wait()), elapsed_ms(),
                                  self.max_memory_mb, lines, "error")

        while True:
            left = clock.deadline() - time.monotonic()
            if left <= 0:
                memory = max(self.max_memory_mb, self._current_memory_mb())
                self.kill()
                return Outcome.failed(timeout_error(request_id, timeout_s), elapsed_ms(),
                                      memory, lines, "timeout")
            try:
                at, frame = self._frames.get(timeout=left)
            except queue.Empty:
                continue
            if frame is None:
                return Outcome.failed(exit_error(request_id, self._wait()), elapsed_ms(),
                                      self.max_memory_mb, lines, "error")
            if frame.get("type") == "log":
                self._log(lines, at, frame)
            elif frame.get("type") == "sleep":
                clock.sleep_started(time.monotonic(), _seconds(frame.get("seconds")))
            elif frame.get("type") == "result":
                self.max_memory_mb = int(frame.get("max_memory_mb") or self.max_memory_mb)
                self.last_used = time.monotonic()
                ok = bool(frame.get("ok"))
                payload = str(frame.get("payload", "null"))
                return Outcome(ok, payload, float(frame.get("duration_ms") or elapsed_ms()),
                               self.max_memory_mb, lines,
                               error_type=None if ok else _error_type(payload))

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Stop the process at once (Lambda does not let a timed-out function clean up)."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass
        self._wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass

    # -- plumbing -----------------------------------------------------------------------------
    def _log(self, lines: list[LogEvent], at: int, frame: dict[str, Any]) -> None:
        """Keep a log line for the invocation's answer, and write it to CloudWatch Logs now,
        so a long invocation can be watched while it runs."""
        event = (at, str(frame.get("text", "")))
        lines.append(event)
        try:
            self.writer.write([event])
        except Exception:  # the invocation matters more than its log
            log.exception("could not write a log line of %s", self.function_arn)

    def _wait(self) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def _read_frames(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            for raw in self.process.stdout:
                try:
                    frame = json.loads(raw)
                except ValueError:  # not ours: keep it as a log line rather than lose it
                    frame = {"type": "log", "text": raw.decode("utf-8", "replace").rstrip("\n")}
                self._frames.put((now_ms(), frame))
        except (OSError, ValueError):
            pass
        self._frames.put((now_ms(), None))  # end of output: the process is gone

    def _read_stderr(self) -> None:
        # What reaches fd 1 or 2 directly (a C library, a child process, a crash of the worker
        # itself) is function output too.
        assert self.process is not None and self.process.stderr is not None
        try:
            for raw in self.process.stderr:
                text = raw.decode("utf-8", "replace").rstrip("\n")
                self._frames.put((now_ms(), {"type": "log", "text": text}))
        except (OSError, ValueError):
            pass

    def _log_stray_output(self) -> None:
        """Output that arrived while no invocation ran goes to the local cloud's log."""
        while True:
            try:
                _, frame = self._frames.get_nowait()
            except queue.Empty:
                return
            if frame is None:
                self._frames.put((now_ms(), None))
                return
            log.info("function output outside an invocation (%s): %s", self.function_arn,
                     frame.get("text", frame))

    def _current_memory_mb(self) -> int:
        try:
            assert self.process is not None
            return -(-psutil.Process(self.process.pid).memory_info().rss // (1024 * 1024))
        except (psutil.Error, AssertionError):
            return 0


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if seconds == seconds and seconds > 0 else 0.0  # not NaN, not negative


def _error_type(payload: str) -> str | None:
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    return document.get("errorType") if isinstance(document, dict) else None


class EnvironmentPool:
    """Idle execution environments by configuration key, ready for warm starts."""

    def __init__(self, idle_seconds: float, max_age_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self.max_age_seconds = max_age_seconds
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._all: set[ExecutionEnvironment] = set()
        self._lock = threading.Lock()
        self._closed = False

    def take(self, key: str) -> ExecutionEnvironment | None:
        """A warm environment for *key*, or None when a new one must start (a cold start)."""
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                env = idle.pop()  # the most recently used: the others may age out
                if env.alive:
                    return env
                self._all.discard(env)
        return None

    def add(self, env: ExecutionEnvironment) -> None:
        """Track a new environment, busy with its first invocation."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the local Lambda runtime is shutting down")
            self._all.add(env)

    def give_back(self, env: ExecutionEnvironment) -> None:
        """An invocation ended: keep the environment for the next one, if it is still fit."""
        fit = env.alive and time.monotonic() - env.created < self.max_age_seconds
        with self._lock:
            if fit and not self._closed:
                self._idle.setdefault(env.key, []).append(env)
                return
            self._all.discard(env)
        env.kill()

    def discard(self, env: ExecutionEnvironment) -> None:
        """Forget and stop an environment (its INIT phase failed)."""
        with self._lock:
            self._all.discard(env)
        env.kill()

    def retire_other_configs(self, function_arn: str, key: str) -> int:
        """Stop the idle environments of *function_arn* that run an older configuration."""
        stale: list[ExecutionEnvironment] = []
        with self._lock:
            for other_key, envs in list(self._idle.items()):
                if other_key == key:
                    continue
                keep = [e for e in envs if e.function_arn != function_arn]
                stale += [e for e in envs if e.function_arn == function_arn]
                self._idle[other_key] = keep
            for env in stale:
                self._all.discard(env)
        for env in stale:
            env.kill()
        return len(stale)

    def retire_function(self, function_arn: str) -> int:
        """Stop every idle environment of *function_arn* (the function was deleted)."""
        return self.retire_other_configs(function_arn, key="")

    def reap(self) -> int:
        """Stop environments idle for longer than ``idle_seconds``; returns how many."""
        now = time.monotonic()
        expired: list[ExecutionEnvironment] = []
        with self._lock:
            for key, envs in list(self._idle.items()):
                keep = [e for e in envs if now - e.last_used < self.idle_seconds and e.alive]
                expired += [e for e in envs if e not in keep]
                self._idle[key] = keep
            for env in expired:
                self._all.discard(env)
        for env in expired:
            env.kill()
        return len(expired)

    def pids(self) -> list[int]:
        """Process ids of every live environment (busy or idle)."""
        with self._lock:
            return [e.process.pid for e in self._all if e.process is not None and e.alive]

    def close(self) -> None:
        """Stop every environment, busy ones included; no new ones may start."""
        with self._lock:
            self._closed = True
            everything = list(self._all)
            self._all.clear()
            self._idle.clear()
        for env in everything:
            env.kill()
