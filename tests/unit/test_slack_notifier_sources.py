"""Tests of where the Slack notifier gets its webhook URL: KMS, SSM, Secrets Manager, plain.

AWS is moto (in-process); Slack is a small HTTP(S) server on 127.0.0.1. The function file is
loaded by path, fresh for every test, as Lambda would load it in a new execution environment.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from .notifier_module import FUNCTION_VARIABLES, load_notifier

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "labkit" / "functions" / "slack_notifier.py"
SEED_EVENT = ROOT / "tests" / "fixtures" / "events" / "seed_mission_slack_test.json"
FUNCTION = "mission-lambda"
REGION = "ap-northeast-2"
HOOK = "hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/NotARealSecret42"  # as the lab encrypts it




@pytest.fixture
def notifier(monkeypatch: pytest.MonkeyPatch) -> Any:
    for variable in (
        *FUNCTION_VARIABLES,
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
        "SSL_CERT_FILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    module = load_notifier()
    yield module
    sys.modules.pop(module.__name__, None)


@pytest.fixture
def aws(notifier: Any) -> Any:
    with mock_aws():
        yield boto3


def encrypt(plaintext: str, context: dict[str, str] | None) -> tuple[str, str]:
    """(base64 ciphertext, key ARN), made the way the lab's `aws kms encrypt` makes it."""
    kms = boto3.client("kms")
    key_arn = kms.create_key(Description="mission-kms-key")["KeyMetadata"]["Arn"]
    options = {"EncryptionContext": context} if context else {}
    blob = kms.encrypt(KeyId=key_arn, Plaintext=plaintext.encode(), **options)["CiphertextBlob"]
    return base64.b64encode(blob).decode(), key_arn


def count_aws_clients(notifier: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    real = notifier._aws_client

    def counting(service: str) -> Any:
        made.append(service)
        return real(service)

    monkeypatch.setattr(notifier, "_aws_client", counting)
    return made


def forbid_aws(notifier: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_call(service: str) -> Any:
        raise AssertionError(f"{service} must not be called")

    monkeypatch.setattr(notifier, "_aws_client", no_call)


# ---------------------------------------------------------------------------------------------
# KMS (the lab's way)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [HOOK, f"https://{HOOK}", f"{HOOK}\n"])
def test_kms_ciphertext_decrypts_to_one_https_url(notifier, aws, monkeypatch, plaintext):
    ciphertext, _ = encrypt(plaintext, {"LambdaFunctionName": FUNCTION})
    monkeypatch.setenv("kmsEncryptedHookUrl", ciphertext)
    assert notifier.get_webhook_url() == f"https://{HOOK}"


def test_kms_is_called_once_per_execution_environment(notifier, aws, monkeypatch):
    ciphertext, _ = encrypt(HOOK, {"LambdaFunctionName": FUNCTION})
    monkeypatch.setenv("kmsEncryptedHookUrl", ciphertext)
    made = count_aws_clients(notifier, monkeypatch)
    urls = {notifier.get_webhook_url() for _ in range(5)}
    assert urls == {f"https://{HOOK}"} and made == ["kms"]


def test_ciphertext_copied_with_line_breaks_still_works(notifier, aws, monkeypatch):
    ciphertext, _ = encrypt(HOOK, {"LambdaFunctionName": FUNCTION})
    wrapped = "\n".join(ciphertext[i : i + 64] for i in range(0, len(ciphertext), 64))
    monkeypatch.setenv("kmsEncryptedHookUrl", f"  {wrapped}\n")
    assert notifier.get_webhook_url() == f"https://{HOOK}"


@pytest.mark.parametrize(
    "context",
    [None, {"LambdaFunctionName": "another-function"}],
    ids=["no-context", "other-function"],
)
def test_ciphertext_made_without_the_context_says_how_to_re_encrypt(
    notifier, aws, monkeypatch, context
):
    ciphertext, _ = encrypt(HOOK, context)
    monkeypatch.setenv("kmsEncryptedHookUrl", ciphertext)
    with pytest.raises(notifier.WebhookConfigError) as raised:
        notifier.get_webhook_url()
    message = str(raised.value)
    assert "InvalidCiphertextException" in message
    assert "--encryption-context LambdaFunctionName=mission-lambda" in message
    assert "aws kms encrypt" in message


@set_initial_no_auth_action_count(5)
@mock_aws
def test_access_denied_names_kms_decrypt_and_the_key(notifier, monkeypatch):
    # Allowed without authentication: create_key, encrypt, create_user, create_access_key,
    # put_user_policy. Every later call is checked against IAM, like the function's role on AWS.
    ciphertext, key_arn = encrypt(HOOK, {"LambdaFunctionName": FUNCTION})
    iam = boto3.client("iam")
    iam.create_user(UserName="role-without-kms")
    access = iam.create_access_key(UserName="role-without-kms")["AccessKey"]
    iam.put_user_policy(
        UserName="role-without-kms",
        PolicyName="logs-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
            }
        ),
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", access["SecretAccessKey"])
    monkeypatch.setenv("kmsEncryptedHookUrl", ciphertext)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # forget the set-up's credentials

    with pytest.raises(notifier.WebhookConfigError) as raised:
        notifier.get_webhook_url()

    message = str(raised.value)
    assert "AccessDeniedException" in message and "kms:Decrypt" in message
    assert key_arn.rsplit("/", 1)[1] in message  # the key's id
    assert "<?xml" not in message


def test_access_denied_from_aws_quotes_the_key_arn(notifier):
    key_arn = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    error = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": (
                    "User: arn:aws:sts::123456789012:assumed-role/mission-lambda-role/"
                    "mission-lambda is not authorized to perform: kms:Decrypt on resource: "
                    f"{key_arn} because no identity-based policy allows the kms:Decrypt action"
                ),
            }
        },
        "Decrypt",
    )
    message = notifier.explain_kms_error(error, FUNCTION, b"")
    assert f"allowing the action kms:Decrypt on the KMS key {key_arn}" in message


