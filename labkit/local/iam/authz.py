"""IAM for functions: calls signed with a function's role credentials obey the role's policies.

moto's own IAM enforcement is all-or-nothing (once on, the learner's own calls fail too), so the
local cloud does its own, at the edge of the AWS port:

* ``issue_role_credentials`` gives a function's execution role temporary credentials (made by
  moto's STS, so moto knows them) and remembers their access key id in a registry.
* ``wrap(app)`` looks at every request before moto does. One signed with a registered access key
  id is turned into (action, resource, context) and authorised against the role's inline and
  attached managed policies (and its permissions boundary) with ``iam_policy``. A denied call is
  answered in the service's own protocol, so boto3 raises what it raises on AWS, with AWS's
  message. Everything else (the learner's own calls) passes untouched.
* ``control_app`` serves ``/labkit/iam/...`` so other processes (tests, notebooks) can ask for a
  role's credentials or for a decision.

An operation this module cannot name is evaluated as ``<service>:*``: only a policy granting the
whole service (``kms:*``, ``*``) allows it; the server log says so. Guessing an action name could
let through a call that AWS would refuse, and a function's role is where least privilege is
being taught.

Resources: KMS key ARNs (from ``KeyId``, which may be an id, key ARN, alias name or alias ARN, or
for Decrypt from the ciphertext blob), SNS topics, SQS queues, SSM parameters, Secrets Manager
secrets, CloudWatch Logs groups and streams, Lambda functions, the role of ``sts:AssumeRole``;
any other request is checked against resource ``*``. KMS key policies are not evaluated (moto's
default key policy delegates to IAM, which is what is checked here).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from . import policy as iam_policy
from .policy import Decision

log = logging.getLogger(__name__)

LAMBDA_SERVICE = "lambda.amazonaws.com"
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
# AWS's words when Decrypt is refused, whatever the reason (no permission, unknown key).
KMS_DECRYPT_DENIED = ("The ciphertext refers to a customer master key that does not exist, "
                      "does not exist in this region, or you are not allowed to access.")
# How long issued credentials say they last (a warm execution environment keeps them). Only
# informational: an expired key is still recognised, so it can never slip past the checks.
CREDENTIALS_SECONDS = 12 * 3600


class RoleNotAssumableError(Exception):
    """A function's execution role is missing or does not trust ``lambda.amazonaws.com``.

    *code* is the error code AWS Lambda uses for it; the message is AWS's.
    """

    code = "InvalidParameterValueException"

    def __init__(self, role_arn: str, detail: str) -> None:
        super().__init__(ROLE_NOT_ASSUMABLE)
        self.role_arn = role_arn
        self.detail = detail


# -- the registry of issued credentials ---------------------------------------------------------

@dataclass(frozen=True)
class RoleSession:
    """Who a registered access key id belongs to."""

    access_key_id: str
    account_id: str
    role_arn: str
    session_name: str
    role_id: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":")[1]

    @property
    def principal_arn(self) -> str:
        """The assumed-role ARN AWS names in its messages."""
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return (f"arn:{self.partition}:sts::{self.account_id}:assumed-role/"
                f"{role_name}/{self.session_name}")


_sessions: dict[str, RoleSession] = {}
_sessions_lock = threading.Lock()


def session_for(access_key_id: str) -> RoleSession | None:
    """The role session an access key id was issued for, if it was issued here."""
    with _sessions_lock:
        return _sessions.get(access_key_id)


def _partition_region(partition: str) -> str:
    return {"aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}.get(partition, "us-east-1")


def _iam_backend(account_id: str, partition: str = "aws") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def _find_role(role_arn: str) -> Any | None:
    """moto's Role for *role_arn*, or None."""
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam":
        return None
    try:
        return _iam_backend(parts[4], parts[1]).get_role_by_arn(role_arn)
    except Exception:  # moto's NotFoundException, or an account it never saw
        return None


