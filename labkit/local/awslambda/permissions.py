"""Lambda resource policies as AWS keeps them: one statement per statement id.

moto 5.2 appends a second statement when ``add_permission`` is called again with the same
``StatementId``; AWS refuses with ``ResourceConflictException``. Notebooks rely on that answer to
be safe to re-run, so the local cloud gives it.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda import policy as moto_policy
from moto.awslambda.exceptions import LambdaClientError

_original = moto_policy.Policy.add_statement


class StatementIdConflict(LambdaClientError):
    code = 409

    def __init__(self, sid: str) -> None:
        super().__init__("ResourceConflictException",
                         f"The statement id ({sid}) provided already exists. Please provide a "
                         "new statement id, or remove the existing statement.")


def _add_statement(self: Any, raw: str, qualifier: str | None = None) -> tuple[Any, str]:
    sid = json.loads(raw).get("StatementId")
    if sid and any(statement.get("Sid") == sid for statement in self.statements):
        raise StatementIdConflict(sid)
    return _original(self, raw, qualifier)


def install() -> None:
    """Patch moto once; raises if the method it wraps has moved."""
    if not callable(getattr(moto_policy.Policy, "add_statement", None)):
        raise RuntimeError("moto.awslambda.policy.Policy.add_statement has moved")
    moto_policy.Policy.add_statement = _add_statement  # type: ignore[method-assign]
