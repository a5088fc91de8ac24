"""Phone Numbers activities: holds, purchase (exactly once), capabilities, release, LRO polls.

Each forward step checks what already happened before it writes, because Temporal retries an
activity whose worker died after ACS acted but before the result was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

import phonenumbers
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from acs import (
    POLL_SCHEDULE,
    AcsConflictError,
    AcsNotFoundError,
    AcsReleaseByServiceDeskError,
    AcsValidationError,
    OperationKind,
    OperationRef,
    OperationStatus,
    PurchasedPhoneNumber,
    ReservationStatus,
)
from contracts import metrics
from contracts.activities import (
    LroHandle,
    LroOutcome,
    NumberOnRecord,
    NumbersInspection,
    OwnedNumbers,
    PurchaseInput,
    ReleaseNumbersInput,
    ReleaseNumbersResult,
)
from contracts.error_types import (
    OPERATION_PENDING,
    RELEASE_BLOCKED,
    RELEASE_FAILED,
)
from contracts.provision import Capabilities, CapabilityType, HoldStrategy

from ._capabilities import CapabilityActivities
from ._errors import acs_errors_as_application_errors
from ._holds import HoldActivities
from ._phone_numbers_base import BULK_OWNERSHIP, count, handle_of, hold_expired, is_expired

__all__ = ["PhoneNumberActivities"]

_RELEASE_DEADLINE_SECONDS = 300.0
"""How long one release operation is waited for before the activity gives up (and retries)."""


def _pending(message: str, delay: float | None) -> ApplicationError:
    """An operation is still running: the activity's retries are the polling loop.

    ``delay`` sets the next attempt; without one the retry policy's interval does.
    """
    return ApplicationError(
        message,
        type=OPERATION_PENDING,
        category=ApplicationErrorCategory.BENIGN,  # the polling loop, not a failure: no log
        next_retry_delay=None if delay is None else timedelta(seconds=delay),
    )


def _since_scheduled() -> float:
    """Seconds since this activity's first attempt was scheduled: the poll schedule's anchor."""
    return (datetime.now(UTC) - activity.info().scheduled_time).total_seconds()


def _known_purchase(kind: OperationKind, hold_id: str) -> LroHandle:
    """The handle of a hold's purchase, named by ACS after the hold: known before any POST."""
    operation_id = f"{kind.value}_{hold_id}"
    return LroHandle(
        operation_id=operation_id,
        operation_location=f"/phoneNumbers/operations/{operation_id}",
        kind=kind.value,
        resource_id=hold_id,
    )


def _on_record(record: PurchasedPhoneNumber) -> NumberOnRecord:
    """What a claim remembers of an owned number: its capabilities now, and its cost."""
    return NumberOnRecord(
        phone_number=record.phone_number,
        capabilities=Capabilities(
            calling=CapabilityType(record.capabilities.calling.value),
            sms=CapabilityType(record.capabilities.sms.value),
        ),
        monthly_cost=record.cost.amount,
        currency=record.cost.currency_code,
    )


def _ref(handle: LroHandle) -> OperationRef:
    assert handle.operation_id and handle.operation_location, "a started operation"
    return OperationRef(
        operation_id=handle.operation_id,
        operation_location=handle.operation_location,
        kind=OperationKind(handle.kind),
        resource_id=handle.resource_id,
        location=handle.location,
    )


