"""Which failures of a Temporal call are an outage (answered "try again"), and which are not.

The answers below are the ones the client gave in chaos runs while the dev server restarted.
"""

from __future__ import annotations

import pytest
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from connection import outage_reason


@pytest.mark.parametrize(
    "error",
    [
        RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b""),  # server down
        RPCError("transport error", RPCStatusCode.UNKNOWN, b""),  # killed during the call
        RPCError("Timeout expired", RPCStatusCode.DEADLINE_EXCEEDED, b""),
        RPCError("namespace rate limit exceeded", RPCStatusCode.RESOURCE_EXHAUSTED, b""),
        RPCTimeoutOrCancelledError("Timeout expired"),
    ],
    ids=["unavailable", "transport", "deadline", "exhausted", "client-timeout"],
)
def test_an_unreachable_or_restarting_server_is_an_outage(error: Exception) -> None:
    reason = outage_reason(error)
    assert reason is not None and "\n" not in reason


@pytest.mark.parametrize(
    "error",
    [
        RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""),
        RPCError("bad input", RPCStatusCode.INVALID_ARGUMENT, b""),
        RPCError("something odd", RPCStatusCode.UNKNOWN, b""),
        RPCError("denied", RPCStatusCode.PERMISSION_DENIED, b""),
        RuntimeError("a bug"),
    ],
    ids=["not-found", "invalid", "unknown", "denied", "bug"],
)
def test_refusals_and_bugs_are_not_outages(error: Exception) -> None:
    assert outage_reason(error) is None
