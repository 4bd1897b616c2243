"""Lambda resource policies as AWS keeps them: one statement per statement id.

moto 5.2 appends a second statement when ``add_permission`` is called again with the same
``StatementId``; AWS refuses with ``ResourceConflictException``. Notebooks rely on that answer to
be safe to re-run, so the local cloud gives it (``labkit.local.moto_patches`` installs the wrapper
of ``moto.awslambda.policy.Policy.add_statement``).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from moto.awslambda.exceptions import LambdaClientError


class StatementIdConflict(LambdaClientError):
    code = 409

    def __init__(self, sid: str) -> None:
        super().__init__("ResourceConflictException",
                         f"The statement id ({sid}) provided already exists. Please provide a "
                         "new statement id, or remove the existing statement.")


def wrap_add_statement(original: Callable[..., tuple[Any, str]]) -> Callable[..., tuple[Any, str]]:
    """``Policy.add_statement``: a statement id already in the policy is refused, as on AWS."""
    def add_statement(self: Any, raw: str, qualifier: str | None = None) -> tuple[Any, str]:
        sid = json.loads(raw).get("StatementId")
        if sid and any(statement.get("Sid") == sid for statement in self.statements):
            raise StatementIdConflict(sid)
        return original(self, raw, qualifier)
    return add_statement
