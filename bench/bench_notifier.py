"""Measure the Slack notifier Lambda function: cold start, cost per record, memory.

Run from the repository root:

    python bench/bench_notifier.py [--records 200] [--runs 7]

It prints:
  * cold import of the function module in a fresh interpreter (what every cold start pays),
    and of boto3 (paid later, only when the webhook comes from KMS, SSM or Secrets Manager);
  * the first and the cached webhook lookup with a KMS ciphertext (moto stands in for KMS);
  * time per record: formatting only, and formatted and delivered to a Slack stand-in on
    127.0.0.1 through the handler;
  * peak Python memory (tracemalloc) while the handler processes the records, and the
    process's peak resident size.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import py_compile
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "labkit" / "functions" / "slack_notifier.py"
EVENTS = ROOT / "tests" / "fixtures" / "events"


def load_notifier() -> Any:
    spec = importlib.util.spec_from_file_location("slack_notifier", SOURCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["slack_notifier"] = module
    spec.loader.exec_module(module)
    return module


def cold_import_ms(
    statement: str, runs: int, folder: Path = SOURCE.parent, bytecode: bool = False
) -> float:
    """Median time of *statement* in fresh interpreters, measured inside them."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
        f"{statement}; print((time.perf_counter() - t) * 1000)"
    )
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # Without bytecode the module is compiled at every cold start: Lambda's code folder is
    # read-only, so nothing is cached unless the zip ships __pycache__.
    flags = [] if bytecode else ["-B"]
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, *flags, "-c", code, str(folder)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        samples.append(float(result.stdout.strip()))
    return statistics.median(samples)


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def events(count: int) -> dict[str, Any]:
    """*count* SNS records cycling through the fixture kinds, each with its own MessageId."""
    kinds = [
        "metric_alarm_alarm.json",
        "metric_math_alarm.json",
        "composite_alarm.json",
        "metric_alarm_ok.json",
        "plain_text.json",
        "seed_mission_slack_test.json",
    ]
    templates = [json.loads((EVENTS / kind).read_text())["Records"][0] for kind in kinds]
    records = []
    for i in range(count):
        record = json.loads(json.dumps(templates[i % len(templates)]))
        record["Sns"]["MessageId"] = f"00000000-0000-4000-8000-{i:012d}"
        records.append(record)
    return {"Records": records}


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per cold figure")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []

    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(SOURCE, folder)
        rows.append(
            (
                f"cold import of slack_notifier, compiled from source (median of {args.runs})",
                f"{cold_import_ms('import slack_notifier', args.runs, Path(folder)):.1f} ms",
            )
        )
        py_compile.compile(str(Path(folder) / SOURCE.name), doraise=True)
        rows.append(
            (
                "cold import of slack_notifier with __pycache__ in the zip",
                f"{cold_import_ms('import slack_notifier', args.runs, Path(folder), True):.1f} ms",
            )
        )
    rows.append(
        (
            "cold import of boto3 (only for KMS/SSM/Secrets Manager)",
            f"{cold_import_ms('import boto3', args.runs):.1f} ms",
        )
    )

    notifier = load_notifier()
    for variable in ("slackChannel", "slackMention", "slackHookUrlParameter", "slackHookUrlSecret"):
        os.environ.pop(variable, None)

    try:
        from moto import mock_aws
    except ImportError:
        mock_aws = None
    if mock_aws is not None:
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="ap-northeast-2",
            AWS_LAMBDA_FUNCTION_NAME="mission-lambda",
        )
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.pop("slackHookUrl", None)
        with mock_aws():
            import boto3

            kms = boto3.client("kms")
            key = kms.create_key()["KeyMetadata"]["KeyId"]
            blob = kms.encrypt(
                KeyId=key,
                Plaintext=b"hooks.slack.com/services/T0/B0/bench",
                EncryptionContext={"LambdaFunctionName": "mission-lambda"},
            )
            os.environ["kmsEncryptedHookUrl"] = base64.b64encode(blob["CiphertextBlob"]).decode()
            started = time.perf_counter()
            notifier.get_webhook_url()
            first = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            notifier.get_webhook_url()
            cached = (time.perf_counter() - started) * 1000
        os.environ.pop("kmsEncryptedHookUrl")
        rows.append(("first webhook lookup, KMS decrypt (moto, in-process)", f"{first:.1f} ms"))
        rows.append(("cached webhook lookup (warm invocation)", f"{cached * 1000:.1f} µs"))

    event = events(args.records)
    notifications = list(notifier.read_notifications(event))
    started = time.perf_counter()
    for notification in notifications:
        notifier.build_message(notification)
    format_ms = (time.perf_counter() - started) * 1000 / len(notifications)
    rows.append(("format one record (build_message)", f"{format_ms * 1000:.0f} µs"))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    os.environ["slackHookUrl"] = f"http://127.0.0.1:{server.server_port}/services/T0/B0/bench"
    saved_stdout = sys.stdout
    try:
        sys.stdout = open(os.devnull, "w")  # the handler logs one line per record
        tracemalloc.start()
        started = time.perf_counter()
        result = notifier.lambda_handler(event, Context())
        total = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        sys.stdout.close()
        sys.stdout = saved_stdout
        server.shutdown()
        server.server_close()
    assert result["delivered"] == args.records, result
    rows.append(
        (
            f"format + deliver one record via the handler ({args.records} records)",
            f"{total * 1000 / args.records:.2f} ms",
        )
    )
    rows.append(("peak Python memory while handling them (tracemalloc)", f"{peak / 1024:.0f} KiB"))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024 / 1024
    rows.append(("peak resident size of this process (incl. moto, boto3)", f"{rss:.0f} MiB"))

    width = max(len(name) for name, _ in rows)
    print(f"Slack notifier benchmark — Python {sys.version.split()[0]}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")


if __name__ == "__main__":
    main()
