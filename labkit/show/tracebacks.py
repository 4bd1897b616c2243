"""Friendly errors in notebooks: two short lines instead of a library's traceback.

The cell still fails (papermill and nbval see an error), but the learner reads what happened and
what to do. Other errors keep IPython's normal traceback. Either way every webhook secret is
masked: an HTTP library's error message quotes the URL it failed to reach, secret and all.
"""

from __future__ import annotations

from typing import Any

from ..errors import explain
from ..masking import mask_secrets

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


class _MaskedValue:
    """Stands in for an exception where only its text is used (the error's ``evalue``)."""

    def __init__(self, value: BaseException) -> None:
        self.value = value

    def __str__(self) -> str:
        return mask_secrets(str(self.value))


def _handler(shell: Any, etype: type, value: BaseException, tb: Any,
             tb_offset: int | None = None) -> list[str]:
    lines = format_error(value)
    if lines is None:
        lines = [mask_secrets(line) for line in
                 shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)]
    # IPython ignores what a custom handler returns: show it here. In a kernel this sends the
    # error to the front end (and to papermill and nbval) with these lines as its traceback.
    shell._showtraceback(etype, _MaskedValue(value), lines)
    return lines


def install_error_display() -> None:
    """In the running IPython (if any): known errors in brief, every traceback masked."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.set_custom_exc((Exception,), _handler)
