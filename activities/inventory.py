"""What ACS holds, read for reconciliation."""

from __future__ import annotations

from temporalio import activity

from acs import PhoneNumbersClient, ReservationStatus, SipRoutingClient
from contracts.operations import InventorySnapshot, OwnedNumber

from ._errors import acs_errors_as_application_errors

__all__ = ["InventoryActivities"]


class InventoryActivities:
    """Read-only views of one ACS resource."""

    def __init__(self, numbers: PhoneNumbersClient, sip: SipRoutingClient) -> None:
        self._numbers = numbers
        self._sip = sip

    @activity.defn
    async def inventory_snapshot(self) -> InventorySnapshot:
        """Purchased numbers (with purchase dates), active reservations and routes."""
        with acs_errors_as_application_errors():
            owned = [
                OwnedNumber(phone_number=n.phone_number, purchase_date=n.purchase_date)
                async for n in self._numbers.list_purchased_phone_numbers()
            ]
            reservations = [
                str(r.id)
                async for r in self._numbers.list_reservations()
                if r.status in (ReservationStatus.ACTIVE, ReservationStatus.SUBMITTED)
            ]
            routes = await self._sip.list_routes()
        return InventorySnapshot(
            numbers=tuple(owned),
            active_reservations=tuple(reservations),
            routes=tuple(r.name for r in routes),
            route_patterns={r.name: r.number_pattern for r in routes},
        )
