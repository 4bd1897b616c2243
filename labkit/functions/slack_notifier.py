"""Post Amazon CloudWatch alarm notifications from Amazon SNS to a Slack channel.

How this works
--------------

    CloudWatch alarm --state change--> SNS topic --event--> this function --HTTPS POST--> Slack

1. ``lambda_handler`` receives an event holding one or more SNS records.
2. ``get_webhook_url`` finds the Slack incoming-webhook URL once per execution environment
   (Lambda reuses an environment for many invocations, so KMS is called once, not every time).
3. ``build_message`` turns each SNS message into a Slack message: a coloured attachment
   (red ALARM, green OK, grey INSUFFICIENT_DATA) holding Block Kit blocks, plus a plain ``text``
   that Slack shows in notifications.
4. ``post_to_slack`` sends it, retrying throttling (429), server errors (5xx) and network errors
   while the invocation still has time left.
5. Every record is tried. If any could not be delivered, the handler raises at the end, so that
   Lambda retries the invocation (and then uses its dead-letter queue) instead of losing the alarm.
   Records already delivered are not posted again on the retry.

Each record produces one JSON log line on stdout (CloudWatch Logs keeps it), for example::

    {"level": "INFO", "message": "notification", "message_id": "...", "alarm": "mission-cpu-alarm",
     "state": "ALARM", "outcome": "delivered", "attempts": 1, "ms": 143, "http_status": 200}

Environment variables (set them in the function's configuration)
----------------------------------------------------------------

Where the webhook URL comes from; the first one set wins, in this order:

``kmsEncryptedHookUrl``
    The URL (with or without ``https://``) encrypted with KMS, base64 as printed by
    ``aws kms encrypt ... --encryption-context LambdaFunctionName=<this function's name>``.
    The placeholder ``test`` counts as "not set yet".
``slackHookUrlParameter``
    Name of an SSM Parameter Store SecureString holding the URL.
``slackHookUrlSecret``
    Name or ARN of a Secrets Manager secret holding the URL (plain, or JSON ``{"url": "..."}``).
``slackHookUrl``
    The URL in clear text. For development only: anyone who can read the function's
    configuration can post to your channel, so it logs a warning.

How the message looks:

``slackChannel``
    Channel for legacy webhooks that honour an override, e.g. ``project`` or ``#project``
    (webhooks of Slack apps always post to the channel chosen when they were created).
``slackMention``
    Put in front of ALARM messages so people get notified, e.g. ``<!here>``, ``<!channel>``
    or ``<@U012ABCDEF>``.

Lambda itself sets ``AWS_LAMBDA_FUNCTION_NAME`` (used as the KMS encryption context) and
``AWS_REGION`` (used by boto3).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import os
import re
import ssl
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any

# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

KMS_VARIABLE = "kmsEncryptedHookUrl"
SSM_VARIABLE = "slackHookUrlParameter"
SECRET_VARIABLE = "slackHookUrlSecret"
PLAIN_VARIABLE = "slackHookUrl"
WEBHOOK_VARIABLES = (KMS_VARIABLE, SSM_VARIABLE, SECRET_VARIABLE, PLAIN_VARIABLE)
CHANNEL_VARIABLE = "slackChannel"
MENTION_VARIABLE = "slackMention"

# Values people leave in kmsEncryptedHookUrl before they have a ciphertext (the lab uses "test").
PLACEHOLDERS = {"test", "placeholder", "changeme", "change-me", "todo", "none", "null", "xxx"}
# A real KMS ciphertext carries a header, an IV and a tag besides the text: well over 32 bytes.
MIN_CIPHERTEXT_BYTES = 32

STATE_COLOURS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
OTHER_COLOUR = "#1f77b4"  # anything that is not an alarm state change
STATE_EMOJI = {"ALARM": "\U0001F534", "OK": "\u2705", "INSUFFICIENT_DATA": "\u26AA"}
OTHER_EMOJI = "\U0001F514"

# Slack's documented limits (Block Kit reference); longer text is cut and ends with "…".
MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_CHARS = 500  # the top-level text only feeds notifications: keep it short

HTTP_TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 4.0
# Kept back from the invocation's remaining time so that logging and raising still happen
# before Lambda stops the function.
TIME_RESERVE_SECONDS = 0.5
# An attempt given less time than this would only time out.
MIN_ATTEMPT_SECONDS = 0.25
# Time budget when there is no Lambda context (a notebook or a test calling the handler).
DEFAULT_BUDGET_SECONDS = 30.0
USER_AGENT = "cloudwatch-slack-notifier/1.0 (+python-urllib)"

# How many delivered SNS message ids one execution environment remembers. SNS may deliver a
# message more than once, and Lambda retries a whole invocation when one record failed; the
# ids let us skip what was already posted. Bounded, because an environment can live for hours.
REMEMBERED_IDS = 1000

# --------------------------------------------------------------------------------------------
# State kept between invocations of one execution environment
# --------------------------------------------------------------------------------------------

_webhook_cache: dict[tuple[str, str], str] = {}
_delivered_ids: OrderedDict[str, None] = OrderedDict()

# Only real ids (UUIDs) are remembered. The sample test event uses "xxxxxxxx-xxxx-...", and a
# learner pressing "Test" twice should see two messages.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class WebhookConfigError(Exception):
    """The webhook URL could not be obtained; the message says what to change."""


class DeliveryError(Exception):
    """At least one notification could not be delivered to Slack."""


@dataclass
class Notification:
    """One message to post: the SNS ``Message`` text and what SNS says about it."""

    message: str
    subject: str | None = None
    message_id: str | None = None
    topic_arn: str | None = None
    is_json: bool = field(init=False, default=False)
    body: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        try:
            self.body, self.is_json = json.loads(self.message), True
        except (TypeError, ValueError):
            self.body, self.is_json = None, False

    def alarm(self) -> dict[str, Any] | None:
        """The CloudWatch alarm notification in this message, or None if it is something else."""
        body = self.body
        if isinstance(body, dict) and "AlarmName" in body and "NewStateValue" in body:
            return body
        return None


@dataclass
class Delivery:
    """What happened when posting one message to Slack."""

    ok: bool
    attempts: int
    status: int | None = None
    slack_error: str | None = None  # Slack's error code, e.g. invalid_payload or no_service
    permanent: bool = False  # True when retrying cannot help (a 4xx other than 429)
    error: str | None = None


# --------------------------------------------------------------------------------------------
# The handler
# --------------------------------------------------------------------------------------------


def lambda_handler(event: Any, context: Any = None) -> dict[str, int]:
    """Post every notification in *event* to Slack (the function's entry point).

    Returns how many records were delivered, skipped as duplicates, or failed. Raises
    :class:`WebhookConfigError` when the webhook URL cannot be obtained, and
    :class:`DeliveryError` after all records were tried if any of them could not be delivered.
    """
    remaining_ms = remaining_time_function(context)
    notifications = list(read_notifications(event))
    counts = {"records": len(notifications), "delivered": 0, "duplicate": 0, "failed": 0}
    if not notifications:
        return counts

    try:
        webhook_url = get_webhook_url()
    except Exception as err:  # nothing can be delivered: say so for every record, then fail
        for notification in notifications:
            _log_notification(notification, "failed", attempts=0, started=time.monotonic(),
                              error=f"no webhook URL: {err}")
        raise

    channel = os.environ.get(CHANNEL_VARIABLE, "").strip() or None
    mention = os.environ.get(MENTION_VARIABLE, "").strip() or None
    for notification in notifications:
        try:
            outcome = process_notification(notification, webhook_url, remaining_ms,
                                           channel=channel, mention=mention)
        except Exception as err:  # one broken record must not stop the others
            _log_notification(notification, "failed", attempts=0, started=time.monotonic(),
                              error=_scrub(f"{type(err).__name__}: {err}", webhook_url))
            outcome = "failed"
        counts[outcome] += 1

    if counts["failed"]:
        raise DeliveryError(
            f"{counts['failed']} of {counts['records']} notification(s) could not be delivered "
            "to Slack (see the log lines above); Lambda will retry the invocation, and records "
            "already delivered will not be posted twice."
        )
    return counts


def process_notification(notification: Notification, webhook_url: str,
                         remaining_ms: Callable[[], float], *, channel: str | None = None,
                         mention: str | None = None) -> str:
    """Format and post one notification; return "delivered", "duplicate" or "failed"."""
    started = time.monotonic()
    message_id = notification.message_id
    if message_id and message_id in _delivered_ids:
        _log_notification(notification, "duplicate", attempts=0, started=started)
        return "duplicate"

    try:
        payload = build_message(notification, channel=channel, mention=mention)
    except Exception as err:  # a formatting bug must not lose the alarm: send the raw text
        log("WARNING", "formatting failed, sending the message as plain text",
            message_id=message_id, error=f"{type(err).__name__}: {err}")
        payload = plain_message(notification, channel=channel)

    delivery = post_to_slack(webhook_url, payload, remaining_ms)
    if delivery.ok:
        _remember_delivered(message_id)
        _log_notification(notification, "delivered", attempts=delivery.attempts,
                          started=started, http_status=delivery.status)
        return "delivered"

    _log_notification(notification, "failed", attempts=delivery.attempts, started=started,
                      http_status=delivery.status, slack_error=delivery.slack_error,
                      permanent=delivery.permanent, webhook=mask_url(webhook_url),
                      error=_scrub(delivery.error or "", webhook_url))
    return "failed"


def read_notifications(event: Any) -> Iterator[Notification]:
    """Yield one :class:`Notification` per record of an SNS event.

    SQS records (an SNS topic feeding a queue) are unwrapped too. An event without ``Records``
    (a direct test invoke, an EventBridge rule) becomes a single notification.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        event_id = event.get("id") if isinstance(event, dict) else None
        yield Notification(_as_text(event), message_id=_text_or_none(event_id))
        return
    for record in records:
        yield _notification_from_record(record)


def _notification_from_record(record: Any) -> Notification:
    if isinstance(record, dict) and isinstance(record.get("Sns"), dict):
        sns = record["Sns"]
        return Notification(_as_text(sns.get("Message")), subject=_text_or_none(sns.get("Subject")),
                            message_id=_text_or_none(sns.get("MessageId")),
                            topic_arn=_text_or_none(sns.get("TopicArn")))
    if isinstance(record, dict) and "body" in record:
        body = record["body"]
        try:
            envelope = json.loads(body)
        except (TypeError, ValueError):
            envelope = None
        if isinstance(envelope, dict) and "Message" in envelope and "TopicArn" in envelope:
            return Notification(_as_text(envelope["Message"]),
                                subject=_text_or_none(envelope.get("Subject")),
                                message_id=_text_or_none(envelope.get("MessageId")),
                                topic_arn=_text_or_none(envelope.get("TopicArn")))
        return Notification(_as_text(body), message_id=_text_or_none(record.get("messageId")))
    return Notification(_as_text(record))


def remaining_time_function(context: Any) -> Callable[[], float]:
    """Return a function giving the milliseconds left in this invocation."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return context.get_remaining_time_in_millis
    deadline = time.monotonic() + DEFAULT_BUDGET_SECONDS
    return lambda: max(0.0, (deadline - time.monotonic()) * 1000)


def _remember_delivered(message_id: str | None) -> None:
    if not message_id or not _UUID.fullmatch(message_id):
        return
    _delivered_ids[message_id] = None
    while len(_delivered_ids) > REMEMBERED_IDS:
        _delivered_ids.popitem(last=False)  # forget the oldest


# --------------------------------------------------------------------------------------------
# The webhook URL
# --------------------------------------------------------------------------------------------


def get_webhook_url() -> str:
    """Return the Slack webhook URL from the configured source, cached per execution environment.

    Failures are not cached: after the learner fixes a policy, the next invocation tries again.
    """
    source, value = _chosen_webhook_source()
    key = (source, value)
    if key not in _webhook_cache:
        readers = {KMS_VARIABLE: decrypt_with_kms, SSM_VARIABLE: read_ssm_parameter,
                   SECRET_VARIABLE: read_secret, PLAIN_VARIABLE: _read_plain_url}
        _webhook_cache[key] = normalise_webhook_url(readers[source](value), source)
    return _webhook_cache[key]


def _chosen_webhook_source() -> tuple[str, str]:
    configured = [(name, os.environ.get(name, "").strip()) for name in WEBHOOK_VARIABLES]
    configured = [(name, value) for name, value in configured if value]
    usable = [(name, value) for name, value in configured
              if not (name == KMS_VARIABLE and value.lower() in PLACEHOLDERS)]
    if not usable:
        if configured:  # only a placeholder in kmsEncryptedHookUrl
            raise WebhookConfigError(
                f"{KMS_VARIABLE} still holds the placeholder {configured[0][1]!r}, not a KMS "
                "ciphertext. Encrypt the webhook URL and put the CiphertextBlob in "
                f"{KMS_VARIABLE}: {_encrypt_command()}"
            )
        raise WebhookConfigError(
            "No Slack webhook URL is configured. Set one of these environment variables: "
            f"{KMS_VARIABLE} (KMS ciphertext), {SSM_VARIABLE} (SSM SecureString name), "
            f"{SECRET_VARIABLE} (Secrets Manager secret name) or {PLAIN_VARIABLE} (development)."
        )
    if len(usable) > 1:
        log("WARNING", "several webhook sources are set; using the first",
            using=usable[0][0], ignored=[name for name, _ in usable[1:]])
    return usable[0]


def _encrypt_command() -> str:
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "<function name>"
    return ("aws kms encrypt --key-id alias/<your key> "
            "--plaintext fileb://<(echo -n 'hooks.slack.com/services/T…/B…/…') "
            f"--encryption-context LambdaFunctionName={function_name} "
            "--query CiphertextBlob --output text")


def decrypt_with_kms(ciphertext: str) -> str:
    """Decrypt ``kmsEncryptedHookUrl`` with the function's name as encryption context.

    The context binds the ciphertext to this function: another function (or a person with the
    ciphertext and kms:Decrypt, but not the name) cannot decrypt it by accident.
    """
    if _looks_like_url(ciphertext):
        raise WebhookConfigError(
            f"{KMS_VARIABLE} holds a webhook URL in clear text, not a KMS ciphertext. Encrypt it "
            f"and put the CiphertextBlob there instead: {_encrypt_command()}"
        )
    try:
        blob = base64.b64decode("".join(ciphertext.split()), validate=True)
    except ValueError:
        blob = b""
    if len(blob) < MIN_CIPHERTEXT_BYTES:
        raise WebhookConfigError(
            f"{KMS_VARIABLE} is not a KMS ciphertext (expected the base64 CiphertextBlob printed "
            f"by aws kms encrypt). Create it with: {_encrypt_command()}"
        )
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not function_name:
        raise WebhookConfigError(
            "AWS_LAMBDA_FUNCTION_NAME is not set, so the KMS encryption context cannot be built. "
            "Lambda sets it; when running the handler yourself, set it to the function's name."
        )
    try:
        response = _aws_client("kms").decrypt(
            CiphertextBlob=blob, EncryptionContext={"LambdaFunctionName": function_name})
    except Exception as err:
        if not _error_code(err):
            raise  # not an answer from KMS (e.g. no network): let Lambda retry
        raise WebhookConfigError(explain_kms_error(err, function_name, blob)) from err
    return response["Plaintext"].decode("utf-8")


def explain_kms_error(err: Exception, function_name: str, blob: bytes = b"") -> str:
    """Turn a KMS ``Decrypt`` error into a message that says what to do."""
    code, aws_message = _error_code(err), _error_message(err)
    if code == "InvalidCiphertextException":
        return (
            f"KMS could not decrypt {KMS_VARIABLE} with the encryption context "
            f"LambdaFunctionName={function_name} (InvalidCiphertextException). The ciphertext was "
            "most likely made without that context, or for another function name. Re-encrypt "
            f"the webhook URL with --encryption-context LambdaFunctionName={function_name} and "
            f"put the new CiphertextBlob in {KMS_VARIABLE}: {_encrypt_command()}"
        )
    key = _kms_key_hint(aws_message, blob)
    if code in ("AccessDeniedException", "AccessDenied"):
        return (
            f"The function's execution role may not use {key} (AccessDeniedException). Attach a "
            f"policy allowing the action kms:Decrypt on {key} to the role (the lab's policy is "
            f"called AwsLambdaKmsExcutionPolicy), then invoke again. KMS said: {aws_message}"
        )
    if code in ("DisabledException", "KMSInvalidStateException"):
        return (
            f"{key} cannot be used right now ({code}): it is disabled or pending deletion. "
            f"Enable it (or cancel its deletion), or encrypt with another key. KMS said: "
            f"{aws_message}"
        )
    if code == "NotFoundException":
        return (f"{key} does not exist in this account and region ({code}); encrypt the URL "
                f"again with a key that does. KMS said: {aws_message}")
    return f"KMS could not decrypt {KMS_VARIABLE} ({code}): {aws_message}"


def _kms_key_hint(aws_message: str, blob: bytes) -> str:
    # AWS names the key in most denials; the ciphertext blob also carries the key's id.
    for text in (aws_message, blob.decode("latin-1")):
        match = re.search(r"arn:aws[\w-]*:kms:[\w-]+:\d{12}:key/[\w-]+", text)
        if match:
            return f"the KMS key {match.group(0)}"
    match = _UUID.search(blob.decode("latin-1"))
    if match:
        return f"the KMS key {match.group(0)}"
    return f"the KMS key that encrypted {KMS_VARIABLE}"


def read_ssm_parameter(name: str) -> str:
    """Read the webhook URL from an SSM Parameter Store (SecureString) parameter."""
    try:
        response = _aws_client("ssm").get_parameter(Name=name, WithDecryption=True)
    except Exception as err:
        code, aws_message = _error_code(err), _error_message(err)
        if not code:
            raise
        if code == "ParameterNotFound":
            message = (f"The SSM parameter {name!r} named by {SSM_VARIABLE} does not exist in "
                       "this region. Create it: aws ssm put-parameter --type SecureString "
                       f"--name {name} --value <webhook URL>")
        elif "AccessDenied" in code:
            message = (f"The function's execution role may not read the SSM parameter {name!r}: "
                       "allow ssm:GetParameter on it (and kms:Decrypt on its key if it uses a "
                       f"customer managed key). AWS said: {aws_message}")
        else:
            message = f"Reading the SSM parameter {name!r} failed ({code}): {aws_message}"
        raise WebhookConfigError(message) from err
    return response["Parameter"]["Value"]


def read_secret(secret_id: str) -> str:
    """Read the webhook URL from a Secrets Manager secret (plain text or a small JSON object)."""
    try:
        response = _aws_client("secretsmanager").get_secret_value(SecretId=secret_id)
    except Exception as err:
        code, aws_message = _error_code(err), _error_message(err)
        if not code:
            raise
        if code == "ResourceNotFoundException":
            message = (f"The secret {secret_id!r} named by {SECRET_VARIABLE} does not exist in "
                       "this region. Create it: aws secretsmanager create-secret "
                       f"--name {secret_id} --secret-string <webhook URL>")
        elif "AccessDenied" in code:
            message = (f"The function's execution role may not read the secret {secret_id!r}: "
                       "allow secretsmanager:GetSecretValue on it (and kms:Decrypt on its key if "
                       f"it uses a customer managed key). AWS said: {aws_message}")
        else:
            message = f"Reading the secret {secret_id!r} failed ({code}): {aws_message}"
        raise WebhookConfigError(message) from err
    text = response.get("SecretString")
    if not text:
        raise WebhookConfigError(f"The secret {secret_id!r} has no SecretString; store the "
                                 "webhook URL as text.")
    return _url_from_secret_text(text, secret_id)


def _url_from_secret_text(text: str, secret_id: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text  # the secret is the URL itself
    if isinstance(value, dict):
        for key in ("slackHookUrl", "webhookUrl", "webhook_url", "url", "hookUrl"):
            if isinstance(value.get(key), str):
                return value[key]
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
    raise WebhookConfigError(
        f"The secret {secret_id!r} is JSON but holds no webhook URL: store the URL as plain "
        'text, or as {"url": "<webhook URL>"}.'
    )


def _read_plain_url(value: str) -> str:
    log("WARNING", f"using {PLAIN_VARIABLE} from the environment in clear text; for anything "
        f"but development, use {KMS_VARIABLE}, {SSM_VARIABLE} or {SECRET_VARIABLE}",
        webhook=mask_url(normalise_webhook_url(value, PLAIN_VARIABLE)))
    return value


def normalise_webhook_url(value: str, source: str = "the webhook source") -> str:
    """Return *value* as a full URL: ``https://`` is added only when no scheme is present.

    The lab encrypts ``hooks.slack.com/services/...`` without the scheme, while people who
    store the URL elsewhere usually keep it; both must work, and ``https://https://`` never.
    """
    url = value.strip()
    if not re.match(r"https?://", url, re.IGNORECASE):
        url = "https://" + url.lstrip("/")
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or any(ch.isspace() for ch in url):
        raise WebhookConfigError(
            f"The value from {source} is not a webhook URL (expected "
            "hooks.slack.com/services/T…/B…/…, with or without https://)."
        )
    return url


def _looks_like_url(value: str) -> bool:
    # Base64 never contains "." or ":", and a webhook URL always does.
    return "." in value or ":" in value


def _aws_client(service: str) -> Any:
    # boto3 is imported here rather than at the top: a function configured with a plain URL
    # never needs it, and importing it takes longer than loading all the rest of this module.
    import boto3

    return boto3.client(service)


def _error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for any other exception)."""
    return _aws_error(err)[0]


def _error_message(err: Exception) -> str:
    return _aws_error(err)[1] or "(no message)"


def _aws_error(err: Exception) -> tuple[str, str]:
    response = getattr(err, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
    # Some AWS emulators answer a JSON API's errors in XML; botocore then reports the HTTP
    # status as the code and the whole XML document as the message.
    inner_code = re.search(r"<Code>([^<]+)</Code>", message)
    if inner_code:
        inner_message = re.search(r"<Message>([^<]*)</Message>", message)
        code, message = inner_code.group(1), inner_message.group(1) if inner_message else ""
    return code, message


# --------------------------------------------------------------------------------------------
# Building the Slack message (pure functions: no I/O)
# --------------------------------------------------------------------------------------------


def build_message(notification: Notification, *, channel: str | None = None,
                  mention: str | None = None) -> dict[str, Any]:
    """Return the Slack webhook payload for one notification.

    CloudWatch metric, metric-math and composite alarms get a full message; anything else
    (plain text, other JSON such as EventBridge events, broken JSON) a readable fallback.
    """
    alarm = notification.alarm()
    if alarm is not None:
        payload = alarm_message(alarm, notification, mention=mention)
    else:
        payload = other_message(notification)
    if channel:
        payload["channel"] = channel_for_webhook(channel)
    return payload


def alarm_message(alarm: dict[str, Any], notification: Notification | None = None, *,
                  mention: str | None = None) -> dict[str, Any]:
    """The Slack message for a CloudWatch alarm state change (metric, metric math or composite)."""
    notification = notification or Notification("")
    name = _text(alarm.get("AlarmName")) or "(unnamed alarm)"
    state = _text(alarm.get("NewStateValue")) or "UNKNOWN"
    old_state = _text(alarm.get("OldStateValue"))
    reason = _text(alarm.get("NewStateReason"))
    description = _text(alarm.get("AlarmDescription"))
    alarm_arn = _text(alarm.get("AlarmArn"))
    region = alarm_region(alarm, notification.topic_arn)
    where = region_label(region, _text(alarm.get("Region")))
    account = _text(alarm.get("AWSAccountId")) or _arn_part(alarm_arn, 4)
    emoji = STATE_EMOJI.get(state, OTHER_EMOJI)

    fields = [f"*State*\n{escape(old_state)} → *{escape(state)}*" if old_state
              else f"*State*\n*{escape(state)}*",
              f"*Region*\n{escape(where)}"]
    if account:
        fields.append(f"*Account*\n{escape(account)}")
    if alarm.get("StateChangeTime"):
        fields.append(f"*Time*\n{escape(format_time(_text(alarm['StateChangeTime'])))}")

    blocks: list[dict[str, Any]] = [header_block(f"{emoji} {state}: {name}")]
    if reason:
        blocks.append(section_block(escape(reason)))
    blocks.append(fields_block(fields))
    if "AlarmRule" in alarm:
        blocks.extend(composite_blocks(alarm))
    elif isinstance(alarm.get("Trigger"), dict):
        blocks.extend(trigger_blocks(alarm["Trigger"]))
    if description:
        blocks.append(section_block(f"*Description*\n{escape(description)}"))
    link = console_link(region, name, _arn_part(alarm_arn, 1)) if region else None
    if link:
        blocks.append(section_block(f"<{link}|Open the alarm in the CloudWatch console>"))
    blocks.append(context_block(_origin_notes(notification)))

    text = f"{emoji} {state}: {name} in {where}" + (f" — {reason}" if reason else "")
    payload = _payload(truncate(escape(text), MAX_FALLBACK_CHARS),
                       STATE_COLOURS.get(state, OTHER_COLOUR), blocks)
    if mention and state == "ALARM":
        # In the top-level text: that is the text Slack puts in the notification.
        payload["text"] = f"{mention_markup(mention)} {payload['text']}"
    return payload


def trigger_blocks(trigger: dict[str, Any]) -> list[dict[str, Any]]:
    """Blocks describing a metric alarm's trigger: the condition, then its metric(s)."""
    blocks = [section_block(f"*Trigger*\n{escape(trigger_in_words(trigger))}")]
    metrics = trigger.get("Metrics")
    if isinstance(metrics, list) and metrics:
        lines = [f"• {escape(describe_metric_query(query))}" for query in metrics
                 if isinstance(query, dict)]
        blocks.append(section_block("*Metrics*\n" + "\n".join(lines)))
    else:
        metric = " › ".join(_text(trigger.get(key)) for key in ("Namespace", "MetricName")
                            if trigger.get(key))
        details = [f"*Metric*\n{escape(metric)}"] if metric else []
        dimensions = format_dimensions(trigger.get("Dimensions"))
        if dimensions:
            details.append(f"*Dimensions*\n{escape(dimensions)}")
        if details:
            blocks.append(section_block("\n".join(details)))
    return blocks


def composite_blocks(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Blocks for a composite alarm: its rule and the child alarms that triggered it."""
    blocks = [section_block(code_text("*Rule*", _text(alarm.get("AlarmRule"))))]
    children = alarm.get("TriggeringChildren")
    if isinstance(children, list) and children:
        lines = []
        for child in children:
            child = child if isinstance(child, dict) else {}
            state = child.get("State") if isinstance(child.get("State"), dict) else {}
            child_name = alarm_name_from_arn(_text(child.get("Arn"))) or "(unknown alarm)"
            line = f"• {child_name} → {_text(state.get('Value')) or '?'}"
            if state.get("Timestamp"):
                line += f" at {format_time(_text(state['Timestamp']))}"
            lines.append(escape(line))
        blocks.append(section_block("*Triggered by*\n" + "\n".join(lines)))
    return blocks


COMPARISONS = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
    # anomaly-detection alarms compare with a band instead of a number
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}
BAND_OPERATORS = {"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold",
                  "GreaterThanUpperThreshold"}
STATISTICS = {"AVERAGE": "Average", "SUM": "Sum", "SAMPLE_COUNT": "SampleCount",
              "MINIMUM": "Minimum", "MAXIMUM": "Maximum"}


def trigger_in_words(trigger: dict[str, Any]) -> str:
    """Describe an alarm's condition in words, as the CloudWatch console does.

    For example "CPUUtilization Average ≥ 50 for 1 of 1 datapoints of 60 s": the alarm goes
    to ALARM when 1 of the last 1 one-minute averages is at least 50.
    """
    operator = _text(trigger.get("ComparisonOperator"))
    words = COMPARISONS.get(operator, operator or "compared with")
    if operator in BAND_OPERATORS:
        limit = _text(trigger.get("ThresholdMetricId"))  # the id of the band's expression
    else:
        unit = _text(trigger.get("Unit"))
        limit = format_number(trigger.get("Threshold"))
        limit += f" {unit}" if unit and unit != "None" else ""
    condition = f"{_compared_value(trigger)} {words} {limit}".strip()

    evaluation = trigger.get("EvaluationPeriods")
    datapoints = trigger.get("DatapointsToAlarm") or evaluation
    period = trigger.get("Period") or _first_period(trigger.get("Metrics"))
    if evaluation:
        condition += f" for {datapoints} of {evaluation} datapoints"
        if period:
            condition += f" of {period} s"
    elif period:
        condition += f" over {period} s"
    return condition


def _compared_value(trigger: dict[str, Any]) -> str:
    metrics = trigger.get("Metrics")
    if isinstance(metrics, list) and metrics:
        queries = [q for q in metrics if isinstance(q, dict)]
        band_id = trigger.get("ThresholdMetricId")
        # The alarm watches the query that returns data (not the anomaly band, if any).
        returned = [q for q in queries
                    if _is_true(q.get("ReturnData", True)) and q.get("Id") != band_id]
        query = (returned or queries or [{}])[0]
        return _query_name(query)
    name = _text(trigger.get("MetricName")) or "the metric"
    return f"{name} {statistic_name(trigger)}".strip()


def _query_name(query: dict[str, Any]) -> str:
    expression, label = _text(query.get("Expression")), _text(query.get("Label"))
    if expression:
        return f"{label} ({expression})" if label else expression
    stat = query.get("MetricStat") if isinstance(query.get("MetricStat"), dict) else {}
    metric = stat.get("Metric") if isinstance(stat.get("Metric"), dict) else {}
    name = _text(metric.get("MetricName")) or label or _text(query.get("Id")) or "the metric"
    return f"{name} {_text(stat.get('Stat'))}".strip()


def describe_metric_query(query: dict[str, Any]) -> str:
    """One line per metric-math query.

    For example "m1 = AWS/EC2 › CPUUtilization Average, 60 s (InstanceId=i-1)" or
    "e1 = 100 * m2 / m1 “Error rate”".
    """
    query_id = _text(query.get("Id")) or "?"
    label = _text(query.get("Label"))
    if query.get("Expression"):
        line = f"{query_id} = {_text(query['Expression'])}"
    else:
        stat = query.get("MetricStat") if isinstance(query.get("MetricStat"), dict) else {}
        metric = stat.get("Metric") if isinstance(stat.get("Metric"), dict) else {}
        what = " › ".join(_text(metric.get(key)) for key in ("Namespace", "MetricName")
                          if metric.get(key))
        line = f"{query_id} = {what or 'metric'} {_text(stat.get('Stat'))}".rstrip()
        if stat.get("Period"):
            line += f", {stat['Period']} s"
        dimensions = format_dimensions(metric.get("Dimensions"), separator=", ")
        if dimensions:
            line += f" ({dimensions})"
    if label:
        line += f" “{label}”"
    return line


def statistic_name(trigger: dict[str, Any]) -> str:
    """The statistic as the console names it: "Average", "SampleCount", or a percentile ("p99")."""
    extended = _text(trigger.get("ExtendedStatistic"))
    if extended:
        return extended
    statistic = _text(trigger.get("Statistic"))
    return STATISTICS.get(statistic.upper(), statistic)


def format_dimensions(dimensions: Any, separator: str = "\n") -> str:
    """``[{"name": "InstanceId", "value": "i-1"}]`` -> ``"InstanceId = i-1"`` (one per line)."""
    if not isinstance(dimensions, list):
        return ""
    pairs = []
    for dim in dimensions:
        if isinstance(dim, dict):
            # Alarm notifications use lower-case keys; the CloudWatch API uses Name/Value.
            name = _text(dim.get("name", dim.get("Name")))
            value = _text(dim.get("value", dim.get("Value")))
            pairs.append(f"{name}={value}" if separator != "\n" else f"{name} = {value}")
    return separator.join(pairs)


def format_number(value: Any) -> str:
    """50.0 -> "50", 0.25 -> "0.25", None -> "?"."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def format_time(value: str) -> str:
    """``2017-01-12T16:30:42.236+0000`` -> ``2017-01-12 16:30:42 UTC`` (unparseable: unchanged)."""
    # CloudWatch writes "+0000", which datetime.fromisoformat() only accepts from Python 3.11.
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%fZ",
                    "%Y-%m-%dT%H:%M:%SZ"):
        try:
            moment = datetime.strptime(value, pattern)
        except (TypeError, ValueError):
            continue
        if moment.tzinfo is None:  # the patterns ending in a literal Z
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value


def other_message(notification: Notification) -> dict[str, Any]:
    """A readable message for anything that is not a CloudWatch alarm notification."""
    body, text = notification.body, notification.message
    is_eventbridge = isinstance(body, dict) and "detail-type" in body and "source" in body
    if notification.is_json and is_eventbridge:
        title = f"EventBridge: {_text(body['detail-type'])}"
        facts = [f"*{key}*: {escape(_text(body[key]))}"
                 for key in ("source", "account", "region", "time") if body.get(key)]
        detail = body.get("detail", body)
        blocks = [header_block(f"{OTHER_EMOJI} {title}")]
        if facts:
            blocks.append(section_block("\n".join(facts)))
        blocks.append(section_block(code_text("*Detail*", _pretty_json(detail))))
        summary = title
    elif notification.is_json:
        title = notification.subject or "JSON message"
        blocks = [header_block(f"{OTHER_EMOJI} {title}"),
                  section_block(code_text("", _pretty_json(body)))]
        summary = title
    elif text.lstrip().startswith(("{", "[")):
        title = notification.subject or "Message (not valid JSON)"
        blocks = [header_block(f"{OTHER_EMOJI} {title}"), section_block(code_text("", text))]
        summary = title
    else:
        title = notification.subject or "Message"
        blocks = [header_block(f"{OTHER_EMOJI} {title}"),
                  section_block(escape(text) if text.strip() else "_(empty message)_")]
        first_line = text.strip().splitlines()[0] if text.strip() else "(empty message)"
        summary = f"{title}: {first_line}" if notification.subject else first_line
    blocks.append(context_block(_origin_notes(notification)))
    return _payload(truncate(escape(summary), MAX_FALLBACK_CHARS), OTHER_COLOUR, blocks)


def plain_message(notification: Notification, *, channel: str | None = None) -> dict[str, Any]:
    """The simplest possible message: the raw text. Used when formatting itself failed."""
    text = truncate(escape(notification.message or "(empty message)"), MAX_SECTION_CHARS)
    payload: dict[str, Any] = {"text": text}
    if channel:
        payload["channel"] = channel_for_webhook(channel)
    return payload


def _payload(text: str, colour: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    # The colour bar only exists on (legacy) attachments, so the blocks go inside one; the
    # top-level text is what notifications and old clients show.
    blocks = [block for block in blocks if block is not None]
    if len(blocks) > MAX_BLOCKS:
        cut_note = context_block(["(more details cut: Slack's block limit)"])
        blocks = blocks[: MAX_BLOCKS - 1] + [cut_note]
    return {"text": text, "attachments": [{"color": colour, "fallback": text, "blocks": blocks}]}


def _origin_notes(notification: Notification) -> list[str]:
    notes = []
    if notification.topic_arn:
        topic = _arn_part(notification.topic_arn, 5) or notification.topic_arn
        notes.append(f"SNS topic {escape(topic)}")
    if notification.message_id:
        notes.append(f"message {escape(notification.message_id)}")
    return notes or ["sent by the CloudWatch → Slack notifier"]


# Block Kit building blocks; each one respects Slack's size limits.

def header_block(text: str) -> dict[str, Any]:
    """A header block (plain text, so nothing to escape), cut to Slack's 150 characters."""
    return {"type": "header",
            "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_CHARS), "emoji": True}}


def section_block(mrkdwn: str) -> dict[str, Any]:
    """A section with already-escaped mrkdwn text, cut to Slack's 3000 characters."""
    return {"type": "section",
            "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_CHARS)}}


def fields_block(fields: list[str]) -> dict[str, Any]:
    """A section laid out as a two-column grid of short mrkdwn fields."""
    return {"type": "section",
            "fields": [{"type": "mrkdwn", "text": truncate(text, MAX_FIELD_CHARS)}
                       for text in fields[:MAX_FIELDS]]}


def context_block(notes: list[str]) -> dict[str, Any]:
    """Small grey text at the bottom of the message."""
    return {"type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(n, MAX_FIELD_CHARS)}
                         for n in notes[:MAX_CONTEXT_ELEMENTS]]}


def code_text(label: str, raw: str, limit: int = MAX_SECTION_CHARS) -> str:
    """*raw* escaped inside a ``` block (after an optional label), fence kept when cut."""
    head = f"{label}\n```\n" if label else "```\n"
    tail = "\n```"
    return head + truncate(escape(raw), limit - len(head) - len(tail)) + tail


def escape(text: str) -> str:
    """Escape Slack's control characters, so user text cannot form links or @-mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut *text* to at most *limit* characters, ending with "…"; never halves an ``&amp;``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def mention_markup(mention: str) -> str:
    """``here`` -> ``<!here>``; anything already in Slack syntax is kept as it is."""
    if mention.lower() in ("here", "channel", "everyone"):
        return f"<!{mention.lower()}>"
    return mention


def channel_for_webhook(channel: str) -> str:
    """``project`` -> ``#project``; ``#project``, ``@user`` and ids like ``C0123ABCD`` unchanged."""
    channel = channel.strip()
    if channel.startswith(("#", "@")) or re.fullmatch(r"[CGD][A-Z0-9]{8,}", channel):
        return channel
    return f"#{channel}"


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


# --------------------------------------------------------------------------------------------
# Regions and console links
# --------------------------------------------------------------------------------------------

# The alarm's "Region" is a display name ("Asia Pacific (Seoul)", or in old messages
# "EU - Ireland"); this maps the place in it to the region code when there is no AlarmArn.
REGION_BY_PLACE = {
    "n virginia": "us-east-1", "ohio": "us-east-2", "n california": "us-west-1",
    "oregon": "us-west-2", "canada central": "ca-central-1", "calgary": "ca-west-1",
    "mexico central": "mx-central-1", "sao paulo": "sa-east-1", "ireland": "eu-west-1",
    "london": "eu-west-2", "paris": "eu-west-3", "frankfurt": "eu-central-1",
    "zurich": "eu-central-2", "stockholm": "eu-north-1", "milan": "eu-south-1",
    "spain": "eu-south-2", "cape town": "af-south-1", "bahrain": "me-south-1",
    "uae": "me-central-1", "tel aviv": "il-central-1", "tokyo": "ap-northeast-1",
    "seoul": "ap-northeast-2", "osaka": "ap-northeast-3", "singapore": "ap-southeast-1",
    "sydney": "ap-southeast-2", "jakarta": "ap-southeast-3", "melbourne": "ap-southeast-4",
    "malaysia": "ap-southeast-5", "new zealand": "ap-southeast-6", "thailand": "ap-southeast-7",
    "hong kong": "ap-east-1", "taipei": "ap-east-2", "mumbai": "ap-south-1",
    "hyderabad": "ap-south-2", "beijing": "cn-north-1", "ningxia": "cn-northwest-1",
    "us west": "us-gov-west-1", "us east": "us-gov-east-1",  # AWS GovCloud (US-West/US-East)
}
CONSOLE_HOSTS = {"aws": "{region}.console.aws.amazon.com", "aws-cn": "console.amazonaws.cn",
                 "aws-us-gov": "console.amazonaws-us-gov.com"}
_REGION_CODE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def alarm_region(alarm: dict[str, Any], topic_arn: str | None = None) -> str | None:
    """The alarm's region code: from AlarmArn, else the display name, else the SNS topic's ARN."""
    return (region_from_arn(_text(alarm.get("AlarmArn")))
            or region_from_display_name(_text(alarm.get("Region")))
            or region_from_arn(topic_arn or ""))


def region_from_arn(arn: str) -> str | None:
    """``arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:x`` -> ``ap-northeast-2``."""
    region = _arn_part(arn, 3)
    return region if _REGION_CODE.fullmatch(region) else None


def region_from_display_name(name: str) -> str | None:
    """``Asia Pacific (Seoul)`` or ``EU - Ireland`` -> the region code, or None if unknown."""
    if not name:
        return None
    if _REGION_CODE.fullmatch(name.strip()):
        return name.strip()
    inside = re.search(r"\(([^)]*)\)", name)
    place = inside.group(1) if inside else name.rsplit(" - ", 1)[-1]
    place = unicodedata.normalize("NFKD", place).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", " ", place.lower()).strip()
    if key == "central":  # "Canada (Central)", "Mexico (Central)"
        key = f"{name.split()[0].lower()} central"
    return REGION_BY_PLACE.get(key)


def region_label(code: str | None, display_name: str) -> str:
    """``ap-northeast-2 (Asia Pacific (Seoul))``, or whichever of the two is known."""
    if code and display_name and display_name != code:
        return f"{code} ({display_name})"
    return code or display_name or "unknown region"


def console_link(region: str, alarm_name: str, partition: str = "") -> str:
    """The CloudWatch console page of an alarm.

    The name is percent-encoded as a whole, so "/", spaces, "#" and non-ASCII names survive.
    """
    if not partition:
        partition = "aws-cn" if region.startswith("cn-") else (
            "aws-us-gov" if region.startswith("us-gov-") else "aws")
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"]).format(region=region)
    return (f"https://{host}/cloudwatch/home?region={urllib.parse.quote(region, safe='')}"
            f"#alarmsV2:alarm/{urllib.parse.quote(alarm_name, safe='')}")


def alarm_name_from_arn(arn: str) -> str:
    """``arn:aws:cloudwatch:us-east-1:123456789012:alarm:my/alarm`` -> ``my/alarm``."""
    resource = _arn_part(arn, 5)  # alarm names may themselves contain ":"
    if resource.startswith("alarm:"):
        return resource.split(":", 1)[1]
    return resource or arn


def _arn_part(arn: str, index: int) -> str:
    parts = arn.split(":", 5) if arn.startswith("arn:") else []
    return parts[index] if len(parts) > index else ""


# --------------------------------------------------------------------------------------------
# Delivery to Slack
# --------------------------------------------------------------------------------------------


def post_to_slack(url: str, payload: dict[str, Any],
                  remaining_ms: Callable[[], float] | None = None, *,
                  timeout: float = HTTP_TIMEOUT_SECONDS, max_attempts: int = MAX_ATTEMPTS,
                  sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST *payload* as JSON to the webhook; retry what can succeed later, within the time left.

    Retried: 429 (waiting as long as Slack's Retry-After asks), 5xx, timeouts and network
    errors, with exponential backoff. Not retried: any other 4xx, which means the request or
    the webhook itself is wrong (Slack's answer, e.g. ``invalid_payload``, is returned).
    """
    remaining_ms = remaining_ms or remaining_time_function(None)
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    attempts, status, last_error = 0, None, "no attempt made"
    while True:
        seconds_left = remaining_ms() / 1000 - TIME_RESERVE_SECONDS
        if seconds_left < MIN_ATTEMPT_SECONDS:
            return Delivery(False, attempts, status,
                            error=f"no time left in this invocation ({last_error})")
        attempts += 1
        retry_after = None
        try:
            status = _post_once(url, data, min(timeout, seconds_left))
            return Delivery(True, attempts, status)
        except urllib.error.HTTPError as err:
            status, answer = err.code, _read_answer(err)
            if not is_retryable_status(status):
                return Delivery(False, attempts, status, slack_error=answer or None, permanent=True,
                                error=f"Slack answered HTTP {status} {answer}".strip())
            retry_after = parse_retry_after(err.headers.get("Retry-After") if err.headers else None)
            last_error = f"HTTP {status} {answer}".strip()
        except (OSError, HTTPException) as err:  # URLError, timeouts, refused/reset connections
            status = None
            if _is_certificate_error(err):
                return Delivery(False, attempts, permanent=True, error=(
                    f"the webhook's TLS certificate is not trusted ({err}); if a private CA "
                    "signs it, point SSL_CERT_FILE at that CA"))
            last_error = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        if attempts >= max_attempts:
            return Delivery(False, attempts, status,
                            error=f"gave up after {attempts} attempts: {last_error}")
        delay = retry_delay(attempts, retry_after)
        if delay + MIN_ATTEMPT_SECONDS > remaining_ms() / 1000 - TIME_RESERVE_SECONDS:
            return Delivery(False, attempts, status, error=(
                f"{last_error}; not enough time left in this invocation to wait {delay:g} s "
                "and retry"))
        sleep(delay)


def _post_once(url: str, data: bytes, timeout: float) -> int:
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout, context=_tls_context()) as response:
        response.read()
        return response.status


@functools.cache  # once per execution environment: loading the CA bundle takes milliseconds
def _tls_context() -> ssl.SSLContext:
    # Python's default context: it verifies certificates and reads SSL_CERT_FILE, which is how
    # a private CA (like the local test cloud's) is trusted.
    return ssl.create_default_context()


def _read_answer(err: urllib.error.HTTPError) -> str:
    try:
        return err.read(300).decode("utf-8", "replace").strip()
    except Exception:  # the body is only for the log; never fail because of it
        return ""


def _is_certificate_error(err: BaseException) -> bool:
    reason = getattr(err, "reason", None)
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in (err, reason))


def is_retryable_status(status: int) -> bool:
    """429 (rate limited) and 5xx (Slack's trouble) may succeed later; other codes will not."""
    return status == 429 or 500 <= status <= 599


def retry_delay(attempt: int, retry_after: float | None = None, *,
                base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds to wait after failed attempt number *attempt* (1, 2, …).

    Slack's Retry-After wins when given; otherwise 0.5, 1, 2, 4, 4, … seconds. No random
    jitter: one function posts to one webhook, so there is no crowd of clients to spread out.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(cap, base * 2 ** (attempt - 1))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date); None if absent."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def mask_url(url: str) -> str:
    """Hide the secret last path segment: https://hooks.slack.com/services/T0/B0/••••"""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    head, _, last = parts.path.rstrip("/").rpartition("/")
    path = f"{head}/••••" if last else ""
    return f"{parts.scheme}://{host}{path}"


def _scrub(text: str, url: str) -> str:
    # Error texts can quote the URL they failed on; the log must never show it.
    return text.replace(url, mask_url(url)) if url else text


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------


def log(level: str, message: str, **fields: Any) -> None:
    """Print one JSON log line (Lambda sends stdout to CloudWatch Logs, for Logs Insights)."""
    print(json.dumps({"level": level, "message": message, **fields}, ensure_ascii=False,
                     default=str), flush=True)


def _log_notification(notification: Notification, outcome: str, *, attempts: int,
                      started: float, **fields: Any) -> None:
    alarm = notification.alarm() or {}
    extra = {key: value for key, value in fields.items() if value not in (None, "")}
    log("ERROR" if outcome == "failed" else "INFO", "notification",
        message_id=notification.message_id, alarm=alarm.get("AlarmName"),
        state=alarm.get("NewStateValue"), outcome=outcome, attempts=attempts,
        ms=round((time.monotonic() - started) * 1000), **extra)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _text_or_none(value: Any) -> str | None:
    return _text(value) or None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _is_true(value: Any) -> bool:
    # ReturnData arrives as a JSON boolean or, in some notifications, as the string "True".
    return value is True or _text(value).lower() == "true"


def _first_period(metrics: Any) -> Any:
    for query in metrics if isinstance(metrics, list) else []:
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        if isinstance(stat, dict) and stat.get("Period"):
            return stat["Period"]
    return None
