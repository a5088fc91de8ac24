"""Reservations: browse the stock, hold numbers under a client's id, buy the reservation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ._catalogue import cost_wire
from ._errors import ApiError
from ._inventory import capability_allows
from ._numbers_core import NumbersCore
from ._operations import LroFault, lro_reply
from ._records import (
    Reservation,
    ReservationStatus,
    ReservedNumber,
    ReservedStatus,
)
from ._reply import Reply
from ._validation import (
    ASSIGNMENT_TYPES,
    CAPABILITIES,
    NUMBER_TYPES,
    json_object,
    no_resell_consent,
    optional_enum,
    required_enum,
    reservation_uuid,
)
from ._wire import reservation_wire

__all__ = ["Reservations"]

_BROWSE_SAMPLE = 20


class Reservations(NumbersCore):
    """Browse, reservations (create, change, read, delete) and their purchase."""

    def browse(self, code: str, body: Any) -> Reply:
        """A random sample of available numbers; holds nothing."""
        country = self.catalogue.country(code)
        body = json_object(body)
        number_type = required_enum(body, "phoneNumberType", NUMBER_TYPES)
        assignment = optional_enum(body, "assignmentType", ASSIGNMENT_TYPES)
        wanted = json_object(body.get("capabilities") or {}, "capabilities")
        calling = optional_enum(wanted, "calling", CAPABILITIES) or "none"
        sms = optional_enum(wanted, "sms", CAPABILITIES) or "none"
        prefixes = [str(p).lstrip("+") for p in body.get("phoneNumberPrefixes") or []]
        offerings = [
            o
            for o in country.offerings
            if o.phone_number_type == number_type
            and assignment in (None, o.assignment_type)
            and capability_allows(o.calling, calling)
            and capability_allows(o.sms, sms)
        ]
        if not offerings:
            return Reply(body={"phoneNumbers": []})
        offering = offerings[0]
        candidates = [
            n
            for n in self.inventory.values()
            if n.country_code == country.code
            and n.phone_number_type == number_type
            and self._is_available(n.phone_number)
            and (not prefixes or any(n.id.startswith(p) for p in prefixes))
        ]
        sample = self._rng.sample(candidates, min(_BROWSE_SAMPLE, len(candidates)))
        return Reply(
            body={
                "phoneNumbers": [
                    {
                        "id": n.id,
                        "countryCode": n.country_code,
                        "phoneNumber": n.phone_number,
                        "capabilities": {"calling": offering.calling, "sms": offering.sms},
                        "phoneNumberType": n.phone_number_type,
                        "assignmentType": offering.assignment_type,
                        "cost": cost_wire(offering, country),
                        "status": "available",
                        "isAgreementToNotResellRequired": number_type in country.no_resell_types,
                    }
                    for n in sample
                ]
            }
        )

    def reservations_list(self) -> list[dict[str, Any]]:
        """Reservations without their numbers, oldest first."""
        return [
            reservation_wire(r, self.catalogue, with_numbers=False)
            for r in self.reservations.values()
        ]

    def upsert_reservation(self, reservation_id: str, body: Any, now: datetime) -> Reply:
        """Create a reservation or add/remove numbers (``null`` removes)."""
        rid = reservation_uuid(reservation_id)
        changes = json_object(json_object(body).get("phoneNumbers") or {}, "phoneNumbers")
        reservation = self.reservations.get(rid)
        created = reservation is None
        if reservation is None:
            reservation = Reservation(rid, now, now)
        elif reservation.status is not ReservationStatus.ACTIVE:
            raise ApiError(
                400,
                "BadRequest",
                f"Only active reservations can be updated; this one is {reservation.status}.",
            )
        partial = False
        for number_id, change in changes.items():
            if change is None:
                if number_id in reservation.numbers:
                    del reservation.numbers[number_id]
                    if self.holds.get("+" + number_id) == f"reservation:{rid}":
                        del self.holds["+" + number_id]
                continue
            if (
                number_id in reservation.numbers
                and reservation.numbers[number_id].status is ReservedStatus.RESERVED
            ):
                continue
            reserved = self._reserve(
                rid, number_id, json_object(change, f"phoneNumbers.{number_id}")
            )
            reservation.numbers[number_id] = reserved
            partial = partial or reserved.status is ReservedStatus.ERROR
        reservation.expires_at = min(
            now + timedelta(seconds=self._config.reservation_idle_seconds),
            reservation.created + timedelta(seconds=self._config.reservation_max_seconds),
        )
        self.reservations[rid] = reservation
        status = 207 if partial else 201 if created else 200
        headers = {"Location": f"/availablePhoneNumbers/reservations/{rid}"} if created else {}
        return Reply(
            status, reservation_wire(reservation, self.catalogue, with_numbers=True), headers
        )

    def get_reservation(self, reservation_id: str) -> dict[str, Any]:
        """One reservation with its numbers."""
        return reservation_wire(
            self._reservation(reservation_id), self.catalogue, with_numbers=True
        )

    def delete_reservation(self, reservation_id: str) -> Reply:
        """Delete an active reservation and return its numbers to inventory."""
        reservation = self._reservation(reservation_id)
        if reservation.status is not ReservationStatus.ACTIVE:
            raise ApiError(
                400,
                "BadRequest",
                f"Only active reservations can be deleted; this one is {reservation.status}.",
            )
        self._release_holds(f"reservation:{reservation.id}")
        del self.reservations[reservation.id]
        return Reply(204)

    def purchase_reservation(
        self, reservation_id: str, body: Any, now: datetime, fault: LroFault, api_version: str
    ) -> Reply:
        """Start buying a reservation; a second call returns the first call's operation."""
        reservation = self._reservation(reservation_id)
        op_id = f"reservationPurchase_{reservation.id}"
        started = reservation.status in (ReservationStatus.SUBMITTED, ReservationStatus.COMPLETED)
        repeated = self._purchase_posted(reservation.id, op_id, started, api_version, now)
        if repeated is not None:
            return repeated
        if reservation.status is ReservationStatus.EXPIRED:
            raise ApiError(400, "ReservationExpired", "The reservation has expired.")
        reserved = [n for n in reservation.numbers.values() if n.status is ReservedStatus.RESERVED]
        if not reserved:
            raise ApiError(400, "BadRequest", "The reservation has no phone numbers to purchase.")
        agree = bool(json_object(body or {}).get("agreeToNotResell", False))
        if not agree and any(
            self.catalogue.needs_no_resell(n.country_code, n.phone_number_type) for n in reserved
        ):
            raise no_resell_consent()
        reservation.status = ReservationStatus.SUBMITTED

        def succeed(at: datetime) -> None:
            for n in reserved:
                self._buy("+" + n.id, n.assignment_type, n.calling, n.sms, at, reservation.id)
                n.status = ReservedStatus.PURCHASED
            reservation.status = ReservationStatus.COMPLETED

        def fail(_: datetime) -> None:
            for n in reserved:
                n.status = ReservedStatus.ERROR
                n.error = ("PurchaseFailed", "Failed to purchase the number.")
            reservation.status = ReservationStatus.ACTIVE

        op = self._start(op_id, "reservationPurchase", now, None, succeed, fail, fault)
        return lro_reply(op, api_version, reservation.id)

    def _reserve(self, rid: str, number_id: str, change: dict[str, Any]) -> ReservedNumber:
        number = self.inventory.get("+" + number_id)
        assignment = optional_enum(change, "assignmentType", ASSIGNMENT_TYPES) or "application"
        capabilities = json_object(change.get("capabilities") or {}, "capabilities")
        calling = optional_enum(capabilities, "calling", CAPABILITIES) or "none"
        sms = optional_enum(capabilities, "sms", CAPABILITIES) or "none"
        reserved = ReservedNumber(
            number_id,
            str(change.get("countryCode") or ""),
            str(change.get("phoneNumberType") or ""),
            assignment,
            calling,
            sms,
            ReservedStatus.ERROR,
        )
        if number is None or number.phone_number_type != reserved.phone_number_type:
            reserved.error = (
                "FailedToReserveNumber",
                "Failed to add the number to the reservation.",
            )
            return reserved
        country = self.catalogue.country(number.country_code)
        offering = country.offering(number.phone_number_type, assignment)
        reserved.country_code = number.country_code
        if offering is None or not (
            capability_allows(offering.calling, calling) and capability_allows(offering.sms, sms)
        ):
            reserved.error = (
                "InvalidCapabilities",
                "The capabilities are not offered for this number.",
            )
            return reserved
        reserved.offering = offering
        if not self._is_available(number.phone_number):
            reserved.error = (
                "FailedToReserveNumber",
                "Failed to add the number to the reservation.",
            )
            return reserved
        self.holds[number.phone_number] = f"reservation:{rid}"
        reserved.status = ReservedStatus.RESERVED
        return reserved

    def _reservation(self, reservation_id: str) -> Reservation:
        reservation = self.reservations.get(reservation_uuid(reservation_id))
        if reservation is None:
            raise ApiError(
                404,
                "ReservationNotFound",
                "The reservation was not found and the operation could not be completed.",
            )
        return reservation
