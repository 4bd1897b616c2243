"""Reading pieces of what the learner built, as the checks and the export both need them: the
topic by its name, and policy documents (IAM's, KMS's, a function's resource policy) in
whatever form the service hands them over."""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab


def find_topic_arn(lab: Lab) -> str | None:
    """The ARN of the learner's topic, found among the account's topics; None without one."""
    sns = lab.client("sns")
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == lab.names.topic:
                return topic["TopicArn"]
    return None


def policy_document(value: Any) -> dict:
    """A policy document as a service hands it over: a dict, JSON text, or URL-encoded JSON
    (IAM's)."""
    if isinstance(value, dict):
        return value
    text = value if value.lstrip().startswith("{") else urllib.parse.unquote(value)
    return json.loads(text)


def statements(document: Any) -> list[dict]:
    """The statements of a policy *document* (any form :func:`policy_document` reads), always
    a list (a document may hold a single statement)."""
    found = policy_document(document).get("Statement", [])
    return found if isinstance(found, list) else [found]


def sns_may_invoke(policy: Any, topic_arn: str | None) -> bool:
    """Whether a function's resource *policy* lets SNS invoke it for the topic *topic_arn*."""
    return bool(policy) and bool(topic_arn) and any(
        s.get("Principal", {}).get("Service") == "sns.amazonaws.com"
        and topic_arn in json.dumps(s.get("Condition", {})) for s in statements(policy))
