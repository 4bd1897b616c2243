"""Bounded retries for AWS's eventual consistency.

Some changes take a few seconds to reach every part of AWS. Two of them meet the lab:

* a role created a moment ago may not be usable by Lambda yet: ``create_function`` answers
  ``InvalidParameterValueException: The role defined for the function cannot be assumed by
  Lambda.``;
* a policy attached a moment ago may not apply yet: the function's ``kms:Decrypt`` is denied
  for a few seconds, and the invocation returns the AccessDenied error in its payload.

:func:`until_consistent` repeats such a call a bounded number of times. The local cloud is
consistent at once, so there the call runs exactly once (:meth:`labkit.lab.Lab.until_consistent`).
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from botocore.exceptions import ClientError

from .i18n import t

T = TypeVar("T")

#: ``retry_on`` for create_function right after the role was created.
NEW_ROLE = ("InvalidParameterValueException: cannot be assumed by Lambda",)


def matches(error: ClientError, retry_on: tuple[str, ...]) -> bool:
    """Whether *error* is one of *retry_on*.

    Each item is an error code (``"AccessDeniedException"``) or a code and a piece of the
    message (``"InvalidParameterValueException: cannot be assumed"``): the code alone would also
    retry a real mistake in a parameter, which no waiting fixes.
    """
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    for item in retry_on:
        wanted, _, fragment = item.partition(": ")
        if code == wanted.strip() and fragment.strip().lower() in message.lower():
            return True
    return False


def until_consistent(call: Callable[[], T], *, retry_on: tuple[str, ...] = (),
                     retry_if: Callable[[T], bool] | None = None, attempts: int = 10,
                     delay: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                     say: Callable[[str], None] = print) -> T:
    """``call()``, repeated up to *attempts* times while AWS has not caught up yet.

    It is repeated when it raises a ClientError listed in *retry_on* (see :func:`matches`), or
    when *retry_if* says its result is not the final one. One short line per wait is passed to
    *say*. After the last attempt the error is raised (the notebook explains it) or the last
    result is returned (the step's check says what is wrong).
    """
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        last = attempt == attempts
        try:
            result = call()
        except ClientError as error:
            if last or not matches(error, retry_on):
                raise
            details = error.response.get("Error", {})
            reason = f"{details.get('Code', '')}: {details.get('Message', '')}"
        else:
            if retry_if is None or not retry_if(result):
                return result
            if last:
                say(t("consistency.gave_up", attempts=attempts))
                return result
            reason = t("consistency.not_yet")
        say(t("consistency.retrying", reason=_short(reason), delay=delay, attempt=attempt + 1,
              attempts=attempts))
        sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises on its last attempt


def _short(text: str, limit: int = 110) -> str:
    """*text* on one line, cut to *limit* characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
