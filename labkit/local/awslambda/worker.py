"""One execution environment of the local Lambda runtime: a process that runs one function.

The local cloud starts it as ``python -I worker.py`` with the function's environment
(see ``environment.py``) and the extracted deployment package as working directory. It imports
the handler once (the INIT phase), then serves invocations one at a time for as long as the
local cloud keeps it warm, so module-level state lives on between invocations as on Lambda.

It uses the standard library only and imports nothing of labkit, so the function shares its
process with nothing but what Lambda's own Python runtime would bring.

Protocol: one JSON document per line.

* The local cloud writes requests to the worker's stdin:
  ``{"type": "invoke", "request_id", "event", "remaining_ms", "invoked_function_arn"}``.
  End of input means the local cloud is gone: the worker exits.
* The worker answers on the stdout it was started with:
  ``{"type": "log", "text"}`` for every log event (a printed line, a logging record),
  ``{"type": "ready"}`` or ``{"type": "init_error", "error"}`` once after INIT, and
  ``{"type": "result", "ok", "payload", "duration_ms", "max_memory_mb"}`` per invocation,
  and ``{"type": "sleep", "seconds"}`` before each shortened sleep (below).

Started with ``--wait-scale <s>`` (the local cloud's ``LABKIT_WAIT_SCALE`` below 1, in tests),
the handler's ``time.sleep(seconds)`` sleeps ``seconds × s`` and still counts in full: the
remaining time and the reported duration include the whole wait. Without it, ``time.sleep`` is
Python's own.

The function itself never sees these channels: its ``sys.stdout``/``sys.stderr`` turn writes
into log events, fd 1 is pointed at stderr (which the local cloud also collects), and its
stdin is empty.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import sys
import threading
import time
import traceback
from typing import Any, Callable, TextIO

PARENT_CHECK_SECONDS = 0.5
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
THIS_FILE = os.path.abspath(__file__)


class Channel:
    """The line-per-message pipe back to the local cloud, safe to use from several threads."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, ensure_ascii=False) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


class LogStream:
    """Stands in for ``sys.stdout``/``sys.stderr``: each complete line becomes one log event."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._channel.send({"type": "log", "text": line})
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send a partial last line too (called at the end of every invocation)."""
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest:
            self._channel.send({"type": "log", "text": rest})

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 2  # fd-level writes land on stderr, which the local cloud collects as well

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


class RequestContext:
    """The request id the logging records of the current invocation carry."""

    request_id = ""


class RequestIdFilter(logging.Filter):
    """Adds ``aws_request_id`` to every record, as Lambda's Python runtime does."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestContext.request_id
        return True


class ChannelHandler(logging.Handler):
    """Sends each logging record as one log event, even when its message spans lines."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.send({"type": "log", "text": self.format(record)})
        except Exception:  # logging must never break the function
            self.handleError(record)


def configure_logging(channel: Channel) -> None:
    """Give the root logger Lambda's handler and format; its level stays Python's default."""
    handler = ChannelHandler(channel)
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


class ShortWaits:
    """Shortened sleeps for the thread running an invocation, counted in full all the same.

    Only that thread's sleeps, and only during an invocation: the INIT phase, threads the
    function starts and this worker's own housekeeping sleep as long as they ask.
    """

    def __init__(self, scale: float, channel: Channel,
                 real_sleep: Callable[[float], None] = time.sleep) -> None:
        self.scale = scale
        self._channel = channel
        self._real_sleep = real_sleep
        self._thread: int | None = None  # the invoking thread, while an invocation runs
        self.skipped = 0.0  # seconds of this invocation's sleeps counted but not slept

    def begin(self) -> None:
        """An invocation starts on this thread: its sleeps are shortened from now on."""
        self._thread = threading.get_ident()
        self.skipped = 0.0

    def end(self) -> None:
        """The invocation is over: every sleep is whole again until the next one."""
        self._thread = None

    def sleep(self, seconds: float) -> None:
        """Stands in for ``time.sleep``."""
        if threading.get_ident() != self._thread or isinstance(seconds, bool) or \
                not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
            return self._real_sleep(seconds)  # Python's own answer, errors included
        # Said before sleeping, so that the local cloud moves the timeout in time.
        self._channel.send({"type": "sleep", "seconds": float(seconds)})
        self._real_sleep(seconds * self.scale)
        self.skipped += seconds - seconds * self.scale


class LambdaContext:
    """The context object a handler receives (the attributes Lambda's Python runtime offers)."""

    def __init__(self, request_id: str, invoked_function_arn: str, remaining_ms: int,
                 waits: ShortWaits | None = None) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + remaining_ms / 1000
        self._waits = waits

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops this invocation."""
        skipped = self._waits.skipped if self._waits is not None else 0.0
        return max(0, int((self._deadline - time.monotonic() - skipped) * 1000))

    def log(self, message: str) -> None:
        """Write *message* to the function's log, as ``context.log`` does on Lambda."""
        sys.stdout.write(message)

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"function_name={self.function_name},"
                f"invoked_function_arn={self.invoked_function_arn}])")


