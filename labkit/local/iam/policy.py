"""IAM policy evaluation, as the IAM User Guide describes it, for identity-based policies.

Pure logic, no I/O: given policy documents and a request (action, resource, context), decide.

The rules followed ("Policy evaluation logic", "IAM JSON policy elements" and "Condition
operators" in the IAM User Guide):

* An explicit ``Deny`` in any statement that applies wins; otherwise some ``Allow`` must apply;
  otherwise the request is implicitly denied.
* ``Statement`` may be one object or a list. ``Action``/``NotAction`` and ``Resource``/
  ``NotResource`` take a string or a list and support ``*`` and ``?``; action names are not
  case-sensitive, resource ARNs are. A ``*`` that ends an ARN segment may match past colons.
* ``Condition``: all operators must hold, and within one operator all keys must hold (AND); the
  values listed for one key are alternatives (OR). Condition key names are not case-sensitive.
  A key absent from the request makes the test false, except for the negated operators
  (``StringNotEquals``, ``ArnNotLike``, ...), which are then true, for ``...IfExists``, which is
  then true, and for ``Null``, which tests exactly that. ``ForAllValues:`` holds when every
  request value matches (and when there are none); ``ForAnyValue:`` needs at least one.

Not covered: policy variables (``${aws:username}``), the date and IP-address operators,
resource-based policies, session policies and SCPs. A statement using an operator this module
does not know never applies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping, Union

ALLOWED = "allowed"
EXPLICIT_DENY = "explicit deny"
NO_ALLOW = "no allow"

PolicyDocument = Union[Mapping[str, Any], str]


@dataclass(frozen=True)
class Decision:
    """The outcome of an evaluation.

    *reason* is ``"allowed"``, ``"explicit deny"`` or ``"no allow"``; *sid* is the Sid of the
    statement that decided (the denying one, or the first allowing one), when it has one.
    """

    allowed: bool
    reason: str
    sid: str | None = None


def evaluate(policies: Iterable[PolicyDocument], action: str, resource: str,
             context: Mapping[str, Any] | None = None) -> Decision:
    """Evaluate identity-based *policies* (dicts or JSON strings) for one request."""
    request_context = normalise_context(context)
    first_allow: Mapping[str, Any] | None = None
    for statement in statements(policies):
        if not _statement_applies(statement, action, resource, request_context):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return Decision(False, EXPLICIT_DENY, statement.get("Sid"))
        if effect == "Allow" and first_allow is None:
            first_allow = statement
    if first_allow is not None:
        return Decision(True, ALLOWED, first_allow.get("Sid"))
    return Decision(False, NO_ALLOW)


def service_can_assume(trust_policy: PolicyDocument, service: str,
                       context: Mapping[str, Any] | None = None) -> bool:
    """Whether a role's trust policy lets the AWS *service* (``lambda.amazonaws.com``) assume it.

    A statement counts when its action matches ``sts:AssumeRole`` and its ``Principal`` names the
    service (or everyone); an explicit Deny that applies wins.
    """
    request_context = normalise_context(
        {"aws:PrincipalServiceName": service, "aws:PrincipalType": "Service", **(context or {})}
    )
    trusted = False
    for statement in statements([trust_policy]):
        if not _any_matches(_as_list(statement.get("Action")), "sts:AssumeRole", match_action):
            continue
        if not _principal_names_service(statement, service):
            continue
        if not conditions_hold(statement.get("Condition"), request_context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            trusted = True
    return trusted


# -- documents and statements -------------------------------------------------------------------

def statements(policies: Iterable[PolicyDocument]) -> Iterator[Mapping[str, Any]]:
    """Every statement of every policy document, whether ``Statement`` is an object or a list."""
    for policy in policies:
        document = json.loads(policy) if isinstance(policy, str) else policy
        found = document.get("Statement", [])
        for statement in [found] if isinstance(found, Mapping) else found:
            if isinstance(statement, Mapping):
                yield statement


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str,
                       context: Mapping[str, list[str]]) -> bool:
    if "Action" in statement:
        if not _any_matches(_as_list(statement["Action"]), action, match_action):
            return False
    elif "NotAction" in statement:
        if _any_matches(_as_list(statement["NotAction"]), action, match_action):
            return False
    else:
        return False  # IAM refuses such a statement; never let it grant anything
    if "Resource" in statement:
        if not _any_matches(_as_list(statement["Resource"]), resource, match_resource):
            return False
    elif "NotResource" in statement:
        if _any_matches(_as_list(statement["NotResource"]), resource, match_resource):
            return False
    else:
        return False
    return conditions_hold(statement.get("Condition"), context)


def _principal_names_service(statement: Mapping[str, Any], service: str) -> bool:
    if "Principal" in statement:
        return _principal_matches(statement["Principal"], service)
    if "NotPrincipal" in statement:
        return not _principal_matches(statement["NotPrincipal"], service)
    return False


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in _as_list(principal.get("AWS")):
        return True
    return service in _as_list(principal.get("Service"))


def _any_matches(patterns: list[str], value: str, match: Callable[[str, str], bool]) -> bool:
    return any(match(pattern, value) for pattern in patterns)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# -- wildcard matching --------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, ignore_case: bool, star_stops_at_colon: bool) -> re.Pattern:
    parts = []
    for index, char in enumerate(pattern):
        if char == "*":
            at_segment_end = index + 1 == len(pattern) or pattern[index + 1] == ":"
            # In a resource ARN a '*' inside a segment stays in it; one ending a segment may
            # run on past colons (IAM User Guide, "Using wildcards in resource ARNs").
            parts.append("[^:]*" if star_stops_at_colon and not at_segment_end else ".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def match_action(pattern: str, action: str) -> bool:
    """``Action`` matching: ``*``/``?`` wildcards, not case-sensitive (``KMS:decrypt`` works)."""
    return _wildcard_regex(pattern, True, False).fullmatch(action) is not None


def match_resource(pattern: str, resource: str) -> bool:
    """``Resource`` matching: case-sensitive, ``*``/``?`` wildcards within ARN segments."""
    if pattern == "*":
        return True
    return _wildcard_regex(pattern, False, True).fullmatch(resource) is not None


def match_string_like(pattern: str, value: str) -> bool:
    """``StringLike``: case-sensitive, ``*`` and ``?`` anywhere in the string."""
    return _wildcard_regex(pattern, False, False).fullmatch(value) is not None


def match_arn_like(pattern: str, value: str) -> bool:
    """``ArnLike``/``ArnEquals``: each of the six colon-separated parts matched on its own."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(match_string_like(p, v) for p, v in zip(pattern_parts, value_parts))


