"""The local Lambda runtime: functions deployed to the local cloud really run.

moto 5.2 only runs functions in Docker, which these machines do not have. This module plugs
a runtime into moto instead (its wrappers, installed by ``labkit.local.moto_patches``), in the
places every invocation passes through:

* ``LambdaFunction.invoke`` (the ``Invoke`` API and every service that invokes a function) and
  ``LambdaFunction._invoke_lambda`` (the one place moto runs code): ``RequestResponse`` runs
  the handler and answers as Lambda does (``FunctionError: Unhandled``, ``LogResult``,
  ``ExecutedVersion``); ``Event`` queues it and answers 202 at once; ``DryRun`` answers 204.
* ``sns.models.Subscription.publish`` for ``lambda`` subscriptions: SNS hands the message to
  the asynchronous queue and ``Publish`` returns at once; the function receives the event SNS
  sends on AWS (real TopicArn, MessageId, Subject, Timestamp, attributes, subscription ARN).
* ``LambdaFunction.__init__``/``update_configuration``/``get_configuration``: moto drops
  ``DeadLetterConfig``; these keep it, so failed asynchronous events reach it. moto also
  ignores ``KMSKeyArn`` in an update; it is kept too, and while that key cannot decrypt the
  function's variables every invocation fails as on Lambda (``kms_key.py``).

How a function runs: in an execution environment (``sandbox.py``), a process with
Lambda's environment variables and its execution role's credentials (``environment.py``),
warm between invocations until the code or configuration changes; its log goes to
``/aws/lambda/<name>`` in CloudWatch Logs in Lambda's format (``logs.py``); asynchronous
events are retried and then recorded (``async_invoke.py``, ``events.py``).

Settings (environment variables of the local cloud process; all of them in ``waits.py``):

* ``LABKIT_LAMBDA_RETRY_DELAYS``: seconds before the retries of a failed asynchronous
  invocation, default ``"1,2"`` (AWS: one minute, then two);
* ``LABKIT_LAMBDA_IDLE_SECONDS``: how long an idle environment stays warm, default 600;
* ``LABKIT_WAIT_SCALE``: shortens those retry delays and the functions' sleeps, default 1.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .async_invoke import AsyncInvoker, send_with_role
from .environment import (
    FunctionSpec,
    code_digest,
    config_key,
    lambda_environment,
    log_stream_name,
    unsupported_reason,
)
from .events import AsyncSettings, Arn, retry_delays, sns_lambda_event
from .kms_key import InvokeKMSError, KeyProblem, key_problem
from .logs import (
    LogWriter,
    end_line,
    error_document,
    iso_ms,
    log_tail,
    report_line,
    start_line,
    timeout_error,
    timeout_line,
)
from .sandbox import EnvironmentPool, ExecutionEnvironment, InitResult, now_ms
from ..waits import wait_scale_from_environment

log = logging.getLogger(__name__)

RETRY_DELAYS_ENV = "LABKIT_LAMBDA_RETRY_DELAYS"
IDLE_SECONDS_ENV = "LABKIT_LAMBDA_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 600.0
# Lambda recycles environments after some hours; doing the same keeps role credentials fresh.
MAX_ENVIRONMENT_AGE_SECONDS = 4 * 3600.0
REAP_EVERY_SECONDS = 5.0
# An environment is stopped at most this fraction of its idle time late (a short idle time,
# in tests, is then checked more often than every REAP_EVERY_SECONDS).
REAP_LATENESS = 0.5
DLQ_ATTRIBUTE = "labkit_dead_letter_arn"  # where DeadLetterConfig is kept on moto's model


@dataclass(frozen=True)
class Invocation:
    """The outcome of one synchronous invocation, as the Invoke API reports it."""

    request_id: str
    ok: bool
    payload: str  # the result as JSON, or Lambda's error document
    executed_version: str
    log_result: str  # base64 of the last 4 KB of the log (LogType=Tail)
    # Set when Lambda could not start the function at all: Invoke answers with this error
    # (HTTP 502) instead of a payload.
    key_problem: KeyProblem | None = None

    @property
    def function_error(self) -> str | None:
        """``Unhandled`` when the invocation failed, as in the ``X-Amz-Function-Error`` header."""
        return None if self.ok else "Unhandled"


# --------------------------------------------------------------------------------------------
# Credentials and permissions of a function's execution role


def role_credentials(account_id: str, role_arn: str, session_name: str) -> dict[str, str]:
    """Temporary credentials of an execution role (``AccessKeyId``, ``SecretAccessKey``, ...).

    ``authz`` issues them, so calls made with them are checked against the role's policies; it
    refuses a role whose trust policy does not let Lambda assume it.
    """
    from ..iam import authz

    return dict(authz.issue_role_credentials(account_id, role_arn, session_name))


def logs_allowed(spec: FunctionSpec, stream: str) -> bool:
    """Whether the execution role may write the function's log (else Lambda writes nothing)."""
    from ..iam import authz

    stream_arn = (f"arn:aws:logs:{spec.region}:{spec.account_id}:log-group:{spec.log_group}"
                  f":log-stream:{stream}")
    try:
        return all(authz.is_allowed(spec.role_arn, action, stream_arn)
                   for action in ("logs:CreateLogStream", "logs:PutLogEvents"))
    except Exception:  # a broken policy check must not silence every log
        log.exception("could not check the log permissions of %s", spec.role_arn)
        return True


