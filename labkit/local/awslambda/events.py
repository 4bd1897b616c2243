"""Documents of asynchronous invocation: the SNS event, retries, records and dead letters.

Pure functions, from the AWS Lambda developer guide:

* "Using AWS Lambda with Amazon SNS": the event a subscribed function receives;
* "Asynchronous invocation": two retries on a function error, one minute then two minutes
  apart (compressed here, see :func:`retry_delays`), ``MaximumRetryAttempts`` between 0 and 2;
* "Capturing records of Lambda asynchronous invocations": the invocation record sent to an
  on-success or on-failure destination, and the message attributes of a dead-letter message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .logs import iso_ms

# AWS waits 1 minute, then 2 minutes; locally the same shape in seconds, so a lesson or a test
# sees all three attempts quickly. LABKIT_LAMBDA_RETRY_DELAYS="1,2" sets them (and
# LABKIT_WAIT_SCALE shortens them further, see waits.py).
DEFAULT_RETRY_DELAYS = (1.0, 2.0)
DEFAULT_MAX_RETRIES = 2
DLQ_MESSAGE_BYTES = 1024  # "ErrorMessage: the first 1 KB of the error message"


def retry_delays(setting: str | None) -> tuple[float, ...]:
    """Seconds to wait before each retry, from ``LABKIT_LAMBDA_RETRY_DELAYS`` (``"1,2"``).

    A missing or malformed setting gives the default; with fewer delays than retries the last
    one repeats (see :func:`delay_before_retry`).
    """
    if not setting or not setting.strip():
        return DEFAULT_RETRY_DELAYS
    try:
        delays = tuple(float(part) for part in setting.split(",") if part.strip())
    except ValueError:
        return DEFAULT_RETRY_DELAYS
    if not delays or any(d < 0 for d in delays):
        return DEFAULT_RETRY_DELAYS
    return delays


def delay_before_retry(delays: tuple[float, ...], retry: int) -> float:
    """Seconds to wait before retry number *retry* (1 for the first retry)."""
    return delays[min(retry, len(delays)) - 1] if delays else 0.0


@dataclass(frozen=True)
class AsyncSettings:
    """A function's asynchronous-invocation settings (``PutFunctionEventInvokeConfig``)."""

    max_retries: int = DEFAULT_MAX_RETRIES
    on_success: str | None = None
    on_failure: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> AsyncSettings:
        """Read the settings from an event-invoke configuration as the API takes it."""
        config = config or {}
        destinations = config.get("DestinationConfig") or {}
        retries = config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)
        return cls(
            max_retries=max(0, min(DEFAULT_MAX_RETRIES, int(retries))),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
        )


def sns_lambda_event(*, message: str, message_id: str, topic_arn: str, subscription_arn: str,
                     subject: str | None, timestamp: str, signature_version: str,
                     signature: str, signing_cert_url: str,
                     message_attributes: Mapping[str, Mapping[str, Any]] | None = None) -> dict:
    """The event SNS delivers to a subscribed function: one record, as on AWS.

    *message_attributes* is SNS's ``{"name": {"Type": "String", "Value": ...}}``; numbers
    arrive in the event as text, as they were published.
    """
    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else "us-east-1"
    attributes = {name: {"Type": value.get("Type"), "Value": _attribute_text(value.get("Value"))}
                  for name, value in (message_attributes or {}).items()}
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic_arn,
            "Subject": subject or None,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": signature_version,
            "Signature": signature,
            "SigningCertUrl": signing_cert_url,
            "UnsubscribeUrl": (f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                               f"&SubscriptionArn={subscription_arn}"),
            "MessageAttributes": attributes,
        },
    }]}


def _attribute_text(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def as_json_value(text: str) -> Any:
    """A payload as it appears inside a record: parsed JSON, or the text when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def invocation_record(*, request_id: str, function_arn: str, executed_version: str,
                      succeeded: bool, attempts: int, request_payload: str,
                      response_payload: str, epoch_ms: float) -> dict:
    """The record Lambda sends to an on-success or on-failure destination."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
    if not succeeded:
        response_context["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": iso_ms(epoch_ms),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": "Success" if succeeded else "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": as_json_value(request_payload),
        "responseContext": response_context,
        "responsePayload": as_json_value(response_payload),
    }


def dead_letter_attributes(request_id: str, error_message: str) -> dict[str, dict[str, str]]:
    """Message attributes of a dead-letter message (SQS ``MessageAttributes`` shape).

    ``RequestID``, ``ErrorCode`` (the HTTP status of the invocation: 200 for a function error)
    and ``ErrorMessage`` (its first 1 KB).
    """
    message = error_message.encode("utf-8")[:DLQ_MESSAGE_BYTES].decode("utf-8", "ignore")
    return {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": message or "Unhandled"},
    }


@dataclass(frozen=True)
class Arn:
    """The parts of an ARN that decide where a record goes."""

    service: str
    region: str
    account_id: str
    resource: str

    @classmethod
    def parse(cls, arn: str) -> Arn:
        """Split ``arn:partition:service:region:account:resource``; ValueError when it is not."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {arn!r}")
        return cls(service=parts[2], region=parts[3], account_id=parts[4], resource=parts[5])
