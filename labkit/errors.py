"""Errors a learner can act on.

A :class:`LabError` carries what went wrong and what to do next, in plain words. In a notebook
labkit shows it as two short lines instead of a traceback (see :mod:`labkit.notebook`); on the
command line it is printed and the command exits non-zero.
"""

from __future__ import annotations


class LabError(Exception):
    """Something the learner can fix: *what* happened, and *todo*, the next step."""

    def __init__(self, what: str, todo: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.todo = todo

    def __str__(self) -> str:
        return f"{self.what}\n→ {self.todo}" if self.todo else self.what


def explain(exc: BaseException) -> tuple[str, str] | None:
    """*what* and *todo* for an error a learner can meet in a cell, or None if unknown.

    Pure: looks only at the exception. Used by the notebook error display and the CLI.
    """
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(exc, LabError):
        return exc.what, exc.todo
    if isinstance(exc, NoCredentialsError):
        from .aws import NO_CREDENTIALS_TODO

        return "boto3 found no AWS credentials.", NO_CREDENTIALS_TODO
    if isinstance(exc, NoRegionError):
        return "No AWS region is set.", "Pass region='ap-northeast-2' (or your region)."
    if isinstance(exc, EndpointConnectionError):
        url = str(getattr(exc, "kwargs", {}).get("endpoint_url", ""))
        if "127.0.0.1" in url or "localhost" in url:
            return ("The local cloud does not answer (it may have been stopped or restarted).",
                    "Re-run the notebook's first cells: they start it again. A restarted local "
                    "cloud starts empty, so re-run the earlier notebooks too.")
        return f"Could not reach {url or 'AWS'}.", "Check the region and your network."
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        operation = exc.operation_name
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                    "AuthorizationError"):
            return (f"AWS denied {operation}: {message}",
                    "The identity that made the call lacks a permission; the message names it. "
                    "Add it to that identity's policy (or ask your instructor), then re-run.")
        if code in ("NotFound", "NotFoundException", "ResourceNotFoundException",
                    "NoSuchEntity", "ResourceNotFound"):
            return (f"{operation}: {message or 'not found'}",
                    "A resource an earlier step creates is missing: run that notebook first.")
        return (f"AWS answered {code} to {operation}: {message}",
                "Read the message above: it names the parameter or resource to fix.")
    return None
