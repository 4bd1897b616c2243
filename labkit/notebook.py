"""Friendly errors in notebooks: two short lines instead of a library's traceback.

The cell still fails (papermill and nbval see an error), but the learner reads what happened and
what to do, with any webhook secret masked. Unknown errors keep IPython's normal traceback.
"""

from __future__ import annotations

from typing import Any

from .errors import LabError, explain
from .masking import mask_secrets

_RED, _YELLOW, _RESET = "\x1b[1;31m", "\x1b[33m", "\x1b[0m"


def format_error(exc: BaseException) -> list[str] | None:
    """The lines to show for *exc*, or None when labkit has nothing better than a traceback."""
    explained = explain(exc)
    if explained is None:
        return None
    what, todo = (mask_secrets(part) for part in explained)
    lines = [f"{_RED}{type(exc).__name__}{_RESET}: {what}"]
    if todo:
        lines.append(f"{_YELLOW}→ {todo}{_RESET}")
    return lines


def _handler(shell: Any, etype: type, value: BaseException, tb: Any,
             tb_offset: int | None = None) -> list[str]:
    lines = format_error(value)
    if lines is None:
        lines = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    # IPython ignores what a custom handler returns: show it here. In a kernel this sends the
    # error to the front end (and to papermill and nbval) with these lines as its traceback.
    shell._showtraceback(etype, value, lines)
    return lines


def install_error_display() -> None:
    """Show labkit's and boto3's common errors briefly in the running IPython, if any."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    shell.set_custom_exc((LabError, ClientError, BotoCoreError), _handler)
