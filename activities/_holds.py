"""Hold activities: reserve numbers (or hold a search) while a human approves, and let go."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from temporalio import activity

from acs import (
    AcsNotFoundError,
    AvailablePhoneNumber,
    PhoneNumberAssignmentType,
    PhoneNumberCapabilities,
    PhoneNumberCapabilityType,
    PhoneNumbersReservation,
    ReservationStatus,
)
from contracts.activities import HoldInput, HoldResult, LroHandle, ReleaseHoldInput
from contracts.provision import HoldStrategy, ProvisionRequest

from ._errors import acs_errors_as_application_errors
from ._phone_numbers_base import (
    PhoneNumbersActivityBase,
    handle_of,
    hold_expired,
    reserved_numbers,
)

__all__ = ["HoldActivities"]

_BARREN_BROWSES = 3
"""Browses in a row that offer nothing new before the stock counts as exhausted."""


class HoldActivities(PhoneNumbersActivityBase):
    """Reservations (browse, then reserve under the workflow's id) and searches."""

    @activity.defn
    async def acquire_reservation(self, hold: HoldInput) -> HoldResult:
        """Reserve up to ``quantity`` numbers under the workflow-chosen reservation id.

        A retry finds the reservation it made and returns it instead of making another; it
        reuses the browse an earlier attempt made (kept in the heartbeat) rather than spend
        another of the tenant's searches.
        """
        with acs_errors_as_application_errors():
            try:
                existing = await self._client.get_reservation(hold.hold_id)
            except AcsNotFoundError:
                existing = None
            if existing is not None and existing.status is not ReservationStatus.ACTIVE:
                raise hold_expired(f"reservation is {existing.status}")
            if existing is None:
                existing = await self._client.create_or_update_reservation(
                    reservation_id=hold.hold_id
                )
            reservation, browses_left = await self._top_up(hold, existing)
            return _reservation_hold(hold.hold_id, reservation, browses_left=browses_left)

    async def _top_up(
        self, hold: HoldInput, reservation: PhoneNumbersReservation
    ) -> tuple[PhoneNumbersReservation, bool]:
        """Browse and add numbers until the reservation holds ``quantity`` or stock runs out.

        A browse offers a sample (20 on the service), so a large ticket takes many rounds: it
        goes on while browsing offers numbers not tried yet, and within ``hold.browses``.
        A retried attempt continues from what the reservation already holds. Returns the
        reservation and whether it stopped only because the browses allowed ran out.
        """
        request = hold.request
        progress = _BrowseProgress.of_earlier_attempt()
        tried: set[str] = set(reservation.phone_numbers or {})
        barren = 0
        while (held := len(reserved_numbers(reservation))) < request.quantity:
            offer = progress.unused_offer
            progress.unused_offer = None
            if offer is None:
                if hold.browses is not None and progress.browses >= hold.browses:
                    return reservation, True
                progress.browses += 1  # counted before it is sent: ACS counts every request
                activity.heartbeat(progress.wire())
                browse = await self._client.browse_available_phone_numbers(
                    country_code=request.country_code,
                    phone_number_type=request.phone_number_type.value,
                    assignment_type=request.assignment_type.value,
                    calling_capability=request.capabilities.calling.value,
                    sms_capability=request.capabilities.sms.value,
                    phone_number_prefixes=list(request.phone_number_prefixes) or None,
                )
                offer = browse.phone_numbers
                progress.unused_offer = offer
                activity.heartbeat(progress.wire())
                progress.unused_offer = None
            fresh = [n for n in offer if n.id and n.id not in tried]
            if not fresh:
                barren += 1
                if barren >= _BARREN_BROWSES or hold.browses is not None:
                    break  # the stock is exhausted (or only numbers that failed remain)
                continue
            barren = 0
            wanted = fresh[: request.quantity - held]
            tried |= {str(n.id) for n in wanted}
            reservation = await self._client.create_or_update_reservation(
                reservation_id=hold.hold_id,
                numbers_to_add=[_to_reserve(n, request) for n in wanted],
            )
            failed = [
                k for k, v in (reservation.phone_numbers or {}).items() if v and v.status == "error"
            ]
            if failed:  # keep the reservation clean: only numbers actually held stay in it
                reservation = await self._client.create_or_update_reservation(
                    reservation_id=hold.hold_id, numbers_to_remove=failed
                )
        return reservation, False

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
        return handle_of(ref)

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


def _reservation_hold(
    reservation_id: str, reservation: PhoneNumbersReservation, *, browses_left: bool
) -> HoldResult:
    reserved = reserved_numbers(reservation)
    costs = [n.cost for n in reserved if n.cost is not None]
    return HoldResult(
        strategy=HoldStrategy.RESERVATION,
        hold_id=reservation_id,
        numbers=tuple(str(n.phone_number) for n in reserved),
        monthly_cost=sum((c.amount for c in costs), Decimal(0)),
        currency=costs[0].currency_code if costs else "",
        expires_at=reservation.expires_at,
        no_resell_required=any(bool(n.is_agreement_to_not_resell_required) for n in reserved),
        browses_left=browses_left,
    )


@dataclass
class _BrowseProgress:
    """What an attempt spent of the tenant's searches, carried to the next in its heartbeat.

    A browse is counted before it is sent (one whose answer was lost was still counted by
    ACS), and its offer rides along until its numbers are reserved, so a retry that follows a
    failed reservation uses it instead of browsing (spending) again.
    """

    browses: int = 0
    unused_offer: list[AvailablePhoneNumber] | None = None

    @classmethod
    def of_earlier_attempt(cls) -> _BrowseProgress:
        details = activity.info().heartbeat_details
        last = details[-1] if details else None
        if not isinstance(last, dict):  # none, or an attempt of older code (a count)
            return cls()
        offer = last.get("offer")
        return cls(
            browses=int(last.get("browses", 0)),
            unused_offer=[AvailablePhoneNumber.model_validate(n) for n in offer]
            if isinstance(offer, list)
            else None,
        )

    def wire(self) -> dict[str, Any]:
        offer = self.unused_offer
        return {
            "browses": self.browses,
            "offer": None if offer is None else [n.to_wire() for n in offer],
        }
