"""The Phone Numbers state as the service writes it on the wire (camelCase JSON shapes)."""

from __future__ import annotations

from typing import Any

from ._catalogue import Catalogue, cost_wire
from ._clock import format_time
from ._records import Purchased, Reservation, ReservedNumber
from ._validation import NUMBER_TYPES

__all__ = ["purchased_wire", "reservation_wire", "reserved_wire"]


def reservation_wire(
    reservation: Reservation, catalogue: Catalogue, *, with_numbers: bool
) -> dict[str, Any]:
    """A reservation as the service returns it (its numbers only when asked)."""
    wire: dict[str, Any] = {
        "id": reservation.id,
        "expiresAt": format_time(reservation.expires_at),
        "status": reservation.status,
    }
    if with_numbers:
        wire["phoneNumbers"] = {
            number_id: reserved_wire(n, catalogue) for number_id, n in reservation.numbers.items()
        }
    return wire


def reserved_wire(n: ReservedNumber, catalogue: Catalogue) -> dict[str, Any]:
    """One number of a reservation, with its cost and error when it has them."""
    wire: dict[str, Any] = {
        "id": n.id,
        "countryCode": n.country_code,
        "phoneNumber": "+" + n.id,
        "capabilities": {"calling": n.calling, "sms": n.sms},
        "phoneNumberType": n.phone_number_type
        if n.phone_number_type in NUMBER_TYPES
        else "geographic",
        "assignmentType": n.assignment_type,
        "status": n.status,
        "isAgreementToNotResellRequired": catalogue.needs_no_resell(
            n.country_code, n.phone_number_type
        ),
    }
    country = catalogue.country_or_none(n.country_code)
    if n.offering is not None and country is not None:
        wire["cost"] = cost_wire(n.offering, country)
    if n.error is not None:
        wire["error"] = {"code": n.error[0], "message": n.error[1]}
    return wire


def purchased_wire(p: Purchased, catalogue: Catalogue) -> dict[str, Any]:
    """An owned number as the service returns it."""
    return {
        "id": p.number.id,
        "phoneNumber": p.number.phone_number,
        "countryCode": p.number.country_code,
        "phoneNumberType": p.number.phone_number_type,
        "capabilities": {"calling": p.calling, "sms": p.sms},
        "assignmentType": p.assignment_type,
        "purchaseDate": format_time(p.purchase_date),
        "cost": cost_wire(p.offering, catalogue.country(p.number.country_code)),
    }
