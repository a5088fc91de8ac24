"""Phone Numbers activities: holds, purchase (exactly once), capabilities, release, LRO polls.

Each forward step checks what already happened before it writes, because Temporal retries an
activity whose worker died after ACS acted but before the result was recorded.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from acs import (
    POLL_SCHEDULE,
    AcsConflictError,
    AcsNotFoundError,
    AcsValidationError,
    AvailablePhoneNumber,
    OperationKind,
    OperationRef,
    OperationStatus,
    PhoneNumberAssignmentType,
    PhoneNumberCapabilities,
    PhoneNumberCapabilityType,
    PhoneNumbersClient,
    PhoneNumbersReservation,
    ReservationStatus,
)
from contracts import metrics
from contracts.activities import (
    CapabilityBatchInput,
    CapabilityBatchResult,
    CapabilityFailure,
    CapabilityUpdateInput,
    HoldInput,
    HoldResult,
    LroHandle,
    LroOutcome,
    OwnedNumbers,
    PurchaseInput,
    ReleaseHoldInput,
    ReleaseNumbersInput,
    ReleaseNumbersResult,
)
from contracts.error_types import (
    CAPABILITY_UPDATE_IN_PROGRESS,
    HOLD_EXPIRED,
    OPERATION_PENDING,
    RELEASE_BLOCKED,
    RELEASE_FAILED,
)
from contracts.provision import HoldStrategy, ProvisionRequest

from ._errors import acs_errors_as_application_errors

__all__ = ["PhoneNumberActivities"]

_BARREN_BROWSES = 3
"""Browses in a row that offer nothing new before the stock counts as exhausted."""
"""Between polls of a batch's running capability updates (unless ACS asks for longer)."""
_BULK_OWNERSHIP = 20
"""Above this many numbers, ownership is read from one listing, not one GET per number."""
_RELEASE_POLL_SECONDS = 1.0
_RELEASE_POLL_LIMIT = 300


def _hold_expired(message: str) -> ApplicationError:
    return ApplicationError(message, type=HOLD_EXPIRED, non_retryable=True)


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


def _handle(ref: OperationRef) -> LroHandle:
    return LroHandle(
        operation_id=ref.operation_id,
        operation_location=ref.operation_location,
        kind=ref.kind.value,
        resource_id=ref.resource_id,
        location=ref.location,
    )