# --------------------------------------------------------------------------------------------
# Reading moto's model


def function_spec(fn: Any) -> tuple[FunctionSpec, bytes]:
    """The :class:`FunctionSpec` of a moto ``LambdaFunction``, and its deployment package."""
    code = getattr(fn, "code_bytes", b"") or b""
    try:  # moto keeps Lambda's CodeSha256 (base64); its hex form is path-safe
        digest = base64.b64decode(fn.code_sha_256, validate=True).hex()
    except (binascii.Error, TypeError, ValueError, AttributeError):
        digest = code_digest(code)
    spec = FunctionSpec(
        name=fn.function_name, arn=fn.function_arn, version=str(fn.version),
        account_id=fn.account_id, region=fn.region, handler=fn.handler or "",
        runtime=fn.run_time or "", timeout=int(fn.timeout or 3),
        memory_mb=int(fn.memory_size or 128), role_arn=fn.role,
        variables=dict(fn.environment_vars or {}), code_sha256=digest,
        package_type=fn.package_type or "Zip",
        dead_letter_arn=getattr(fn, DLQ_ATTRIBUTE, None) or None,
        kms_key_arn=getattr(fn, "kms_key_arn", None) or None,
    )
    return spec, code


def async_settings(fn: Any) -> AsyncSettings:
    """The function's event-invoke configuration (the latest one put; moto keeps a list)."""
    configs = getattr(fn, "event_invoke_config", None) or []
    return AsyncSettings.from_config(configs[-1].config if configs else None)


def function_for_arn(function_arn: str) -> Any:
    """moto's ``LambdaFunction`` for a function ARN (with or without a version or alias)."""
    from moto.awslambda.utils import get_backend

    arn = Arn.parse(function_arn)
    parts = arn.resource.split(":")  # function:<name>[:<qualifier>]
    qualifier = parts[2] if len(parts) > 2 else None
    return get_backend(arn.account_id, arn.region).get_function(parts[1], qualifier)


# --------------------------------------------------------------------------------------------
# The runtime


