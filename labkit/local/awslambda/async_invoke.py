"""Asynchronous invocation (``InvocationType=Event`` and SNS): queue, retries, destinations.

As on Lambda: the caller gets its answer at once; the event waits in a queue for a free slot;
a function error is retried twice (``MaximumRetryAttempts``), with the waits compressed
locally; afterwards an invocation record goes to the on-success or on-failure destination, and
a failed event to the dead-letter queue, all sent with the function's execution role (so the
role needs ``sqs:SendMessage``, ``sns:Publish``, ... as on AWS).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .environment import FunctionSpec
from .events import (
    Arn,
    AsyncSettings,
    dead_letter_attributes,
    delay_before_retry,
    invocation_record,
)

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4  # async events run at most this many at once; the rest wait in line

# (function, event, request id) -> (ok, payload)
Runner = Callable[[Any, str, str], tuple[bool, str]]
Describer = Callable[[Any], tuple[FunctionSpec, AsyncSettings]]
Sender = Callable[[FunctionSpec, str, str, Mapping[str, Any] | None, str], None]


@dataclass
class AsyncEvent:
    """One event in the asynchronous queue."""

    function: Any
    event_text: str
    request_id: str
    attempts: int = 0


class AsyncInvoker:
    """Runs queued events with retries, then hands the outcome to destinations."""

    def __init__(self, run: Runner, describe: Describer, send: Sender,
                 delays: tuple[float, ...], concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._run, self._describe, self._send = run, describe, send
        self.delays = delays
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda-async")
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def submit(self, function: Any, event_text: str, request_id: str) -> None:
        """Queue an event; returns at once."""
        if not self._stopping.is_set():
            self._pool.submit(self._attempt, AsyncEvent(function, event_text, request_id))

    def shutdown(self) -> None:
        """Drop queued events and pending retries (the local cloud is stopping)."""
        self._stopping.set()
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _attempt(self, event: AsyncEvent) -> None:
        if self._stopping.is_set():
            return
        try:
            spec, settings = self._describe(event.function)
            event.attempts += 1
            ok, payload = self._run(event.function, event.event_text, event.request_id)
        except Exception:  # a broken event must not take the queue down
            log.exception("asynchronous invocation %s failed to run", event.request_id)
            return
        if ok:
            if settings.on_success:
                self._record(spec, settings.on_success, event, True, payload)
            return
        if event.attempts <= settings.max_retries:
            self._retry_later(event, delay_before_retry(self.delays, event.attempts))
            return
        log.info("asynchronous invocation %s of %s failed %d time(s); giving up", event.request_id,
                 spec.name, event.attempts)
        if settings.on_failure:
            self._record(spec, settings.on_failure, event, False, payload)
        if spec.dead_letter_arn:
            self._dead_letter(spec, event, payload)

    def _retry_later(self, event: AsyncEvent, delay: float) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            if not self._stopping.is_set():
                try:
                    self._pool.submit(self._attempt, event)
                except RuntimeError:  # the pool shut down meanwhile
                    pass

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            if self._stopping.is_set():
                return
            self._timers.add(timer)
        timer.start()

    def _record(self, spec: FunctionSpec, target: str, event: AsyncEvent, succeeded: bool,
                payload: str) -> None:
        record = invocation_record(
            request_id=event.request_id, function_arn=spec.qualified_arn,
            executed_version=spec.version, succeeded=succeeded, attempts=event.attempts,
            request_payload=event.event_text, response_payload=payload,
            epoch_ms=time.time() * 1000)
        kind = "success" if succeeded else "failure"
        self._deliver(spec, target, json.dumps(record), None, kind)

    def _dead_letter(self, spec: FunctionSpec, event: AsyncEvent, payload: str) -> None:
        try:
            message = str(json.loads(payload).get("errorMessage", ""))
        except (ValueError, AttributeError):
            message = payload
        attributes = dead_letter_attributes(event.request_id, message)
        self._deliver(spec, spec.dead_letter_arn or "", event.event_text, attributes, "dlq")

    def _deliver(self, spec: FunctionSpec, target: str, body: str,
                 attributes: Mapping[str, Any] | None, kind: str) -> None:
        try:
            self._send(spec, target, body, attributes, kind)
        except Exception as exc:  # as on AWS: the record is lost, and the reason is logged
            log.warning("could not send the %s record of %s to %s: %s", kind, spec.name, target,
                        exc)


def send_with_role(credentials: Callable[[FunctionSpec], Mapping[str, str]],
                   endpoint_url: str) -> Sender:
    """A :data:`Sender` that calls the target's API with the function's role credentials."""
    import boto3
    from botocore.config import Config

    # One session for every send: a new session reads the service's model from disk again
    # (tens of milliseconds), which a burst of dead letters would pay hundreds of times. Each
    # client still carries the role's fresh credentials. Sessions are not thread-safe, so the
    # clients are made under a lock; the clients themselves are.
    session = boto3.session.Session()
    making = threading.Lock()
    config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30)

    def send(spec: FunctionSpec, target: str, body: str,
             attributes: Mapping[str, Any] | None, kind: str) -> None:
        arn = Arn.parse(target)
        creds = credentials(spec)
        with making:
            client = session.client(
                arn.service, region_name=arn.region or spec.region, endpoint_url=endpoint_url,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"], config=config)
        attributes = dict(attributes or {})
        if arn.service == "sqs":
            # Built from the ARN rather than looked up: Lambda needs sqs:SendMessage only.
            url = f"{endpoint_url}/{arn.account_id}/{arn.resource}"
            client.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        elif arn.service == "sns":
            client.publish(TopicArn=target, Message=body, MessageAttributes=attributes)
        elif arn.service == "lambda" and kind != "dlq":
            client.invoke(FunctionName=target, InvocationType="Event", Payload=body.encode())
        elif arn.service == "events" and kind != "dlq":
            result = "Success" if kind == "success" else "Failure"
            client.put_events(Entries=[{
                "Source": "lambda", "DetailType": f"Lambda Function Invocation Result - {result}",
                "Detail": body, "EventBusName": target, "Resources": [spec.qualified_arn, target]}])
        else:
            raise ValueError(f"{arn.service} is not a destination Lambda supports here")

    return send