def _known_purchase(kind: OperationKind, hold_id: str) -> LroHandle:
    """The handle of a hold's purchase, named by ACS after the hold: known before any POST."""
    operation_id = f"{kind.value}_{hold_id}"
    return LroHandle(
        operation_id=operation_id,
        operation_location=f"/phoneNumbers/operations/{operation_id}",
        kind=kind.value,
        resource_id=hold_id,
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


def _is_expired(error: AcsValidationError) -> bool:
    return error.code == "ReservationExpired" or "expired" in error.message.lower()


class PhoneNumberActivities:
    """Activities over one :class:`acs.PhoneNumbersClient` (shared, pooled)."""

    def __init__(self, client: PhoneNumbersClient) -> None:
        self._client = client

    # -- holds ---------------------------------------------------------------------------------

    @activity.defn
    async def acquire_reservation(self, hold: HoldInput) -> HoldResult:
        """Reserve up to ``quantity`` numbers under the workflow-chosen reservation id.

        A retry finds the reservation it made and returns it instead of making another.
        """
        request = hold.request
        with acs_errors_as_application_errors():
            try:
                existing = await self._client.get_reservation(hold.hold_id)
            except AcsNotFoundError:
                existing = None
            if existing is not None and existing.status is not ReservationStatus.ACTIVE:
                raise _hold_expired(f"reservation is {existing.status}")
            if existing is None:
                existing = await self._client.create_or_update_reservation(
                    reservation_id=hold.hold_id
                )
            reservation = await self._top_up(hold.hold_id, existing, request)
            return _reservation_hold(hold.hold_id, reservation)

    async def _top_up(
        self, reservation_id: str, reservation: PhoneNumbersReservation, request: ProvisionRequest
    ) -> PhoneNumbersReservation:
        """Browse and add numbers until the reservation holds ``quantity`` or stock runs out.

        A browse offers a sample (20 on the service), so a large ticket takes many rounds: it
        goes on while browsing offers numbers not tried yet. A retried attempt continues from
        what the reservation already holds.
        """
        tried: set[str] = set(reservation.phone_numbers or {})
        barren = 0
        while (held := len(_reserved(reservation))) < request.quantity:
            activity.heartbeat(held)
            browse = await self._client.browse_available_phone_numbers(
                country_code=request.country_code,
                phone_number_type=request.phone_number_type.value,
                assignment_type=request.assignment_type.value,
                calling_capability=request.capabilities.calling.value,
                sms_capability=request.capabilities.sms.value,
                phone_number_prefixes=list(request.phone_number_prefixes) or None,
            )
            fresh = [n for n in browse.phone_numbers if n.id and n.id not in tried]
            if not fresh:
                barren += 1
                if barren >= _BARREN_BROWSES:
                    break  # the stock is exhausted (or only numbers that failed remain)
                continue
            barren = 0
            wanted = fresh[: request.quantity - held]
            tried |= {str(n.id) for n in wanted}
            reservation = await self._client.create_or_update_reservation(
                reservation_id=reservation_id,
                numbers_to_add=[_to_reserve(n, request) for n in wanted],
            )
            failed = [
                k for k, v in (reservation.phone_numbers or {}).items() if v and v.status == "error"
            ]
            if failed:  # keep the reservation clean: only numbers actually held stay in it
                reservation = await self._client.create_or_update_reservation(
                    reservation_id=reservation_id, numbers_to_remove=failed
                )
        return reservation

    @activity.defn
    async def begin_search(self, hold: HoldInput) -> LroHandle:
        """Start a classic search (holds ~16 min; a search cannot be cancelled, it lapses)."""
        request = hold.request
        with acs_errors_as_application_errors():
            ref = await self._client.begin_search_available_phone_numbers(
                request.country_code,
                request.phone_number_type.value,
                request.assignment_type.value,
                PhoneNumberCapabilities(
                    calling=request.capabilities.calling.value, sms=request.capabilities.sms.value
                ),
                area_code=request.area_code,
                quantity=request.quantity,
            )
        return _handle(ref)

    @activity.defn
    async def get_search_hold(self, search: LroHandle) -> HoldResult:
        """Read what a finished search holds."""
        with acs_errors_as_application_errors():
            result = await self._client.get_search_result(str(search.resource_id))
        return HoldResult(
            strategy=HoldStrategy.SEARCH,
            hold_id=result.search_id,
            numbers=tuple(result.phone_numbers),
            monthly_cost=result.cost.amount * len(result.phone_numbers),
            currency=result.cost.currency_code,
            expires_at=result.search_expires_by,
            no_resell_required=result.is_agreement_to_not_resell_required,
        )

    @activity.defn
    async def release_hold(self, hold: ReleaseHoldInput) -> None:
        """Delete an active reservation; anything else (gone, bought, expired, a search) is done."""
        if hold.strategy is HoldStrategy.SEARCH:
            activity.logger.info("search holds cannot be cancelled; this one lapses by itself")
            return
        with acs_errors_as_application_errors():
            try:
                reservation = await self._client.get_reservation(hold.hold_id)
                if reservation.status is ReservationStatus.ACTIVE:
                    await self._client.delete_reservation(hold.hold_id)
            except AcsNotFoundError:
                return

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
                raise _hold_expired(f"the hold is gone: {error.message}") from error
            except AcsValidationError as error:
                if _is_expired(error):
                    raise _hold_expired(error.message) from error
                raise

    async def _begin_reservation_purchase(self, purchase: PurchaseInput) -> LroHandle:
        reservation = await self._client.get_reservation(purchase.hold_id)
        if reservation.status is ReservationStatus.COMPLETED:
            return LroHandle(kind=OperationKind.RESERVATION_PURCHASE.value, done=True)
        if reservation.status is ReservationStatus.SUBMITTED:
            return _known_purchase(OperationKind.RESERVATION_PURCHASE, purchase.hold_id)
        if reservation.status is ReservationStatus.EXPIRED:
            raise _hold_expired("the reservation expired before the purchase")
        ref = await self._client.begin_purchase_reservation(
            purchase.hold_id, agree_to_not_resell=purchase.agree_to_not_resell
        )
        return _handle(ref)

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
        return _handle(ref)

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
        if len(numbers) > _BULK_OWNERSHIP:
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
        _count(metrics.ACS_LRO_POLLS, operation=handle.kind)
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

    # -- capabilities --------------------------------------------------------------------------

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
        return _handle(ref)

    @activity.defn
    async def update_capabilities(self, batch: CapabilityBatchInput) -> CapabilityBatchResult:
        """Give every number of the batch these capabilities, and wait until ACS has.

        One activity for many numbers: a 1,000-number ticket configures in ten activities,
        not two thousand, so its history stays small. Numbers that already have them are
        skipped, so a retry redoes nothing. An update found running (an earlier attempt's,
        409) is waited for by retrying the activity; a failed one is reported, not raised.
        """
        wanted = batch.capabilities
        running: list[tuple[str, OperationRef]] = []
        busy = 0
        failures: list[CapabilityFailure] = []
        with acs_errors_as_application_errors():
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
            begun = time.monotonic()
            pause = POLL_SCHEDULE.first
            while running:
                await asyncio.sleep(pause)
                activity.heartbeat(len(running))
                waiting: list[tuple[str, OperationRef]] = []
                retry_after = 0.0
                for number, ref in running:
                    poll = await self._client.get_operation(ref)
                    _count(metrics.ACS_LRO_POLLS, operation=ref.kind.value)
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
        if busy:
            raise ApplicationError(
                f"capability updates of {busy} numbers are already running",
                type=CAPABILITY_UPDATE_IN_PROGRESS,
            )
        return CapabilityBatchResult(failures=tuple(failures))

    async def _capabilities_of(
        self, numbers: tuple[str, ...]
    ) -> dict[str, PhoneNumberCapabilities]:
        """For many numbers, their capabilities from one listing (few: read one by one)."""
        if len(numbers) <= _BULK_OWNERSHIP:
            return {}
        wanted = set(numbers)
        return {
            owned.phone_number: owned.capabilities
            async for owned in self._client.list_purchased_phone_numbers()
            if owned.phone_number in wanted
        }

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
        with acs_errors_as_application_errors():
            ours = await self._all_still_ours(release)
            for index, number in enumerate(release.numbers):
                activity.heartbeat(index)  # a large release starts one LRO per number
                if ours is not None:
                    mine = number in ours
                else:
                    mine = await self._still_ours(number, release.purchased_at)
                if not mine:
                    gone.append(number)
                    continue
                try:
                    started.append(_handle(await self._client.begin_release_phone_number(number)))
                except AcsNotFoundError:
                    gone.append(number)
                except AcsConflictError as error:
                    raise ApplicationError(
                        f"the service will not release a number yet: {error.message}",
                        type=RELEASE_BLOCKED,
                    ) from error
            for handle in started:
                await self._wait_released(handle)
        return ReleaseNumbersResult(started=tuple(started), already_gone=tuple(gone))

    async def _all_still_ours(self, release: ReleaseNumbersInput) -> set[str] | None:
        """For a large release, which numbers are still ours, from one listing (else None)."""
        if release.purchased_at is None or len(release.numbers) <= _BULK_OWNERSHIP:
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
        for _ in range(_RELEASE_POLL_LIMIT):
            activity.heartbeat(handle.operation_id)
            poll = await self._client.get_operation(_ref(handle))
            _count(metrics.ACS_LRO_POLLS, operation=handle.kind)
            if poll.status is OperationStatus.SUCCEEDED:
                _count(metrics.NUMBERS_RELEASED)
                return
            if poll.status is OperationStatus.FAILED:
                raise ApplicationError(f"release {handle.operation_id} failed", type=RELEASE_FAILED)
            await asyncio.sleep(poll.retry_after or _RELEASE_POLL_SECONDS)
        raise ApplicationError(
            f"release {handle.operation_id} still running", type=OPERATION_PENDING
        )


def _count(name: str, value: int = 1, **labels: str) -> None:
    """Add to one of numberflow's counters (served with the worker's SDK metrics)."""
    activity.metric_meter().create_counter(name).add(value, labels)


def _to_reserve(number: AvailablePhoneNumber, request: ProvisionRequest) -> AvailablePhoneNumber:
    """The browsed number with the capabilities and assignment the ticket asked for."""
    return number.model_copy(
        update={
            "capabilities": PhoneNumberCapabilities(
                calling=PhoneNumberCapabilityType(request.capabilities.calling.value),
                sms=PhoneNumberCapabilityType(request.capabilities.sms.value),
            ),
            "assignment_type": PhoneNumberAssignmentType(request.assignment_type.value),
        }
    )


def _reserved(reservation: PhoneNumbersReservation) -> list[AvailablePhoneNumber]:
    return [
        n
        for n in (reservation.phone_numbers or {}).values()
        if n is not None and n.status == "reserved"
    ]


def _reservation_hold(reservation_id: str, reservation: PhoneNumbersReservation) -> HoldResult:
    reserved = _reserved(reservation)
    costs = [n.cost for n in reserved if n.cost is not None]
    return HoldResult(
        strategy=HoldStrategy.RESERVATION,
        hold_id=reservation_id,
        numbers=tuple(str(n.phone_number) for n in reserved),
        monthly_cost=sum((c.amount for c in costs), Decimal(0)),
        currency=costs[0].currency_code if costs else "",
        expires_at=reservation.expires_at,
        no_resell_required=any(bool(n.is_agreement_to_not_resell_required) for n in reserved),
    )