def issue_role_credentials(account_id: str, role_arn: str, session_name: str) -> dict:
    """Temporary credentials of *role_arn* as Lambda would get them, registered for checking.

    Returns ``{"AccessKeyId": "ASIA...", "SecretAccessKey", "SessionToken", "Expiration"}``
    (Expiration as ISO-8601 text). Raises ``RoleNotAssumableError`` when the role does not exist
    or its trust policy does not let ``lambda.amazonaws.com`` assume it.
    """
    from moto.sts.models import sts_backends

    role = _find_role(role_arn)
    if role is None:
        raise RoleNotAssumableError(role_arn, f"role {role_arn} does not exist")
    trust = role.assume_role_policy_document or "{}"
    if not iam_policy.service_can_assume(trust, LAMBDA_SERVICE, {"aws:SourceAccount": account_id}):
        raise RoleNotAssumableError(
            role_arn, f"the trust policy of {role_arn} does not allow {LAMBDA_SERVICE} "
                      "to call sts:AssumeRole")
    partition = role_arn.split(":")[1]
    assumed = sts_backends[account_id][partition].assume_role(
        region_name=_partition_region(partition), role_session_name=session_name,
        role_arn=role_arn, policy=None, duration=CREDENTIALS_SECONDS, external_id=None,
    )
    session = RoleSession(assumed.access_key_id, account_id, role_arn, session_name, role.id)
    with _sessions_lock:
        _sessions[assumed.access_key_id] = session
    return {
        "AccessKeyId": assumed.access_key_id,
        "SecretAccessKey": assumed.secret_access_key,
        "SessionToken": assumed.session_token,
        "Expiration": assumed.expiration.replace(tzinfo=dt.timezone.utc).isoformat(),
    }


# -- decisions ----------------------------------------------------------------------------------

def _default_document(policy: Any) -> str | None:
    for version in policy.versions:
        if version.is_default:
            return version.document
    return None


def role_policies(role_arn: str) -> list[str]:
    """The policy documents that grant *role_arn* its permissions: inline, then attached."""
    role = _find_role(role_arn)
    if role is None:
        return []
    documents: list[str] = list(role.policies.values())
    for policy in list(role.managed_policies.values()):
        document = _default_document(policy)
        if document:
            documents.append(document)
    return documents


def _boundary_document(role: Any) -> str | None:
    arn = getattr(role, "permissions_boundary_arn", None)
    if not arn:
        return None
    try:
        return _default_document(_iam_backend(role.account_id, role.partition).get_policy(arn))
    except Exception:
        return None


def authorize(role_arn: str, action: str, resource: str,
              context: dict | None = None) -> Decision:
    """Decide whether the role may perform *action* on *resource*, as IAM would.

    The role's inline and attached managed policies (customer and AWS-managed) are evaluated
    together; a permissions boundary, when set, must allow the action too. ``aws:PrincipalArn``
    and ``aws:PrincipalAccount`` are added to *context* when absent.
    """
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else None
    full_context = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account,
                    **(context or {})}
    decision = iam_policy.evaluate(role_policies(role_arn), action, resource, full_context)
    if not decision.allowed:
        return decision
    role = _find_role(role_arn)
    boundary = _boundary_document(role) if role is not None else None
    if boundary is not None:
        bounded = iam_policy.evaluate([boundary], action, resource, full_context)
        if not bounded.allowed:
            return bounded
    return decision


def is_allowed(role_arn: str, action: str, resource: str, context: dict | None = None) -> bool:
    """Whether the role may perform *action* on *resource* (see ``authorize``)."""
    return authorize(role_arn, action, resource, context).allowed


# -- reading a request: service, operation, parameters ------------------------------------------

_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/\s]+)/([^/\s]+)/aws4_request")
# Signing names whose botocore model or IAM prefix differ from the name itself.
_BOTOCORE_NAME = {"monitoring": "cloudwatch", "tagging": "resourcegroupstaggingapi",
                  "email": "ses", "states": "stepfunctions"}
_IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag", "email": "ses"}
# Operations whose IAM action has another name.
_ACTION_NAME = {("lambda", "Invoke"): "InvokeFunction",
                ("lambda", "InvokeWithResponseStream"): "InvokeFunction"}
# Operations AWS never authorises ("No permissions are required to perform this operation").
_ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}


@dataclass(frozen=True)
class Credential:
    """What the SigV4 credential scope of a request says."""

    access_key_id: str
    region: str
    service: str