class InitError(Exception):
    """The handler could not be loaded; carries Lambda's error type for it."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import the handler's module and return the handler, with Lambda's errors when it fails."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        raise InitError("Runtime.MalformedHandlerName",
                        f"Bad handler '{handler}': not enough values to unpack "
                        "(expected 2, got 1)")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise InitError("Runtime.BuiltInModuleConflict",
                        f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise InitError("Runtime.ImportModuleError",
                        f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        raise InitError("Runtime.UserCodeSyntaxError",
                        f"Syntax error in module '{module_name}': {exc}",
                        [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']) from None
    function = getattr(module, function_name, None)
    if function is None:
        raise InitError("Runtime.HandlerNotFound",
                        f"Handler '{function_name}' missing on module '{module_name}'")
    return function


def user_stack(tb: Any) -> list[str]:
    """The traceback's frames as Lambda lists them, without this worker's own frames."""
    frames = [frame for frame in traceback.extract_tb(tb)
              if os.path.abspath(frame.filename) != THIS_FILE]
    return traceback.format_list(frames)


def error_from_exception(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The error document of an exception the function raised."""
    return {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": request_id,
            "stackTrace": user_stack(exc.__traceback__)}


def error_log_text(error: dict[str, Any]) -> str:
    """The ``[ERROR]`` log event Lambda writes for an error the handler did not catch."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    return "\n".join(lines)


def max_memory_mb() -> int:
    """Peak resident memory of this process so far, in MB (the REPORT line's Max Memory Used)."""
    # Linux: VmHWM is this program's own peak. getrusage's ru_maxrss would also count the
    # local cloud's memory, because Linux carries it over from the fork that started us.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return max(1, -(-int(line.split()[1]) // 1024))
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes there, KB on Linux
    return max(1, -(-peak // divisor))


class Worker:
    """Runs the INIT phase once, then one invocation per request, until input ends."""

    def __init__(self, channel: Channel, handler_name: str,
                 waits: ShortWaits | None = None) -> None:
        self.channel = channel
        self.handler_name = handler_name
        self.handler: Callable[[Any, Any], Any] | None = None
        self.waits = waits

    def init(self) -> bool:
        try:
            self.handler = load_handler(self.handler_name)
        except InitError as exc:
            error = {"errorMessage": exc.message, "errorType": exc.error_type,
                     "requestId": "", "stackTrace": exc.stack_trace}
            self._init_failed(error)
            return False
        except Exception as exc:  # the module raised while it was being imported
            self._init_failed(error_from_exception(exc, ""))
            return False
        self._flush_output()
        self.channel.send({"type": "ready"})
        return True

    def _init_failed(self, error: dict[str, Any]) -> None:
        self._flush_output()
        self.channel.send({"type": "log", "text": error_log_text(error)})
        self.channel.send({"type": "init_error", "error": error})

    def invoke(self, request: dict[str, Any]) -> None:
        request_id = request["request_id"]
        RequestContext.request_id = request_id
        context = LambdaContext(request_id, request.get("invoked_function_arn", ""),
                                int(request.get("remaining_ms", 3000)), self.waits)
        started = time.perf_counter()
        ok = True
        if self.waits is not None:
            self.waits.begin()
        try:
            event = json.loads(request.get("event") or "{}")
            assert self.handler is not None
            result = self.handler(event, context)
            try:
                payload = json.dumps(result)
            except (TypeError, ValueError) as exc:
                ok = False
                payload = json.dumps({"errorMessage": f"Unable to marshal response: {exc}",
                                      "errorType": "Runtime.MarshalError",
                                      "requestId": request_id, "stackTrace": []})
        except Exception as exc:
            ok = False
            error = error_from_exception(exc, request_id)
            self._flush_output()
            self.channel.send({"type": "log", "text": error_log_text(error)})
            payload = json.dumps(error)
        finally:
            if self.waits is not None:
                self.waits.end()
        duration_ms = (time.perf_counter() - started) * 1000
        if self.waits is not None:
            duration_ms += self.waits.skipped * 1000
        self._flush_output()
        self.channel.send({"type": "result", "ok": ok, "payload": payload,
                           "duration_ms": duration_ms, "max_memory_mb": max_memory_mb()})

    def _flush_output(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a function may have replaced the streams with anything
                pass

    def serve(self, requests: Any) -> None:
        for raw in requests:
            request = json.loads(raw)
            if request.get("type") == "invoke":
                self.invoke(request)


def watch_parent(parent_pid: int) -> None:
    """Exit as soon as the local cloud is gone, even while a handler is still busy."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(0)


def wait_scale_argument(argv: list[str]) -> float:
    """The ``--wait-scale`` given on the command line; 1 when absent or unusable."""
    if "--wait-scale" not in argv[:-1]:
        return 1.0
    try:
        scale = float(argv[argv.index("--wait-scale") + 1])
    except ValueError:
        return 1.0
    return scale if math.isfinite(scale) and 0 < scale < 1 else 1.0


def main(argv: list[str] | None = None) -> int:
    scale = wait_scale_argument(sys.argv[1:] if argv is None else argv)
    # Keep the protocol channels for ourselves before the function can touch fds 0 and 1.
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    channel = Channel(os.fdopen(os.dup(1), "w", encoding="utf-8"))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")
    sys.stdout = LogStream(channel)  # type: ignore[assignment]
    sys.stderr = LogStream(channel)  # type: ignore[assignment]

    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    configure_logging(channel)
    waits = None
    if scale != 1.0:
        waits = ShortWaits(scale, channel)
        # Before INIT, so that a handler module's `from time import sleep` gets it too.
        time.sleep = waits.sleep  # type: ignore[assignment]

    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path.insert(0, task_root)
    worker = Worker(channel, os.environ.get("_HANDLER", ""), waits)
    if not worker.init():
        return 1
    worker.serve(requests)
    return 0


if __name__ == "__main__":
    code = main()
    # Leave at once, without waiting for threads the function may have started: its execution
    # environment is being shut down.
    os._exit(code)
