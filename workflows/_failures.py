"""How a workflow reads a failure: its error type, its ACS code, one line for people.

Pure functions of an exception chain, shared by the workflows; passed through the sandbox.
"""

from __future__ import annotations

import asyncio
import re

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.error_types import (
        APPROVAL_EXPIRED,
        NUMBERS_NOT_DELIVERED,
        QUOTA_WAIT_EXPIRED,
        REJECTED,
    )
    from contracts.provision import Stage

__all__ = ["describe", "error_code", "error_message", "error_type", "outcome_of"]


def error_type(error: BaseException) -> str | None:
    """The ApplicationError type of an error or of the cause of an activity error."""
    while error is not None:
        if isinstance(error, ApplicationError):
            return error.type
        error = error.__cause__  # type: ignore[assignment]
    return None


def error_code(error: BaseException) -> str:
    """The ACS error code of a failure (inner code first), else its error type.

    The code is in the details of the activity's error, or in ``[Code]`` of a message that
    came back through the SIP writer; the chain is searched in that order.
    """
    chain: list[ApplicationError] = []
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError):
            chain.append(current)
        current = current.__cause__
    for failure in chain:
        for detail in failure.details:
            if isinstance(detail, dict) and (detail.get("inner_code") or detail.get("code")):
                return str(detail.get("inner_code") or detail.get("code"))
    for failure in chain:
        bracketed = re.search(r"\[(\w+)\]", failure.message)
        if bracketed:
            return bracketed.group(1)
    return (chain[0].type if chain else None) or type(error).__name__


def describe(error: BaseException) -> str:
    """A one-line reason with the ACS or business error type, for status and logs."""
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    wrappers = []
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError):
            # The business or ACS error says it all; "Activity task failed" around it is noise.
            return f"{current.type}: {current.message}"
        if isinstance(current, FailureError):
            wrappers.append(current.message)
        current = current.__cause__
    return " / ".join(wrappers) or repr(error)


def error_message(error: BaseException) -> str:
    """What the service (or the business rule) said, without the code it is filed under."""
    code = error_code(error)
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError):
            return current.message.removeprefix(f"{code}: ").removeprefix(f"[{code}] ")
        current = current.__cause__
    return describe(error)


def outcome_of(error: BaseException) -> Stage:
    """How a saga that stopped on ``error`` ends: cancelled, rejected, expired or failed."""
    if isinstance(error, asyncio.CancelledError) or workflow.cancellation_reason() is not None:
        return Stage.CANCELLED
    kind = error_type(error)
    if kind == REJECTED:
        return Stage.REJECTED
    if kind in (APPROVAL_EXPIRED, QUOTA_WAIT_EXPIRED, NUMBERS_NOT_DELIVERED):
        return Stage.EXPIRED
    return Stage.FAILED
