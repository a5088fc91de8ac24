"""Capability activities: change what numbers may do (calling, SMS) after the purchase."""

from __future__ import annotations

import asyncio
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from acs import (
    POLL_SCHEDULE,
    AcsConflictError,
    OperationKind,
    OperationRef,
    OperationStatus,
    PhoneNumberCapabilities,
)
from contracts import metrics
from contracts.activities import (
    CapabilityBatchInput,
    CapabilityBatchResult,
    CapabilityFailure,
    CapabilityUpdateInput,
    LroHandle,
)
from contracts.error_types import CAPABILITY_UPDATE_IN_PROGRESS

from ._errors import acs_errors_as_application_errors
from ._phone_numbers_base import BULK_OWNERSHIP, PhoneNumbersActivityBase, count, handle_of

__all__ = ["CapabilityActivities"]


class CapabilityActivities(PhoneNumbersActivityBase):
    """One number's update (started here, polled by the poll activity), or a batch's, waited."""

    @activity.defn
    async def begin_update_capabilities(self, update: CapabilityUpdateInput) -> LroHandle:
        """Start a capability change, or report done when the number already has them."""
        wanted = update.capabilities
        with acs_errors_as_application_errors():
            number = await self._client.get_purchased_phone_number(update.phone_number)
            current = number.capabilities
            if (current.calling.value, current.sms.value) == (
                wanted.calling.value,
                wanted.sms.value,
            ):
                return LroHandle(kind=OperationKind.CAPABILITIES.value, done=True)
            try:
                ref = await self._client.begin_update_phone_number_capabilities(
                    update.phone_number, calling=wanted.calling.value, sms=wanted.sms.value
                )
            except AcsConflictError as error:
                # An update started by an earlier attempt is still running: come back later.
                raise ApplicationError(
                    "a capability update of this number is already running",
                    type=CAPABILITY_UPDATE_IN_PROGRESS,
                ) from error
        return handle_of(ref)

    @activity.defn
    async def update_capabilities(self, batch: CapabilityBatchInput) -> CapabilityBatchResult:
        """Give every number of the batch these capabilities, and wait until ACS has.

        One activity for many numbers: a 1,000-number ticket configures in ten activities,
        not two thousand, so its history stays small. Numbers that already have them are
        skipped, so a retry redoes nothing. An update found running (an earlier attempt's,
        409) is waited for by retrying the activity; a failed one is reported, not raised.
        """
        with acs_errors_as_application_errors():
            running, busy = await self._begin_updates(batch)
            failures = await self._wait_updates(running)
        if busy:
            raise ApplicationError(
                f"capability updates of {busy} numbers are already running",
                type=CAPABILITY_UPDATE_IN_PROGRESS,
            )
        return CapabilityBatchResult(failures=tuple(failures))

    async def _begin_updates(
        self, batch: CapabilityBatchInput
    ) -> tuple[list[tuple[str, OperationRef]], int]:
        """Start an update for each number that needs one; also count those already running."""
        wanted = batch.capabilities
        running: list[tuple[str, OperationRef]] = []
        busy = 0
        known = await self._capabilities_of(batch.phone_numbers)
        for index, number in enumerate(batch.phone_numbers):
            activity.heartbeat(index)
            current = (
                known.get(number)
                or (await self._client.get_purchased_phone_number(number)).capabilities
            )
            if (current.calling.value, current.sms.value) == (
                wanted.calling.value,
                wanted.sms.value,
            ):
                continue
            try:
                ref = await self._client.begin_update_phone_number_capabilities(
                    number, calling=wanted.calling.value, sms=wanted.sms.value
                )
            except AcsConflictError:
                busy += 1
                continue
            running.append((number, ref))
        return running, busy

    async def _wait_updates(
        self, running: list[tuple[str, OperationRef]]
    ) -> list[CapabilityFailure]:
        """Poll every running update on ``POLL_SCHEDULE`` until all ended; the failed ones."""
        failures: list[CapabilityFailure] = []
        begun = time.monotonic()
        pause = POLL_SCHEDULE.first
        while running:
            await asyncio.sleep(pause)
            activity.heartbeat(len(running))
            waiting: list[tuple[str, OperationRef]] = []
            retry_after = 0.0
            for number, ref in running:
                poll = await self._client.get_operation(ref)
                count(metrics.ACS_LRO_POLLS, operation=ref.kind.value)
                if poll.status is OperationStatus.FAILED:
                    error = poll.operation.error
                    failures.append(
                        CapabilityFailure(
                            phone_number=number,
                            error_code=error.code if error else "OperationFailed",
                            error_message=error.message if error else None,
                        )
                    )
                elif poll.status is not OperationStatus.SUCCEEDED:
                    waiting.append((number, ref))
                    retry_after = max(retry_after, poll.retry_after or 0.0)
            running = waiting
            pause = max(retry_after, POLL_SCHEDULE.delay(time.monotonic() - begun))
        return failures

    async def _capabilities_of(
        self, numbers: tuple[str, ...]
    ) -> dict[str, PhoneNumberCapabilities]:
        """For many numbers, their capabilities from one listing (few: read one by one)."""
        if len(numbers) <= BULK_OWNERSHIP:
            return {}
        wanted = set(numbers)
        return {
            owned.phone_number: owned.capabilities
            async for owned in self._client.list_purchased_phone_numbers()
            if owned.phone_number in wanted
        }
