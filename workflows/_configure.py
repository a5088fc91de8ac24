"""The saga's configuring step: give every bought number its final capabilities."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities
    from contracts.activities import (
        CapabilityBatchInput,
        CapabilityBatchResult,
        CapabilityFailure,
        CapabilityUpdateInput,
    )
    from contracts.error_types import CAPABILITY_UPDATE_FAILED
    from contracts.provision import Capabilities

    from ._operations import expect_success, poll, raise_if_cancelled
    from ._policies import (
        CONFIGURE_BATCH,
        CONFIGURE_CONCURRENCY,
        HEARTBEAT,
        LRO_DEADLINE,
        SIDE_EFFECT_STEP,
        adjusted,
    )

__all__ = ["configure_in_batches", "configure_one_by_one"]


async def configure_in_batches(numbers: tuple[str, ...], wanted: Capabilities) -> None:
    """Batches of numbers in parallel; once all have finished, the failures fail the step."""
    slots = asyncio.Semaphore(CONFIGURE_CONCURRENCY)

    async def configure(batch: tuple[str, ...]) -> CapabilityBatchResult:
        async with slots:
            return await workflow.execute_activity_method(
                PhoneNumberActivities.update_capabilities,
                CapabilityBatchInput(phone_numbers=batch, capabilities=wanted),
                **adjusted(
                    SIDE_EFFECT_STEP,
                    start_to_close_timeout=LRO_DEADLINE,
                    heartbeat_timeout=HEARTBEAT,
                ),
            )

    batches = [numbers[i : i + CONFIGURE_BATCH] for i in range(0, len(numbers), CONFIGURE_BATCH)]
    results = await asyncio.gather(*(configure(b) for b in batches), return_exceptions=True)
    raise_if_cancelled()
    failures: list[CapabilityFailure] = []
    for result in results:  # every batch has finished; now report what failed
        if isinstance(result, BaseException):
            raise result
        failures += result.failures
    if failures:
        first = failures[0]
        raise ApplicationError(
            f"capability update failed for {len(failures)} of {len(numbers)} numbers: "
            f"{first.error_code}: {first.error_message or 'no message'}",
            {"code": first.error_code},
            type=CAPABILITY_UPDATE_FAILED,
            non_retryable=True,
        )


async def configure_one_by_one(numbers: tuple[str, ...], wanted: Capabilities) -> None:
    """Runs started before the batches: two activities per number, some in parallel."""
    slots = asyncio.Semaphore(CONFIGURE_CONCURRENCY)

    async def configure(number: str) -> None:
        async with slots:
            handle = await workflow.execute_activity_method(
                PhoneNumberActivities.begin_update_capabilities,
                CapabilityUpdateInput(phone_number=number, capabilities=wanted),
                **SIDE_EFFECT_STEP,
            )
            expect_success(await poll(handle), "capability update", CAPABILITY_UPDATE_FAILED)

    results = await asyncio.gather(*(configure(n) for n in numbers), return_exceptions=True)
    raise_if_cancelled()
    for result in results:  # every update has finished; now report the first failure
        if isinstance(result, BaseException):
            raise result
