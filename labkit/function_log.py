"""Reading a Lambda function's log: which lines belong to which invocation.

Lambda frames each invocation's lines with ``START RequestId: <id>``, ``END RequestId: <id>``
and ``REPORT RequestId: <id> Duration: ...``; the function's own lines in between carry no id.
Each execution environment writes to a log stream of its own and runs one invocation at a
time, so within one stream every line after a START belongs to that invocation.

That finds a notebook's own invocations among earlier ones in the same log group:

* a direct ``invoke`` answers with Lambda's request id (:func:`request_id`);
* an invocation SNS made is found by the SNS MessageId that the function logs for each record
  (:func:`invocations` with ``message_ids``).

Pure functions over ``filter_log_events``' events: the notebook makes the boto3 calls.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

_FRAME = re.compile(r"^(START|END|REPORT) RequestId: (\S+)")
_LAST_ID = re.compile(r"RequestId: ([0-9a-fA-F-]{8,})")


@dataclass
class Invocation:
    """One invocation's log lines, from its START line; ``ended`` once its REPORT arrived."""

    request_id: str
    stream: str
    lines: list[str] = field(default_factory=list)
    ended: bool = False


def request_id(answer: dict[str, Any]) -> str:
    """Lambda's request id of a synchronous ``invoke`` *answer*.

    The id the log tail names when the call asked for one (``LogType="Tail"``: the end of the
    invocation's log comes back base64 in ``LogResult``), else the answer's
    ``ResponseMetadata.RequestId``, which on AWS is the same id.
    """
    tail = answer.get("LogResult")
    if tail:
        found = _LAST_ID.findall(base64.b64decode(tail).decode("utf-8", "replace"))
        if found:
            return found[-1]
    return str(answer.get("ResponseMetadata", {}).get("RequestId", ""))


def split_invocations(events: Iterable[dict[str, Any]]) -> list[Invocation]:
    """Every invocation the *events* (``filter_log_events``' ``events``) show, in log order.

    Lines before an invocation's START in a stream (a page starting midway) are left out.
    """
    current: dict[str, Invocation] = {}
    found: list[Invocation] = []
    for event in events:
        line = str(event.get("message", "")).rstrip("\n")
        stream = str(event.get("logStreamName", ""))
        frame = _FRAME.match(line)
        if frame and frame.group(1) == "START":
            current[stream] = Invocation(frame.group(2), stream)
            found.append(current[stream])
        invocation = current.get(stream)
        if invocation is None:
            continue
        invocation.lines.append(line)
        if frame and frame.group(1) == "REPORT" and frame.group(2) == invocation.request_id:
            invocation.ended = True
            del current[stream]
    return found


def invocations(events: Iterable[dict[str, Any]], request_ids: Iterable[str] = (),
                message_ids: Iterable[str] = ()) -> list[Invocation]:
    """The invocations with one of *request_ids*, or that logged handling one of the SNS
    *message_ids* (the notifier's JSON lines carry ``"message_id"``), in log order."""
    wanted_ids = {i for i in request_ids if i}
    wanted_messages = {m for m in message_ids if m}
    return [invocation for invocation in split_invocations(events)
            if invocation.request_id in wanted_ids
            or wanted_messages & {_message_id(line) for line in invocation.lines}]


def _message_id(line: str) -> str:
    """The ``message_id`` of one of the function's JSON log lines; "" for any other line."""
    start = line.find("{")
    if start < 0:
        return ""
    try:
        record = json.loads(line[start:])
    except ValueError:
        return ""
    return str(record.get("message_id") or "") if isinstance(record, dict) else ""