@pytest.mark.parametrize(
    "code, words",
    [
        ("DisabledException", "disabled or pending deletion"),
        ("KMSInvalidStateException", "disabled or pending deletion"),
        ("NotFoundException", "does not exist"),
        ("ThrottlingException", "ThrottlingException"),
    ],
)
def test_other_kms_errors_are_explained(notifier, code, words):
    error = ClientError({"Error": {"Code": code, "Message": "details"}}, "Decrypt")
    message = notifier.explain_kms_error(error, FUNCTION, b"")
    assert words in message and "details" in message


@pytest.mark.parametrize("value", ["test", "TEST", " test "])
def test_the_labs_placeholder_says_to_encrypt_first(notifier, monkeypatch, value):
    forbid_aws(notifier, monkeypatch)
    monkeypatch.setenv("kmsEncryptedHookUrl", value)
    with pytest.raises(notifier.WebhookConfigError, match="(?i)placeholder 'test'") as raised:
        notifier.get_webhook_url()
    assert "aws kms encrypt" in str(raised.value)
    assert "--encryption-context LambdaFunctionName=mission-lambda" in str(raised.value)


@pytest.mark.parametrize(
    "value, words",
    [
        ("dGVzdA==", "not a KMS ciphertext"),  # base64, but far too short
        ("not base64 at all!", "not a KMS ciphertext"),
        (f"https://{HOOK}", "clear text"),
        (HOOK, "clear text"),
    ],
)
def test_values_that_are_not_ciphertexts(notifier, monkeypatch, value, words):
    forbid_aws(notifier, monkeypatch)
    monkeypatch.setenv("kmsEncryptedHookUrl", value)
    with pytest.raises(notifier.WebhookConfigError, match=words) as raised:
        notifier.get_webhook_url()
    assert "NotARealSecret42" not in str(raised.value)  # never repeat a leaked URL


def test_without_the_function_name_there_is_no_encryption_context(notifier, monkeypatch):
    forbid_aws(notifier, monkeypatch)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.setenv("kmsEncryptedHookUrl", base64.b64encode(b"x" * 100).decode())
    with pytest.raises(notifier.WebhookConfigError, match="AWS_LAMBDA_FUNCTION_NAME"):
        notifier.get_webhook_url()


