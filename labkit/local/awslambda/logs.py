"""Lambda's log lines and error documents, and writing them to CloudWatch Logs.

The formats follow the AWS Lambda developer guide ("AWS Lambda function logging in Python",
"AWS Lambda function errors in Python", "Capturing records of Lambda asynchronous
invocations") and what Lambda returns today for a timeout (``Sandbox.Timedout``) or a runtime
that exits (``Runtime.ExitError``). Everything but :class:`LogWriter` is a pure function.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

TAIL_BYTES = 4096  # LogType=Tail returns "the last 4 KB of the execution log"

LogEvent = tuple[int, str]  # (epoch milliseconds, message)


def iso_ms(epoch_ms: float) -> str:
    """``2024-05-14T10:00:00.123Z``: the timestamp format of Lambda's own log lines."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def start_line(request_id: str, version: str) -> str:
    """The line Lambda logs when an invocation starts."""
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    """The line Lambda logs when an invocation ends."""
    return f"END RequestId: {request_id}"


def billed_duration_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """Billed duration: rounded up to the next millisecond, at least 1 ms.

    Since August 2025 Lambda bills the INIT phase of on-demand .zip functions too, so a cold
    start's billed duration covers init and handler time together.
    """
    return max(1, math.ceil(round(duration_ms + (init_ms or 0.0), 6)))


def report_line(request_id: str, *, duration_ms: float, memory_mb: int, max_memory_mb: int,
                init_ms: float | None = None, status: str | None = None,
                error_type: str | None = None) -> str:
    """The ``REPORT`` line, fields separated by tabs, for example::

        REPORT RequestId: r1  Duration: 12.30 ms  Billed Duration: 13 ms  Memory Size: 128 MB
        Max Memory Used: 45 MB  Init Duration: 210.55 ms

    ``Init Duration`` only on a cold start; ``Status`` (and ``Error Type``) on a failure.
    """
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_duration_ms(duration_ms, init_ms)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts)


def timeout_line(request_id: str, elapsed_s: float, epoch_ms: float) -> str:
    """The line Lambda logs when it stops a function that ran past its timeout."""
    return f"{iso_ms(epoch_ms)} {request_id} Task timed out after {elapsed_s:.2f} seconds"


def error_document(error_type: str, message: str, request_id: str,
                   stack_trace: Sequence[str] = ()) -> dict:
    """The error a Python function's invocation returns (and logs) when the handler raised."""
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": list(stack_trace)}


def timeout_error(request_id: str, timeout_s: float) -> dict:
    """The payload of an invocation stopped at the function's timeout."""
    return {"errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                            f"{timeout_s:.2f} seconds",
            "errorType": "Sandbox.Timedout"}


def exit_error(request_id: str, returncode: int | None) -> dict:
    """The payload when the function's process ended before answering (``sys.exit``, a crash)."""
    if returncode is not None and returncode < 0:
        how = "signal: killed" if returncode == -9 else f"signal: {-returncode}"
    else:
        how = f"exit status {returncode}"
    return {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
            "errorType": "Runtime.ExitError"}


def log_tail(lines: Iterable[str], limit: int = TAIL_BYTES) -> str:
    """``LogResult``: the last *limit* bytes of an invocation's log, base64-encoded."""
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return base64.b64encode(text.encode("utf-8")[-limit:]).decode("ascii")


def ordered(events: Iterable[LogEvent]) -> list[LogEvent]:
    """Events with timestamps that never go backwards (CloudWatch Logs insists on order)."""
    result: list[LogEvent] = []
    last = 0
    for timestamp, message in events:
        last = max(last, int(timestamp))
        result.append((last, message))
    return result


class LogWriter:
    """Writes one execution environment's log stream into moto's CloudWatch Logs, in-process."""

    _lock = threading.Lock()  # moto's log store is not thread-safe; environments run in parallel

    def __init__(self, account_id: str, region: str, group: str, stream: str,
                 enabled: bool = True) -> None:
        self.account_id, self.region = account_id, region
        self.group, self.stream = group, stream
        self.enabled = enabled

    def write(self, events: Iterable[LogEvent]) -> None:
        """Append *events* to the stream, creating the group and stream when missing."""
        events = ordered(events)
        if not self.enabled or not events:
            return
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account_id][self.region]
        with self._lock:
            backend.ensure_log_group(self.group)
            backend.ensure_log_stream(self.group, self.stream)
            backend.put_log_events(self.group, self.stream,
                                   [{"timestamp": t, "message": m} for t, m in events])