@dataclass
class Call:
    """One AWS API request, as authorisation sees it."""

    credential: Credential
    protocol: str
    operation: str | None
    params: dict
    json_version: str = "1.1"
    query_compatible: bool = False

    @property
    def iam_prefix(self) -> str:
        return _IAM_PREFIX.get(self.credential.service, self.credential.service)

    @property
    def action(self) -> str:
        """``<prefix>:<Action>``, or ``<prefix>:*`` when the operation is unknown."""
        if not self.operation:
            return f"{self.iam_prefix}:*"
        name = _ACTION_NAME.get((self.iam_prefix, self.operation), self.operation)
        return f"{self.iam_prefix}:{name}"


def request_credential(environ: dict) -> Credential | None:
    """The access key id, region and service a request is signed for (header or presigned)."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is not None:
        return Credential(match.group(1), match.group(3), match.group(4))
    query = parse_qs(environ.get("QUERY_STRING", ""))
    scope = (query.get("X-Amz-Credential") or [""])[0].split("/")
    if len(scope) == 5 and scope[4] == "aws4_request":
        return Credential(scope[0], scope[2], scope[3])
    return None


@lru_cache(maxsize=64)
def _service_model(signing_name: str) -> Any | None:
    from botocore.exceptions import UnknownServiceError

    try:
        return _botocore_session().get_service_model(_BOTOCORE_NAME.get(signing_name,
                                                                        signing_name))
    except UnknownServiceError:
        return None


@lru_cache(maxsize=1)
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@lru_cache(maxsize=64)
def _rest_routes(signing_name: str) -> list[tuple[str, re.Pattern, list[str], int, str]]:
    """(method, path regex, required query keys, literal length, operation) of a REST model."""
    model = _service_model(signing_name)
    routes = []
    for name in model.operation_names if model is not None else []:
        http = model.operation_model(name).http
        path, _, query = http.get("requestUri", "/").partition("?")
        pattern, literal = "", 0
        for piece in re.split(r"(\{[^}]+\})", path.rstrip("/")):
            if piece.startswith("{"):
                label = piece.strip("{}")
                greedy = label.endswith("+")
                pattern += f"(?P<{label.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
            else:
                pattern += re.escape(piece)
                literal += len(piece)
        required = [part.split("=")[0] for part in query.split("&") if part]
        routes.append((http.get("method", "GET"), re.compile(pattern + "/?"), required, literal,
                       name))
    # The most specific template first: /functions/{name}/policy before /functions/{name}.
    routes.sort(key=lambda route: -route[3])
    return routes


def _form_params(text: str) -> dict:
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def describe_call(environ: dict, body: bytes, credential: Credential) -> Call:
    """Name the operation of a request and gather its parameters, by the service's protocol."""
    model = _service_model(credential.service)
    protocol = model.protocol if model is not None else ""
    json_version = (model.metadata.get("jsonVersion") or "1.1") if model is not None else "1.1"
    query_compatible = model is not None and "awsQueryCompatible" in model.metadata
    query = _form_params(environ.get("QUERY_STRING", ""))
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    path = environ.get("PATH_INFO", "") or "/"
    operation: str | None = None
    params: dict = {}

    if target:  # JSON protocol: "TrentService.Decrypt"
        operation = target.split(".", 1)[1] if "." in target else None
        protocol = "json"
        params = _json_object(body)
    elif re.fullmatch(r"/service/[^/]+/operation/[^/]+", path):  # Smithy RPC v2 CBOR
        operation = path.rsplit("/", 1)[-1]
        protocol = "smithy-rpc-v2-cbor"
    elif protocol in ("query", "ec2") or "Action" in query or \
            "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):  # query protocol
        params = {**query, **_form_params(body.decode("utf-8", "replace"))}
        operation = params.get("Action")
        protocol = protocol if protocol in ("query", "ec2") else "query"
    elif protocol in ("rest-json", "rest-xml"):
        method = environ.get("REQUEST_METHOD", "GET")
        for route_method, pattern, required, _, name in _rest_routes(credential.service):
            match = pattern.fullmatch(path)
            if route_method == method and match and all(key in query for key in required):
                operation = name
                params = {**query, **_rest_body_params(model, name, protocol, body),
                          **match.groupdict()}
                break
    if model is not None and operation not in model.operation_names:
        operation = None  # not an operation of this service: check it as "<service>:*"
    return Call(credential, protocol, operation, params, json_version, query_compatible)