class PhoneNumberActivities(HoldActivities, CapabilityActivities):
    """Activities over one :class:`acs.PhoneNumbersClient` (shared, pooled).

    Holds and capabilities come from their mixins; purchase, LRO polls and release are here.
    """

    # -- purchase ------------------------------------------------------------------------------

    @activity.defn
    async def begin_purchase(self, purchase: PurchaseInput) -> LroHandle:
        """Start buying a hold, unless that purchase already happened or is under way.

        ACS has no repeatability header, but a purchase's operation id is known before its
        POST (``reservationPurchase_<reservationId>``, ``purchase_<searchId>``). So a retry
        (the answer to an earlier POST may have been lost) first asks ACS: a purchase under
        way is followed, not POSTed again; a finished one is done.
        """
        with acs_errors_as_application_errors():
            try:
                if purchase.strategy is HoldStrategy.RESERVATION:
                    return await self._begin_reservation_purchase(purchase)
                return await self._begin_search_purchase(purchase)
            except AcsNotFoundError as error:
                raise hold_expired(f"the hold is gone: {error.message}") from error
            except AcsValidationError as error:
                if is_expired(error):
                    raise hold_expired(error.message) from error
                raise

    async def _begin_reservation_purchase(self, purchase: PurchaseInput) -> LroHandle:
        reservation = await self._client.get_reservation(purchase.hold_id)
        if reservation.status is ReservationStatus.COMPLETED:
            return LroHandle(kind=OperationKind.RESERVATION_PURCHASE.value, done=True)
        if reservation.status is ReservationStatus.SUBMITTED:
            return _known_purchase(OperationKind.RESERVATION_PURCHASE, purchase.hold_id)
        if reservation.status is ReservationStatus.EXPIRED:
            raise hold_expired("the reservation expired before the purchase")
        ref = await self._client.begin_purchase_reservation(
            purchase.hold_id, agree_to_not_resell=purchase.agree_to_not_resell
        )
        return handle_of(ref)

    async def _begin_search_purchase(self, purchase: PurchaseInput) -> LroHandle:
        known = _known_purchase(OperationKind.PURCHASE, purchase.hold_id)
        try:
            poll = await self._client.get_operation(str(known.operation_id))
        except AcsNotFoundError:
            poll = None
        if poll is not None and poll.status is not OperationStatus.FAILED:
            return known  # running or done: follow it
        if await self._all_owned(purchase.numbers):
            return LroHandle(kind=OperationKind.PURCHASE.value, done=True)
        ref = await self._client.begin_purchase_phone_numbers(
            purchase.hold_id, agree_to_not_resell=purchase.agree_to_not_resell
        )
        return handle_of(ref)

    @activity.defn
    async def settle_purchase(self, purchase: PurchaseInput) -> OwnedNumbers:
        """Return once no purchase of this hold is in flight, whether or not one was started.

        The purchase's identity is known before its POST: a reservation is bought under its
        own id, and a search's purchase operation is ``purchase_<searchId>``. So this asks ACS
        instead of trusting that a handle reached the workflow: the POST may have been
        accepted with its answer lost, or its result dropped by a cancel. While the purchase
        runs this raises ``OperationPending`` (the retry policy is the polling loop), so a
        compensation that releases afterwards cannot race it. Returns which of the hold's
        numbers are owned then, with their purchase dates, for that release.
        """
        with acs_errors_as_application_errors():
            if purchase.strategy is HoldStrategy.RESERVATION:
                try:
                    reservation = await self._client.get_reservation(purchase.hold_id)
                except AcsNotFoundError:
                    reservation = None
                if reservation is None or reservation.status is not ReservationStatus.SUBMITTED:
                    return await self._owned(purchase.numbers)
                retry_after = None
            else:
                try:
                    poll = await self._client.get_operation(
                        str(_known_purchase(OperationKind.PURCHASE, purchase.hold_id).operation_id)
                    )
                except AcsNotFoundError:
                    poll = None  # never accepted: there is nothing to wait for
                if poll is None or poll.status.is_terminal:
                    return await self._owned(purchase.numbers)
                retry_after = poll.retry_after
        raise _pending("the purchase of this hold is still running", retry_after)

    @activity.defn
    async def owned_numbers(self, numbers: ReleaseNumbersInput) -> tuple[str, ...]:
        """Which of these numbers the resource owns now."""
        with acs_errors_as_application_errors():
            return tuple((await self._owned(numbers.numbers)).purchased_at)

    @activity.defn
    async def ownership(self, numbers: ReleaseNumbersInput) -> OwnedNumbers:
        """Which of these numbers the resource owns now, with their purchase dates."""
        with acs_errors_as_application_errors():
            return await self._owned(numbers.numbers)

    async def _owned(self, numbers: tuple[str, ...]) -> OwnedNumbers:
        if len(numbers) > BULK_OWNERSHIP:
            wanted = set(numbers)
            return OwnedNumbers(
                purchased_at={
                    owned.phone_number: owned.purchase_date
                    async for owned in self._client.list_purchased_phone_numbers()
                    if owned.phone_number in wanted
                }
            )
        dates = {}
        for number in numbers:
            try:
                owned = await self._client.get_purchased_phone_number(number)
            except AcsNotFoundError:
                continue
            dates[number] = owned.purchase_date
        return OwnedNumbers(purchased_at=dates)

    @activity.defn
    async def inspect_numbers(self, numbers: ReleaseNumbersInput) -> NumbersInspection:
        """Which named numbers the resource owns, with the capabilities and cost ACS records.

        What a claim of numbers from outside (a port, a special order) checks before it
        changes anything, and the capabilities it will give back when the ticket lets them go.
        """
        records: dict[str, PurchasedPhoneNumber] = {}
        with acs_errors_as_application_errors():
            if len(numbers.numbers) > BULK_OWNERSHIP:  # one listing, not a GET per number
                wanted = set(numbers.numbers)
                async for record in self._client.list_purchased_phone_numbers():
                    if record.phone_number in wanted:
                        records[record.phone_number] = record
            else:
                for index, number in enumerate(numbers.numbers):
                    activity.heartbeat(index)
                    with contextlib.suppress(AcsNotFoundError):
                        records[number] = await self._client.get_purchased_phone_number(number)
        owned = [_on_record(records[n]) for n in numbers.numbers if n in records]
        missing = [n for n in numbers.numbers if n not in records]
        return NumbersInspection(owned=tuple(owned), missing=tuple(missing))

    async def _all_owned(self, numbers: tuple[str, ...]) -> bool:
        return bool(numbers) and len((await self._owned(numbers)).purchased_at) == len(numbers)

    # -- operations ----------------------------------------------------------------------------

    @activity.defn
    async def poll_operation(self, handle: LroHandle) -> LroOutcome:
        """Poll an operation on ``POLL_SCHEDULE``, counted from when this activity was scheduled.

        While it runs this raises ``OperationPending`` with the delay to the schedule's next
        point (or the service's ``Retry-After``), so the retries are the polling loop (they are
        not written to history) and the workflow's ``schedule_to_close_timeout`` is the overall
        deadline. The first attempt waits for the schedule's first point: an operation is never
        done the instant it starts.
        """
        if handle.done:
            return LroOutcome(succeeded=True)
        if activity.info().attempt == 1:
            await asyncio.sleep(POLL_SCHEDULE.delay(_since_scheduled()))
        with acs_errors_as_application_errors():
            poll = await self._client.get_operation(_ref(handle))
        count(metrics.ACS_LRO_POLLS, operation=handle.kind)
        if poll.status is OperationStatus.SUCCEEDED:
            return LroOutcome(succeeded=True)
        if poll.status is OperationStatus.FAILED:
            error = poll.operation.error
            return LroOutcome(
                succeeded=False,
                error_code=error.code if error else "OperationFailed",
                error_message=error.message if error else None,
            )
        delay = poll.retry_after
        if delay is None:
            delay = POLL_SCHEDULE.delay(_since_scheduled())
        raise _pending(f"{handle.kind} operation is {poll.status}", delay)

    # -- release -------------------------------------------------------------------------------

    @activity.defn
    async def release_numbers(self, release: ReleaseNumbersInput) -> ReleaseNumbersResult:
        """Release owned numbers and wait until ACS has released them (compensation path).

        Numbers not owned (never bought, or released already) are skipped; a retry restarts
        nothing that is under way, because ACS returns the release in flight. A number the
        service will not release yet (409: e.g. a capability update of a cancelled saga is
        still running) is retried later rather than left behind.
        """
        started: list[LroHandle] = []
        gone: list[str] = []
        by_hand = [n for n in release.numbers if self._released_by_service_desk(n)]
        with acs_errors_as_application_errors():
            ours = await self._all_still_ours(release)
            for index, number in enumerate(release.numbers):
                activity.heartbeat(index)  # a large release starts one LRO per number
                if number in by_hand:
                    continue
                if ours is not None:
                    mine = number in ours
                else:
                    mine = await self._still_ours(number, release.purchased_at)
                if not mine:
                    gone.append(number)
                    continue
                try:
                    started.append(handle_of(await self._client.begin_release_phone_number(number)))
                except AcsNotFoundError:
                    gone.append(number)
                except AcsReleaseByServiceDeskError:
                    by_hand.append(number)  # a country the configuration did not list
                except AcsConflictError as error:
                    raise ApplicationError(
                        f"the service will not release a number yet: {error.message}",
                        type=RELEASE_BLOCKED,
                    ) from error
            for handle in started:
                await self._wait_released(handle)
        return ReleaseNumbersResult(
            started=tuple(started), already_gone=tuple(gone), by_service_desk=tuple(by_hand)
        )

    def _released_by_service_desk(self, number: str) -> bool:
        """Whether the number's country releases only through Microsoft's service desk."""
        if not self._service_desk_countries:
            return False
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
        return region in self._service_desk_countries

    async def _all_still_ours(self, release: ReleaseNumbersInput) -> set[str] | None:
        """For a large release, which numbers are still ours, from one listing (else None)."""
        if release.purchased_at is None or len(release.numbers) <= BULK_OWNERSHIP:
            return None
        now = (await self._owned(release.numbers)).purchased_at
        return {n for n, at in release.purchased_at.items() if now.get(n) == at}

    async def _still_ours(self, number: str, purchased_at: dict[str, datetime] | None) -> bool:
        """Owned by the purchase the caller knows (its date), not bought again by another."""
        if purchased_at is None:
            return True  # callers from before purchase dates were recorded
        if number not in purchased_at:
            return False
        try:
            owned = await self._client.get_purchased_phone_number(number)
        except AcsNotFoundError:
            return False
        return owned.purchase_date == purchased_at[number]

    async def _wait_released(self, handle: LroHandle) -> None:
        """Poll the release on ``POLL_SCHEDULE`` (or ACS's ``Retry-After``), heartbeating.

        The first poll is immediate: every release of the batch was started before the first
        wait, so by now most have ended.
        """
        begun = time.monotonic()
        delay = 0.0
        while time.monotonic() - begun + delay < _RELEASE_DEADLINE_SECONDS:
            await asyncio.sleep(delay)
            activity.heartbeat(handle.operation_id)
            poll = await self._client.get_operation(_ref(handle))
            count(metrics.ACS_LRO_POLLS, operation=handle.kind)
            if poll.status is OperationStatus.SUCCEEDED:
                count(metrics.NUMBERS_RELEASED)
                return
            if poll.status is OperationStatus.FAILED:
                raise ApplicationError(f"release {handle.operation_id} failed", type=RELEASE_FAILED)
            delay = poll.retry_after or POLL_SCHEDULE.delay(time.monotonic() - begun)
        raise ApplicationError(
            f"release {handle.operation_id} still running", type=OPERATION_PENDING
        )