def test_a_failure_is_not_cached(notifier, monkeypatch):
    """After the learner attaches the kms:Decrypt policy, the next invocation must succeed."""
    answers = [
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Decrypt"),
        {"Plaintext": HOOK.encode()},
    ]

    class FlakyKms:
        def decrypt(self, **kwargs: Any) -> Any:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    monkeypatch.setattr(notifier, "_aws_client", lambda service: FlakyKms())
    monkeypatch.setenv("kmsEncryptedHookUrl", base64.b64encode(b"c" * 100).decode())
    with pytest.raises(notifier.WebhookConfigError):
        notifier.get_webhook_url()
    assert notifier.get_webhook_url() == f"https://{HOOK}"


# ---------------------------------------------------------------------------------------------
# SSM Parameter Store and Secrets Manager
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stored", [HOOK, f"https://{HOOK}"])
def test_ssm_securestring(notifier, aws, monkeypatch, stored):
    boto3.client("ssm").put_parameter(Name="/mission/slack-hook", Value=stored, Type="SecureString")
    monkeypatch.setenv("slackHookUrlParameter", "/mission/slack-hook")
    made = count_aws_clients(notifier, monkeypatch)
    assert notifier.get_webhook_url() == f"https://{HOOK}"
    assert notifier.get_webhook_url() == f"https://{HOOK}"
    assert made == ["ssm"]


def test_missing_ssm_parameter_says_how_to_create_it(notifier, aws, monkeypatch):
    monkeypatch.setenv("slackHookUrlParameter", "/mission/nothing-here")
    with pytest.raises(notifier.WebhookConfigError, match="does not exist") as raised:
        notifier.get_webhook_url()
    assert "aws ssm put-parameter --type SecureString --name /mission/nothing-here" in str(
        raised.value
    )


@pytest.mark.parametrize(
    "secret",
    [
        f"https://{HOOK}",
        HOOK,
        json.dumps({"url": f"https://{HOOK}"}),
        json.dumps({"slackHookUrl": HOOK, "note": "x"}),
        json.dumps({"anything": HOOK}),
    ],
)
def test_secrets_manager(notifier, aws, monkeypatch, secret):
    boto3.client("secretsmanager").create_secret(Name="mission/slack", SecretString=secret)
    monkeypatch.setenv("slackHookUrlSecret", "mission/slack")
    assert notifier.get_webhook_url() == f"https://{HOOK}"


def test_secret_json_without_a_url(notifier, aws, monkeypatch):
    boto3.client("secretsmanager").create_secret(
        Name="mission/slack", SecretString='{"a": 1, "b": 2}'
    )
    monkeypatch.setenv("slackHookUrlSecret", "mission/slack")
    with pytest.raises(notifier.WebhookConfigError, match="holds no webhook URL"):
        notifier.get_webhook_url()


def test_missing_secret_says_how_to_create_it(notifier, aws, monkeypatch):
    monkeypatch.setenv("slackHookUrlSecret", "mission/none")
    with pytest.raises(notifier.WebhookConfigError, match="does not exist") as raised:
        notifier.get_webhook_url()
    assert "aws secretsmanager create-secret" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Choosing a source, plain URLs
# ---------------------------------------------------------------------------------------------


def test_kms_wins_over_a_plain_url(notifier, aws, monkeypatch, capsys):
    ciphertext, _ = encrypt(HOOK, {"LambdaFunctionName": FUNCTION})
    monkeypatch.setenv("kmsEncryptedHookUrl", ciphertext)
    monkeypatch.setenv("slackHookUrl", "https://example.com/services/T1/B1/plain")
    assert notifier.get_webhook_url() == f"https://{HOOK}"
    warning = json.loads(capsys.readouterr().out.splitlines()[0])
    assert warning["using"] == "kmsEncryptedHookUrl" and warning["ignored"] == ["slackHookUrl"]


def test_placeholder_is_ignored_when_another_source_is_set(notifier, monkeypatch, capsys):
    forbid_aws(notifier, monkeypatch)
    monkeypatch.setenv("kmsEncryptedHookUrl", "test")
    monkeypatch.setenv("slackHookUrl", f"https://{HOOK}")
    assert notifier.get_webhook_url() == f"https://{HOOK}"
    output = capsys.readouterr().out
    assert "clear text" in output and "NotARealSecret42" not in output
    assert "hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/••••" in output