def _rest_body_params(model: Any, operation: str, protocol: str, body: bytes) -> dict:
    """The members a REST-JSON body carries; none when the body is a payload (Invoke's event)."""
    input_shape = model.operation_model(operation).input_shape
    if protocol != "rest-json" or input_shape is None or input_shape.serialization.get("payload"):
        return {}
    return _json_object(body)


def _json_object(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- resources and context ----------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a call acts on: resource ARNs (all must be allowed) and service context keys.

    ``resources`` is None when the resource cannot be told (an unknown KMS key): the call then
    goes on to moto, which answers as AWS does for a key that is not there.
    """

    resources: list[str] | None
    context: dict


def _kms_key_arn(account: str, region: str, key_id: str) -> str | None:
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:") and ":key/" in key_id:
        account, region = key_id.split(":")[4], key_id.split(":")[3]
    backend = kms_backends[account][region]
    alias_name = backend.get_alias_name(key_id)
    if alias_name.startswith("alias/"):
        raw = backend.get_key_id_from_alias(alias_name)
    else:
        raw = backend.get_key_id(key_id)
    key = backend.keys.get(raw) if raw else None
    return key.arn if key is not None else None


def _kms_target(call: Call, session: RoleSession) -> Target:
    region, params = call.credential.region, call.params
    context: dict[str, Any] = {"kms:CallerAccount": session.account_id}
    for name in ("EncryptionContext", "SourceEncryptionContext"):
        encryption_context = params.get(name)
        if isinstance(encryption_context, dict):
            for key, value in encryption_context.items():
                context[f"kms:EncryptionContext:{key}"] = value
            context["kms:EncryptionContextKeys"] = list(encryption_context)
            break
    if params.get("EncryptionAlgorithm"):
        context["kms:EncryptionAlgorithm"] = params["EncryptionAlgorithm"]

    key_id = params.get("KeyId") or params.get("TargetKeyId") or params.get("DestinationKeyId")
    if isinstance(key_id, str) and (key_id.startswith("alias/") or ":alias/" in key_id):
        context["kms:RequestAlias"] = "alias/" + key_id.split("alias/", 1)[1]
    if call.operation == "Decrypt":
        # AWS reads the key from the ciphertext itself (a KeyId parameter only has to agree).
        raw = _ciphertext_key_id(params.get("CiphertextBlob"))
        arn = _kms_key_arn(session.account_id, region, raw) if raw else None
    elif isinstance(key_id, str) and key_id:
        arn = _kms_key_arn(session.account_id, region, key_id)
    else:
        return Target(["*"], context)  # CreateKey, ListKeys, GenerateRandom, ...
    return Target([arn] if arn else None, context)


def _ciphertext_key_id(blob: Any) -> str | None:
    from ..kms import fidelity as kms_fidelity

    if not isinstance(blob, str):
        return None
    try:
        return kms_fidelity.ciphertext_key_id(base64.b64decode(blob))
    except ValueError:
        return None


def _arn(session: RoleSession, service: str, region: str, rest: str) -> str:
    return f"arn:{session.partition}:{service}:{region}:{session.account_id}:{rest}"


def _resources(call: Call, session: RoleSession) -> Iterator[str]:
    """The resource ARNs a call acts on, for the services the lab's functions use."""
    prefix, region, params = call.iam_prefix, call.credential.region, call.params
    op = call.operation or ""
    if prefix == "sns":
        for name in ("TopicArn", "TargetArn", "ResourceArn"):
            if params.get(name):
                yield params[name]
                return
        if params.get("SubscriptionArn"):
            yield params["SubscriptionArn"].rsplit(":", 1)[0]
        elif op == "CreateTopic" and params.get("Name"):
            yield _arn(session, "sns", region, params["Name"])
    elif prefix == "sqs":
        url = params.get("QueueUrl")
        if url:
            parts = urlparse(url).path.strip("/").split("/")
            if len(parts) >= 2:
                yield f"arn:{session.partition}:sqs:{region}:{parts[-2]}:{parts[-1]}"
        elif params.get("QueueName"):
            yield _arn(session, "sqs", region, params["QueueName"])
    elif prefix == "ssm":
        names = params.get("Names") if isinstance(params.get("Names"), list) else []
        for name in names or [params.get("Name") or params.get("Path")]:
            if isinstance(name, str) and name:
                yield (name if name.startswith("arn:")
                       else _arn(session, "ssm", region, "parameter/" + name.lstrip("/")))
    elif prefix == "secretsmanager":
        secret_id = params.get("SecretId") or params.get("Name")
        if isinstance(secret_id, str) and secret_id:
            yield _secret_arn(session, region, secret_id)
    elif prefix == "logs":
        group = params.get("logGroupName")
        if isinstance(group, str) and group:
            stream = params.get("logStreamName") or ""
            yield _arn(session, "logs", region, f"log-group:{group}:log-stream:{stream}")
    elif prefix == "lambda":
        name = params.get("FunctionName")
        if isinstance(name, str) and name:
            yield name if name.startswith("arn:") else _arn(session, "lambda", region,
                                                            f"function:{name}")
    elif prefix == "sts" and op == "AssumeRole" and params.get("RoleArn"):
        yield params["RoleArn"]


def _secret_arn(session: RoleSession, region: str, secret_id: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        return secretsmanager_backends[session.account_id][region].secrets[secret_id].arn
    except Exception:  # not there (yet): name it the way AWS would, minus the random suffix
        return (secret_id if secret_id.startswith("arn:")
                else _arn(session, "secretsmanager", region, f"secret:{secret_id}"))


def call_target(call: Call, session: RoleSession) -> Target:
    """The resources and service-specific context keys of a call."""
    if call.iam_prefix == "kms":
        return _kms_target(call, session)
    return Target(list(_resources(call, session)) or ["*"], {})


def request_context(environ: dict, call: Call, session: RoleSession) -> dict:
    """The global condition keys of a call made with a role session's credentials."""
    now = time.time()
    return {
        "aws:PrincipalArn": session.role_arn,
        "aws:PrincipalAccount": session.account_id,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": f"{session.role_id}:{session.session_name}",
        "aws:RequestedRegion": call.credential.region,
        "aws:SecureTransport": environ.get("wsgi.url_scheme") == "https",
        "aws:SourceIp": environ.get("REMOTE_ADDR"),
        "aws:CurrentTime": dt.datetime.fromtimestamp(now, dt.timezone.utc)
                             .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": int(now),
    }


# -- answering a denial in the service's protocol -----------------------------------------------

def denial_message(call: Call, session: RoleSession, resource: str, decision: Decision) -> str:
    """AWS's words for a denied call."""
    if call.action == "kms:Decrypt":
        return KMS_DECRYPT_DENIED
    action = call.action
    if call.iam_prefix == "sns":
        action = "SNS:" + action.split(":", 1)[1]  # SNS writes its prefix in capitals
    on_resource = f" on resource: {resource}" if resource != "*" else ""
    why = ("with an explicit deny in an identity-based policy"
           if decision.reason == iam_policy.EXPLICIT_DENY
           else f"because no identity-based policy allows the {action} action")
    return (f"User: {session.principal_arn} is not authorized to perform: "
            f"{action}{on_resource} {why}")


def _cbor_text(text: str) -> bytes:
    data = text.encode("utf-8")
    size = len(data)
    if size < 24:
        head = bytes([0x60 + size])
    elif size < 0x100:
        head = bytes([0x78, size])
    elif size < 0x10000:
        head = bytes([0x79]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x7A]) + size.to_bytes(4, "big")
    return head + data


def _cbor_string_map(values: dict[str, str]) -> bytes:
    """A CBOR map of text to text (all an RPC v2 CBOR error body needs)."""
    out = bytes([0xA0 + len(values)])
    for key, value in values.items():
        out += _cbor_text(key) + _cbor_text(value)
    return out


def denial_response(call: Call, message: str) -> Response:
    """The HTTP answer AWS gives a denied call, shaped for the call's protocol."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    prefix, protocol = call.iam_prefix, call.protocol
    if protocol == "json":
        error_type = "AccessDeniedException"
        status = 400
        if call.query_compatible:  # SQS: botocore reads the query-style code from a header
            headers["x-amzn-query-error"] = "AccessDenied;Sender"
            status = 403
        body = json.dumps({"__type": error_type, "message": message})
        return Response(body, status, headers, content_type=
                        f"application/x-amz-json-{call.json_version}")
    if protocol == "rest-json":
        headers["x-amzn-ErrorType"] = "AccessDeniedException"
        body = json.dumps({"Type": "User", "message": message})
        return Response(body, 403, headers, content_type="application/json")
    if protocol == "smithy-rpc-v2-cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
        if call.query_compatible:
            headers["x-amzn-query-error"] = "AccessDenied;Sender"
        body = _cbor_string_map({"__type": "AccessDenied", "message": message})
        return Response(body, 403, headers, content_type="application/cbor")
    if protocol == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                "<Code>UnauthorizedOperation</Code><Message>You are not authorized to perform "
                f"this operation. {escape(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return Response(body, 403, headers, content_type="text/xml")
    if protocol == "rest-xml":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return Response(body, 403, headers, content_type="application/xml")
    code = "AuthorizationError" if prefix == "sns" else "AccessDenied"
    body = ("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>"
            f"<Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(body, 403, headers, content_type="text/xml")


# -- the edge -----------------------------------------------------------------------------------

def _buffer_body(environ: dict) -> bytes:
    """Read the request body once and put it back, so moto still finds it."""
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def check_request(environ: dict, session: RoleSession,
                  credential: Credential) -> tuple[Call, str, Decision] | None:
    """Authorise one request made with *session*'s credentials; None when it may go on."""
    body = _buffer_body(environ)
    call = describe_call(environ, body, credential)
    if call.action in _ALWAYS_ALLOWED:
        return None
    if call.operation is None:
        log.info("IAM: cannot tell which %s operation %s %s is; checking it as %s",
                 credential.service, environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                 call.action)
    target = call_target(call, session)
    if target.resources is None:
        return None  # not a resource IAM could name: let moto answer as AWS does
    context = {**request_context(environ, call, session), **target.context}
    for resource in target.resources:
        decision = authorize(session.role_arn, call.action, resource, context)
        if not decision.allowed:
            return call, resource, decision
    return None


def wrap(app: Callable) -> Callable:
    """WSGI middleware: authorise calls signed with registered role credentials, pass the rest."""

    def authorizing_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        credential = request_credential(environ)
        session = session_for(credential.access_key_id) if credential is not None else None
        if session is None or credential is None:
            return app(environ, start_response)
        denied = check_request(environ, session, credential)
        if denied is None:
            return app(environ, start_response)
        call, resource, decision = denied
        message = denial_message(call, session, resource, decision)
        log.info("IAM: denied %s on %s to %s (%s%s)", call.action, resource,
                 session.principal_arn, decision.reason,
                 f", statement {decision.sid}" if decision.sid else "")
        return denial_response(call, message)(environ, start_response)

    return authorizing_app


def control_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """``/labkit/iam/...`` routes of the AWS port.

    * ``POST /labkit/iam/role-credentials`` ``{"role_arn", "session_name"[, "account_id"]}`` →
      the credentials of ``issue_role_credentials`` (400 with ``code``/``message`` when the role
      cannot be assumed by Lambda).
    * ``POST /labkit/iam/authorize`` ``{"role_arn", "action", "resource"[, "context"]}`` →
      ``{"allowed", "reason", "sid"}``.
    """
    request = Request(environ)
    routes = {"/labkit/iam/role-credentials": _credentials_route,
              "/labkit/iam/authorize": _authorize_route}
    route = routes.get(request.path)
    if route is None or request.method != "POST":
        response = Response(json.dumps({"error": "not found"}), 404, mimetype="application/json")
        return response(environ, start_response)
    try:
        payload = json.loads(request.get_data() or b"{}")
        response = Response(json.dumps(route(payload)), 200, mimetype="application/json")
    except RoleNotAssumableError as error:
        response = Response(json.dumps({"code": error.code, "message": str(error),
                                        "detail": error.detail}), 400,
                            mimetype="application/json")
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        response = Response(json.dumps({"error": "bad request"}), 400,
                            mimetype="application/json")
    return response(environ, start_response)


def _credentials_route(payload: dict) -> dict:
    role_arn = str(payload["role_arn"])
    account = str(payload.get("account_id") or role_arn.split(":")[4])
    return issue_role_credentials(account, role_arn, str(payload.get("session_name") or "labkit"))


def _authorize_route(payload: dict) -> dict:
    decision = authorize(str(payload["role_arn"]), str(payload["action"]),
                         str(payload.get("resource", "*")), payload.get("context"))
    return {"allowed": decision.allowed, "reason": decision.reason, "sid": decision.sid}
