"""Waiting for an ACS long-running operation from a workflow, and reading how it ended."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities
    from contracts.activities import LroHandle, LroOutcome
    from contracts.error_types import PROVISIONING_FAILED

    from ._policies import POLL, POLL_STEP, adjusted

__all__ = ["expect_success", "poll", "raise_if_cancelled"]


async def poll(handle: LroHandle, retry_policy: RetryPolicy = POLL) -> LroOutcome:
    """How the operation ended (one activity; its retries are the polling loop)."""
    if handle.done:
        return LroOutcome(succeeded=True)
    return await workflow.execute_activity_method(
        PhoneNumberActivities.poll_operation,
        handle,
        **adjusted(POLL_STEP, retry_policy=retry_policy),
    )


def expect_success(outcome: LroOutcome, what: str, error_type: str = PROVISIONING_FAILED) -> None:
    """A failed operation fails the step, for good, with the service's code."""
    if not outcome.succeeded:
        raise ApplicationError(
            f"{what} failed: {outcome.error_code}: {outcome.error_message or 'no message'}",
            {"code": outcome.error_code},
            type=error_type,
            non_retryable=True,
        )


def raise_if_cancelled() -> None:
    """A cancel that arrived while a side-effect step ran is acted on now."""
    if workflow.cancellation_reason() is not None:
        raise asyncio.CancelledError()