def test_plain_url_warns_once_per_environment(notifier, monkeypatch, capsys):
    monkeypatch.setenv("slackHookUrl", HOOK)
    for _ in range(3):
        assert notifier.get_webhook_url() == f"https://{HOOK}"
    warnings = [line for line in capsys.readouterr().out.splitlines() if "WARNING" in line]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    "value, url",
    [
        ("hooks.slack.com/services/T/B/x", "https://hooks.slack.com/services/T/B/x"),
        ("https://hooks.slack.com/services/T/B/x", "https://hooks.slack.com/services/T/B/x"),
        ("HTTPS://hooks.slack.com/services/T/B/x", "HTTPS://hooks.slack.com/services/T/B/x"),
        ("http://127.0.0.1:8080/services/T/B/x", "http://127.0.0.1:8080/services/T/B/x"),
        ("  hooks.slack.com/services/T/B/x\n", "https://hooks.slack.com/services/T/B/x"),
        ("//hooks.slack.com/services/T/B/x", "https://hooks.slack.com/services/T/B/x"),
    ],
)
def test_normalise_webhook_url(notifier, value, url):
    assert notifier.normalise_webhook_url(value) == url


@pytest.mark.parametrize("value", ["", "   ", "not a url", "https://"])
def test_normalise_rejects_what_is_not_a_url(notifier, value):
    with pytest.raises(notifier.WebhookConfigError, match="not a webhook URL"):
        notifier.normalise_webhook_url(value)


# ---------------------------------------------------------------------------------------------
# End to end: KMS-encrypted webhook, local Slack over HTTP and HTTPS
# ---------------------------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    received: list[Any] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_slack() -> Any:
    servers = []

    def start(tls: ssl.SSLContext | None = None) -> tuple[str, list[Any]]:
        handler = type("Handler", (Recorder,), {"received": []})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls:
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(httpd)
        return f"127.0.0.1:{httpd.server_port}/services/T000/B000/LocalSecret", handler.received

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_seed_event_with_kms_encrypted_webhook(notifier, aws, monkeypatch, local_slack):
    address, received = local_slack()
    ciphertext, _ = encrypt(f"http://{address}", {"LambdaFunctionName": FUNCTION})
    monkeypatch.setenv("kmsEncryptedHookUrl", ciphertext)
    monkeypatch.setenv("slackChannel", "project")

    result = notifier.lambda_handler(json.loads(SEED_EVENT.read_text()), None)

    assert result["delivered"] == 1
    assert received[0]["attachments"][0]["color"] == "#d62728"
    assert "Example alarm name" in received[0]["text"]


def test_https_with_a_private_ca_trusted_through_ssl_cert_file(
    notifier, monkeypatch, local_slack, tmp_path
):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    address, received = local_slack(tls)
    # The lab encrypts the URL without a scheme, so the function adds https:// itself.
    monkeypatch.setenv("slackHookUrl", address)

    event = {"Records": [{"Sns": {"Message": "hello", "MessageId": "m-1"}}]}

    with pytest.raises(notifier.DeliveryError):  # the CA is not trusted yet
        notifier.lambda_handler(event, None)
    assert received == []

    # SSL_CERT_FILE is part of the function's configuration, so it is set before an execution
    # environment starts: a new one (a fresh copy of the module) picks it up.
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    result = load_notifier().lambda_handler(event, None)
    assert result["delivered"] == 1 and received[0]["text"] == "hello"


def test_untrusted_certificate_is_permanent_and_names_ssl_cert_file(
    notifier, monkeypatch, local_slack
):
    trustme = pytest.importorskip("trustme")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(tls)
    address, received = local_slack(tls)
    delivery = notifier.post_to_slack(
        f"https://{address}", {"text": "x"}, lambda: 30_000, sleep=lambda seconds: None
    )
    assert (delivery.ok, delivery.permanent, delivery.attempts) == (False, True, 1)
    assert "SSL_CERT_FILE" in delivery.error
