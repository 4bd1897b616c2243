"""IAM for functions: calls signed with a function's role credentials obey the role's policies.

(Placeholder: filled in by the IAM work; for now every call passes.)
"""

from __future__ import annotations

from typing import Callable


def wrap(app: Callable) -> Callable:
    return app


def control_app(environ: dict, start_response: Callable):  # noqa: ANN201
    start_response("404 Not Found", [("Content-Type", "application/json")])
    return [b'{"error": "not found"}']