# -- conditions ---------------------------------------------------------------------------------

def normalise_context(context: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Request context with lower-case key names and every value as a list of strings.

    A key whose value is ``None`` or an empty list counts as absent.
    """
    result: dict[str, list[str]] = {}
    for key, value in (context or {}).items():
        values = [_as_text(item) for item in _as_list(value) if item is not None]
        if values:
            result[key.lower()] = values
    return result


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _numbers(a: str, b: str) -> tuple[float, float] | None:
    try:
        return float(a), float(b)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def match(request_value: str, policy_value: str) -> bool:
        pair = _numbers(request_value, policy_value)
        return pair is not None and compare(*pair)
    return match


# operator -> (does one request value match one policy value, is the operator negated)
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.casefold() == p.casefold(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.casefold() == p.casefold(), True),
    "StringLike": (lambda v, p: match_string_like(p, v), False),
    "StringNotLike": (lambda v, p: match_string_like(p, v), True),
    "ArnEquals": (lambda v, p: match_arn_like(p, v), False),
    "ArnLike": (lambda v, p: match_arn_like(p, v), False),
    "ArnNotEquals": (lambda v, p: match_arn_like(p, v), True),
    "ArnNotLike": (lambda v, p: match_arn_like(p, v), True),
    "Bool": (lambda v, p: v.lower() == p.lower(), False),
    "NumericEquals": (_numeric(lambda v, p: v == p), False),
    "NumericNotEquals": (_numeric(lambda v, p: v == p), True),
    "NumericLessThan": (_numeric(lambda v, p: v < p), False),
    "NumericLessThanEquals": (_numeric(lambda v, p: v <= p), False),
    "NumericGreaterThan": (_numeric(lambda v, p: v > p), False),
    "NumericGreaterThanEquals": (_numeric(lambda v, p: v >= p), False),
}


def conditions_hold(condition: Mapping[str, Any] | None,
                    context: Mapping[str, list[str]]) -> bool:
    """Whether a statement's ``Condition`` block holds for a normalised request *context*."""
    for operator, tests in (condition or {}).items():
        if not isinstance(tests, Mapping):
            return False
        for key, policy_values in tests.items():
            wanted = [_as_text(value) for value in _as_list(policy_values)]
            if not condition_test(operator, key, wanted, context):
                return False
    return True


def condition_test(operator: str, key: str, policy_values: list[str],
                   context: Mapping[str, list[str]]) -> bool:
    """One ``"Operator": {"key": [values]}`` test against a normalised request context."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    request_values = context.get(key.lower())

    if base == "Null":
        is_absent = request_values is None
        return any((value.lower() == "true") == is_absent for value in policy_values)
    if base not in OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        return False
    match, negated = OPERATORS[base]

    if request_values is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated

    def matches_any(value: str) -> bool:
        return any(match(value, wanted) for wanted in policy_values)

    def holds_for(value: str) -> bool:
        return not matches_any(value) if negated else matches_any(value)

    if qualifier == "ForAllValues":
        return all(holds_for(value) for value in request_values)
    if qualifier == "ForAnyValue":
        return any(holds_for(value) for value in request_values)
    # A single-valued operator given several request values: a positive operator needs one of
    # them to match; a negated one needs none of them to match.
    if negated:
        return not any(matches_any(value) for value in request_values)
    return any(matches_any(value) for value in request_values)
