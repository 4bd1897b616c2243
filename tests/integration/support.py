"""Small helpers shared by the integration tests."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError


def poll(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Call *check* until it returns something truthy; fail after *timeout* seconds.

    Generous by default: the machine may be busy, and asynchronous work (a function invoked by
    SNS, an alarm waiting for its period) takes its own time.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout:.0f} s for {check}")
        time.sleep(interval)


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of the ClientError that *call* must raise."""
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"].get("Message", ""))