class Runtime:
    """Runs functions for the local cloud: execution environments, logs, async invocations."""

    def __init__(self, endpoint_url: str, ca_bundle: str, home: Path, *,
                 retry_delays_seconds: tuple[float, ...] | None = None,
                 idle_seconds: float | None = None, wait_scale: float | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.ca_bundle = ca_bundle
        self.code_dir = Path(home) / "lambda" / "code"
        # Packages extracted by an earlier local cloud belong to functions that are gone.
        shutil.rmtree(self.code_dir, ignore_errors=True)
        self.code_dir.mkdir(parents=True, exist_ok=True)
        if idle_seconds is None:
            idle_seconds = _float_env(IDLE_SECONDS_ENV, DEFAULT_IDLE_SECONDS)
        self.pool = EnvironmentPool(idle_seconds, MAX_ENVIRONMENT_AGE_SECONDS)
        self.reap_every = reap_interval(idle_seconds)
        self.wait_scale = wait_scale if wait_scale is not None else wait_scale_from_environment()
        delays = retry_delays_seconds or retry_delays(os.environ.get(RETRY_DELAYS_ENV))
        delays = tuple(delay * self.wait_scale for delay in delays)
        self.async_invoker = AsyncInvoker(
            run=self._run_for_async, describe=lambda fn: (function_spec(fn)[0], async_settings(fn)),
            send=send_with_role(self._spec_credentials, endpoint_url), delays=delays)
        self._stopping = threading.Event()
        self._extract_lock = threading.Lock()
        threading.Thread(target=self._reap_idle, daemon=True, name="lambda-reaper").start()

    # -- invocations ----------------------------------------------------------------------------
    def run(self, fn: Any, event_text: str, request_id: str | None = None) -> Invocation:
        """Invoke *fn* (a moto ``LambdaFunction``) synchronously with the JSON *event_text*."""
        spec, code = function_spec(fn)
        return self.run_spec(spec, code, event_text, request_id or str(uuid.uuid4()))

    def run_spec(self, spec: FunctionSpec, code: bytes, event_text: str,
                 request_id: str) -> Invocation:
        """Run one invocation of *spec* in a warm environment, or a new one (a cold start)."""
        reason = unsupported_reason(spec) or (
            "The local cloud is stopping." if self._stopping.is_set() else None)
        if reason:
            error = error_document("LocalCloud.Unsupported", reason, request_id)
            return Invocation(request_id, False, json.dumps(error), spec.version, "")
        # Checked on every invocation, not only on a cold start: a learner who disables the key
        # sees the function stop at once, and enabling it brings the function back.
        problem = key_problem(spec.kms_key_arn, spec.variables)
        if problem is not None:
            error = {"errorMessage": problem.message, "errorType": problem.code}
            return Invocation(request_id, False, json.dumps(error), spec.version, "",
                              key_problem=problem)

        key = config_key(spec)
        env = self.pool.take(key)
        init: InitResult | None = None
        if env is None:
            self.pool.retire_other_configs(spec.arn, key)
            env, init = self._cold_start(spec, code, key)
            if not init.ok:
                return self._init_failed(spec, env, init, request_id)

        # Checked per invocation, as a policy attached meanwhile applies at once on AWS too.
        env.writer.enabled = logs_allowed(spec, env.writer.stream)
        started = [(now_ms(), start_line(request_id, spec.version))]
        self._write_log(env, started)
        try:
            outcome = env.invoke(request_id, event_text, spec.timeout, spec.arn)
        except BaseException:  # never leave a half-used environment in the pool
            self.pool.discard(env)
            raise
        closing: list[tuple[int, str]] = []
        if outcome.status == "timeout":
            closing.append((now_ms(), timeout_line(request_id, outcome.duration_ms / 1000,
                                                   now_ms())))
        closing.append((now_ms(), end_line(request_id)))
        closing.append((now_ms(), report_line(
            request_id, duration_ms=outcome.duration_ms, memory_mb=spec.memory_mb,
            max_memory_mb=outcome.max_memory_mb, init_ms=init.init_ms if init else None,
            status=outcome.status,
            error_type=outcome.error_type if outcome.status == "error" else None)))
        self._write_log(env, closing)
        self.pool.give_back(env)
        # The function's own lines were written as they came (sandbox.py); LogResult
        # covers the whole invocation, INIT output included on a cold start.
        events = (init.lines if init else []) + started + outcome.lines + closing
        return Invocation(request_id, outcome.ok, outcome.payload, spec.version,
                          log_tail(text for _, text in events))

    def invoke_async(self, fn: Any, event_text: str) -> str:
        """Queue an asynchronous invocation (``Event``, SNS); returns its request id at once."""
        request_id = str(uuid.uuid4())
        self.async_invoker.submit(fn, event_text, request_id)
        return request_id

    def deliver_sns(self, subscription: Any, message: str, message_id: str,
                    subject: str | None, message_attributes: Mapping[str, Any] | None) -> None:
        """Hand an SNS message to a subscribed function, as SNS does: asynchronously."""
        try:
            fn = function_for_arn(subscription.endpoint)
        except Exception as exc:  # SNS drops deliveries to a function that is gone
            log.warning("SNS could not deliver to %s: %s", subscription.endpoint, exc)
            return
        # moto signs the message the way it does for HTTP subscribers; the Lambda event
        # carries the same timestamp, signature and certificate URL.
        try:
            signed = subscription.get_post_data(message, message_id, subject,
                                                message_attributes=message_attributes)
        except Exception:  # an unsigned event beats a Publish that fails
            log.exception("could not sign SNS message %s", message_id)
            signed = {"Timestamp": iso_ms(now_ms()), "SignatureVersion": "1", "Signature": "",
                      "SigningCertURL": ""}
        event = sns_lambda_event(
            message=message, message_id=message_id, topic_arn=subscription.topic.arn,
            subscription_arn=subscription.arn, subject=subject, timestamp=signed["Timestamp"],
            signature_version=signed["SignatureVersion"], signature=signed["Signature"],
            signing_cert_url=signed["SigningCertURL"], message_attributes=message_attributes)
        self.invoke_async(fn, json.dumps(event))

    def shutdown(self) -> None:
        """Stop every execution environment and drop queued asynchronous events."""
        global _installed
        self._stopping.set()
        self.async_invoker.shutdown()
        self.pool.close()
        shutil.rmtree(self.code_dir, ignore_errors=True)  # the extracted packages
        if _installed is self:
            _installed = None

    def environment_pids(self) -> list[int]:
        """Process ids of the running execution environments."""
        return self.pool.pids()

    # -- plumbing -------------------------------------------------------------------------------
    def _run_for_async(self, fn: Any, event_text: str, request_id: str) -> tuple[bool, str]:
        result = self.run(fn, event_text, request_id)
        return result.ok, result.payload

    def _cold_start(self, spec: FunctionSpec, code: bytes,
                    key: str) -> tuple[ExecutionEnvironment, InitResult]:
        stream = log_stream_name(spec.version)
        writer = LogWriter(spec.account_id, spec.region, spec.log_group, stream,
                           enabled=logs_allowed(spec, stream))
        task_root = self.code_dir / spec.code_sha256
        env = ExecutionEnvironment(key, spec.arn, {}, task_root, writer, self.wait_scale)
        try:
            self._extract(code, task_root)
            env.environ = lambda_environment(
                spec, log_stream=stream, task_root=str(task_root),
                credentials=self._spec_credentials(spec), endpoint_url=self.endpoint_url,
                ca_bundle=self.ca_bundle)
            self.pool.add(env)
        except zipfile.BadZipFile as exc:
            return env, InitResult(False, 0.0, error=error_document(
                "Runtime.InvalidZipFileException",
                f"The deployment package is not a valid .zip file: {exc}", ""), status="error")
        except Exception as exc:
            return env, InitResult(False, 0.0, error=error_document(
                type(exc).__name__, f"Could not prepare the execution environment: {exc}", ""),
                status="error")
        return env, env.start()

    def _init_failed(self, spec: FunctionSpec, env: ExecutionEnvironment, init: InitResult,
                     request_id: str) -> Invocation:
        """An environment that could not start: report it like Lambda, and do not keep it."""
        self.pool.discard(env)
        error = init.error or timeout_error(request_id, init.init_ms / 1000)
        error_type = error.get("errorType")
        lines = [(now_ms(), start_line(request_id, spec.version)),
                 (now_ms(), end_line(request_id)),
                 (now_ms(), report_line(
                     request_id, duration_ms=0.0, memory_mb=spec.memory_mb,
                     max_memory_mb=env.max_memory_mb, init_ms=init.init_ms,
                     status=init.status or "error",
                     error_type=error_type if init.status != "timeout" else None))]
        self._write_log(env, lines)  # the INIT output was written as it came
        return Invocation(request_id, False, json.dumps(error), spec.version,
                          log_tail(text for _, text in init.lines + lines))

    def _extract(self, code: bytes, task_root: Path) -> None:
        """Unpack a deployment package once per code digest (it is the function's task root)."""
        with self._extract_lock:
            if task_root.is_dir():
                return
            staging = task_root.with_name(task_root.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(staging)
            staging.rename(task_root)

    def _spec_credentials(self, spec: FunctionSpec) -> dict[str, str]:
        # The role session is named after the function, as Lambda does.
        return role_credentials(spec.account_id, spec.role_arn, spec.name)

    @staticmethod
    def _write_log(env: ExecutionEnvironment, events: list[tuple[int, str]]) -> None:
        try:
            env.writer.write(events)
        except Exception:  # the invocation's answer matters more than its log
            log.exception("could not write the log of %s", env.function_arn)

    def _reap_idle(self) -> None:
        while not self._stopping.wait(self.reap_every):
            self.pool.reap()


def reap_interval(idle_seconds: float) -> float:
    """Seconds between two looks for environments idle for longer than *idle_seconds*."""
    return max(0.05, min(REAP_EVERY_SECONDS, idle_seconds * REAP_LATENESS))


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


# --------------------------------------------------------------------------------------------
# Plugging the runtime into moto: labkit.local.moto_patches installs these wrappers (its table
# says where); each falls back to moto's own method while no runtime is started.

_installed: Runtime | None = None


def start(endpoint_url: str, ca_bundle: str, home: Path) -> Runtime:
    """Start the runtime that moto's Lambda invocations and SNS deliveries go to (a second call
    replaces the running one)."""
    global _installed
    if _installed is not None:
        _installed.shutdown()
    runtime = Runtime(endpoint_url, ca_bundle, home)
    _installed = runtime
    return runtime


def installed() -> Runtime | None:
    """The runtime moto currently uses, if any."""
    return _installed


def wrap_delete_function(original: Callable[..., None]) -> Callable[..., None]:
    """``LambdaBackend.delete_function``: moto's DeleteFunction, then stop the function's idle
    execution environments.

    Without this a class (30 learners, each deleting their function in 07) would keep every
    deleted function's worker process until the idle timeout.
    """
    def delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
        try:
            arn = self.get_function(function_name, qualifier).function_arn
        except Exception:  # noqa: BLE001 - moto's own call below answers the error as AWS does
            arn = None
        original(self, function_name, qualifier)
        if arn and _installed is not None and not qualifier:
            _installed.pool.retire_function(arn)
    return delete_function


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None:  # plain dicts are case-sensitive; HTTP headers are not
        value = next((v for k, v in dict(headers).items() if k.lower() == name.lower()), None)
    return value


def _event_text(body: Any) -> str:
    """The event as JSON text; Lambda refuses a payload that is not JSON."""
    from moto.awslambda.exceptions import LambdaClientError

    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if body is None or body == "":
        return "{}"
    if not isinstance(body, str):
        return json.dumps(body)
    try:
        json.loads(body)
    except ValueError as exc:
        raise LambdaClientError("InvalidRequestContentException",
                                f"Could not parse request body into json: {exc}") from None
    return body


def wrap_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LambdaFunction.invoke``: run the function as its invocation type asks."""
    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        runtime = _installed
        if runtime is None:
            return original(self, body, request_headers, response_headers)
        invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
        event_text = _event_text(body)
        if invocation_type == "DryRun":
            return b""  # the request was valid and the function exists: moto answers 204
        if invocation_type == "Event":
            runtime.invoke_async(self, event_text)
            return b""  # moto answers 202
        result = runtime.run(self, event_text)
        if result.key_problem is not None:
            raise InvokeKMSError(result.key_problem)
        response_headers["x-amz-executed-version"] = result.executed_version
        response_headers["x-amz-log-result"] = result.log_result  # kept only for LogType=Tail
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        return result.payload.encode("utf-8")
    return invoke


def wrap_invoke_lambda(original: Callable[..., Any]) -> Callable[..., Any]:
    """``LambdaFunction._invoke_lambda``: (payload, errored, log) from a real run."""
    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        runtime = _installed
        if runtime is None:
            return original(self, event)
        text = event if isinstance(event, str) else json.dumps(event if event is not None else {})
        result = runtime.run(self, text)
        logs = base64.b64decode(result.log_result).decode("utf-8", "replace")
        return result.payload, not result.ok, logs
    return _invoke_lambda


def wrap_function_init(original: Callable[..., None]) -> Callable[..., None]:
    """``LambdaFunction.__init__``: also keep ``DeadLetterConfig``."""
    def __init__(self: Any, account_id: str, spec: dict[str, Any], region: str,
                 version: str | int = 1) -> None:
        original(self, account_id, spec, region, version)
        setattr(self, DLQ_ATTRIBUTE,
                (spec.get("DeadLetterConfig") or {}).get("TargetArn") or None)
    return __init__


def wrap_update_configuration(original: Callable[..., dict]) -> Callable[..., dict]:
    """``LambdaFunction.update_configuration``: also ``DeadLetterConfig`` and ``KMSKeyArn``."""
    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "DeadLetterConfig" in config_updates:
            target = (config_updates.get("DeadLetterConfig") or {}).get("TargetArn")
            setattr(self, DLQ_ATTRIBUTE, target or None)
        if "KMSKeyArn" in config_updates:
            # An empty ARN goes back to Lambda's default key (aws/lambda).
            self.kms_key_arn = config_updates["KMSKeyArn"] or None
        return original(self, config_updates)
    return update_configuration


def wrap_get_configuration(original: Callable[..., dict]) -> Callable[..., dict]:
    """``LambdaFunction.get_configuration``: show ``DeadLetterConfig`` when set.

    ``KMSKeyArn`` shows only when a customer managed key is set, as on Lambda (moto sends null).
    """
    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original(self, on_create)
        target = getattr(self, DLQ_ATTRIBUTE, None)
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        if not config.get("KMSKeyArn"):
            config.pop("KMSKeyArn", None)
        return config
    return get_configuration


def wrap_subscription_publish(original: Callable[..., None]) -> Callable[..., None]:
    """``sns.models.Subscription.publish``: lambda subscribers get a real, asynchronous event."""
    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None,
                message_structure: str | None = None) -> None:
        runtime = _installed
        if runtime is None or self.protocol != "lambda":
            return original(self, message, message_id, subject=subject,
                            message_attributes=message_attributes, group_id=group_id,
                            deduplication_id=deduplication_id,
                            message_structure=message_structure)
        # The same filtering and per-protocol message choice moto applies to every subscriber.
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        runtime.deliver_sns(self, message, message_id, subject, message_attributes)
        return None
    return publish
