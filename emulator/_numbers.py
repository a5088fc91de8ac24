"""Phone Numbers API state: inventory, searches, reservations, purchases and operations.

Time only moves through :meth:`PhoneNumbersState.settle`, called before every request: it
applies, in time order, everything that became due (operations finishing, holds expiring).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ._clock import format_time
from ._config import EmulatorConfig
from ._errors import ApiError
from ._inventory import (
    CAPABILITY_ORDER,
    COUNTRIES,
    Country,
    InventoryNumber,
    Offering,
    build_numbers,
    capability_allows,
)
from ._operations import LroFault, Operation
from ._reply import Reply

__all__ = ["PhoneNumbersState"]

_TYPES = ("geographic", "tollFree", "mobile")
_ASSIGNMENTS = ("person", "application")
_BROWSE_SAMPLE = 20
_OUT_OF_STOCK = 1000


@dataclass
class Search:
    """A classic search: numbers held from the start until ``expires_at``."""

    id: str
    country: Country
    phone_number_type: str
    assignment_type: str
    calling: str
    sms: str
    offering: Offering
    numbers: list[str]
    created: datetime
    expires_at: datetime
    state: str = "searching"  # searching | held | failed | purchasing | purchased | expired


@dataclass
class ReservedNumber:
    """A number inside a reservation, with the capabilities it will be bought with."""

    id: str
    country_code: str
    phone_number_type: str
    assignment_type: str
    calling: str
    sms: str
    status: str
    offering: Offering | None = None
    error: tuple[str, str] | None = None


@dataclass
class Reservation:
    """A client-keyed hold that slides with each change, capped from its creation."""

    id: str
    created: datetime
    expires_at: datetime
    status: str = "active"  # active | submitted | completed | expired
    numbers: dict[str, ReservedNumber] = field(default_factory=dict)


@dataclass
class Purchased:
    """A number owned by the resource."""

    number: InventoryNumber
    assignment_type: str
    calling: str
    sms: str
    offering: Offering
    purchase_date: datetime


class PhoneNumbersState:
    """All Phone Numbers state of one emulated resource."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        self.inventory = build_numbers(config.seed, config.numbers_per_area_code)
        self.holds: dict[str, str] = {}
        self.purchased: dict[str, Purchased] = {}
        self.searches: dict[str, Search] = {}
        self.reservations: dict[str, Reservation] = {}
        self.operations: dict[str, Operation] = {}
        self._releasing: dict[str, str] = {}
        self.purchase_posts: Counter[str] = Counter()
        """Purchase POSTs that reached the service, per hold (reservation or search id)."""
        self.purchase_log: list[tuple[str, str]] = []
        """Every number bought, with the hold that bought it (``portal`` when bought outside)."""
        self._updating: dict[str, str] = {}
        self._countries = {c.code: c for c in COUNTRIES}

    # -- time ----------------------------------------------------------------------------------

    def settle(self, now: datetime) -> None:
        """Apply everything due by ``now``, earliest first."""
        events: list[tuple[datetime, int, Any]] = []
        for op in self.operations.values():
            if not op.finished and op.due <= now:
                events.append((op.due, 0, op))
        for search in self.searches.values():
            if search.state == "held" and search.expires_at <= now:
                events.append((search.expires_at, 1, search))
        for reservation in self.reservations.values():
            if reservation.status == "active" and reservation.expires_at <= now:
                events.append((reservation.expires_at, 1, reservation))
        for _, _, item in sorted(events, key=lambda e: (e[0], e[1])):
            if isinstance(item, Operation):
                item.finish()
            elif isinstance(item, Search) and item.state == "held":
                self._release_holds(f"search:{item.id}")
                item.state = "expired"
            elif isinstance(item, Reservation) and item.status == "active":
                self._release_holds(f"reservation:{item.id}")
                item.status = "expired"
                for reserved in item.numbers.values():
                    if reserved.status == "reserved":
                        reserved.status = "expired"

    # -- catalog -------------------------------------------------------------------------------

    def country(self, code: str) -> Country:
        """The country, or the service's 400 for a code it cannot parse."""
        country = self._countries.get(code.upper())
        if country is None:
            raise ApiError(
                400, "InvalidInput", "Unable to parse country code.", target="countrycode"
            )
        return country

    def countries(self) -> list[dict[str, Any]]:
        """Every country, in catalogue order."""
        return [{"localizedName": c.name, "countryCode": c.code} for c in COUNTRIES]

    def localities(self, code: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Localities of a country, filtered by division and number type."""
        country = self.country(code)
        division = query.get("administrativeDivision")
        number_type = _optional_enum(query, "phoneNumberType", _TYPES)
        if number_type not in (None, "geographic"):
            return []
        return [
            {
                "localizedName": loc.name,
                "administrativeDivision": {
                    "localizedName": loc.division,
                    "abbreviatedName": loc.division_abbreviation,
                },
            }
            for loc in country.localities
            if division in (None, loc.division_abbreviation, loc.division)
        ]

    def area_codes(self, code: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Area codes with stock for a type (geographic ones need a locality)."""
        country = self.country(code)
        number_type = _optional_enum(query, "phoneNumberType", _TYPES)
        if number_type is None:
            raise ApiError(
                400, "InvalidInput", "phoneNumberType is required.", target="phoneNumberType"
            )
        assignment = _optional_enum(query, "assignmentType", _ASSIGNMENTS)
        if assignment and country.offering(number_type, assignment) is None:
            return []
        if number_type == "tollFree":
            return [{"areaCode": p} for p in country.toll_free_prefixes]
        if number_type == "mobile":
            return [{"areaCode": p} for p in country.mobile_prefixes]
        locality = query.get("locality")
        if not locality:
            raise ApiError(
                400,
                "InvalidInput",
                "locality is required for geographic numbers.",
                target="locality",
            )
        division = query.get("administrativeDivision")
        return [
            {"areaCode": area}
            for loc in country.localities
            if loc.name.lower() == locality.lower()
            and division in (None, loc.division_abbreviation, loc.division)
            for area in loc.area_codes
        ]

    def offerings(self, code: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Offerings of a country, filtered by type and assignment."""
        country = self.country(code)
        number_type = _optional_enum(query, "phoneNumberType", _TYPES)
        assignment = _optional_enum(query, "assignmentType", _ASSIGNMENTS)
        return [
            {
                "phoneNumberType": o.phone_number_type,
                "assignmentType": o.assignment_type,
                "availableCapabilities": {"calling": o.calling, "sms": o.sms},
                "cost": _cost(o, country),
            }
            for o in country.offerings
            if number_type in (None, o.phone_number_type)
            and assignment in (None, o.assignment_type)
        ]

    # -- browse and reservations ---------------------------------------------------------------

    def browse(self, code: str, body: Any) -> Reply:
        """A random sample of available numbers; holds nothing."""
        country = self.country(code)
        body = _object(body)
        number_type = _required_enum(body, "phoneNumberType", _TYPES)
        assignment = _optional_enum(body, "assignmentType", _ASSIGNMENTS)
        wanted = _object(body.get("capabilities") or {}, "capabilities")
        calling = _optional_enum(wanted, "calling", tuple(CAPABILITY_ORDER)) or "none"
        sms = _optional_enum(wanted, "sms", tuple(CAPABILITY_ORDER)) or "none"
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
                        "cost": _cost(offering, country),
                        "status": "available",
                        "isAgreementToNotResellRequired": number_type in country.no_resell_types,
                    }
                    for n in sample
                ]
            }
        )

    def reservations_list(self) -> list[dict[str, Any]]:
        """Reservations without their numbers, oldest first."""
        return [self._reservation_wire(r, with_numbers=False) for r in self.reservations.values()]

    def upsert_reservation(self, reservation_id: str, body: Any, now: datetime) -> Reply:
        """Create a reservation or add/remove numbers (``null`` removes)."""
        rid = _uuid(reservation_id)
        changes = _object(_object(body).get("phoneNumbers") or {}, "phoneNumbers")
        reservation = self.reservations.get(rid)
        created = reservation is None
        if reservation is None:
            reservation = Reservation(rid, now, now)
        elif reservation.status != "active":
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
                and reservation.numbers[number_id].status == "reserved"
            ):
                continue
            reserved = self._reserve(rid, number_id, _object(change, f"phoneNumbers.{number_id}"))
            reservation.numbers[number_id] = reserved
            partial = partial or reserved.status == "error"
        reservation.expires_at = min(
            now + timedelta(seconds=self._config.reservation_idle_seconds),
            reservation.created + timedelta(seconds=self._config.reservation_max_seconds),
        )
        self.reservations[rid] = reservation
        status = 207 if partial else 201 if created else 200
        headers = {"Location": f"/availablePhoneNumbers/reservations/{rid}"} if created else {}
        return Reply(status, self._reservation_wire(reservation, with_numbers=True), headers)

    def get_reservation(self, reservation_id: str) -> dict[str, Any]:
        """One reservation with its numbers."""
        return self._reservation_wire(self._reservation(reservation_id), with_numbers=True)

    def delete_reservation(self, reservation_id: str) -> Reply:
        """Delete an active reservation and return its numbers to inventory."""
        reservation = self._reservation(reservation_id)
        if reservation.status != "active":
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
        self.purchase_posts[reservation.id] += 1
        op_id = f"reservationPurchase_{reservation.id}"
        if reservation.status in ("submitted", "completed") and op_id in self.operations:
            return self._lro_reply(self.operations[op_id], api_version, reservation.id)
        if reservation.status == "expired":
            raise ApiError(400, "ReservationExpired", "The reservation has expired.")
        reserved = [n for n in reservation.numbers.values() if n.status == "reserved"]
        if not reserved:
            raise ApiError(400, "BadRequest", "The reservation has no phone numbers to purchase.")
        agree = bool(_object(body or {}).get("agreeToNotResell", False))
        if not agree and any(
            self._needs_no_resell(n.country_code, n.phone_number_type) for n in reserved
        ):
            raise ApiError(
                400, "BadRequest", "Consent not provided to not resell the phone numbers"
            )
        reservation.status = "submitted"

        def succeed(at: datetime) -> None:
            for n in reserved:
                self._buy("+" + n.id, n.assignment_type, n.calling, n.sms, at, reservation.id)
                n.status = "purchased"
            reservation.status = "completed"

        def fail(_: datetime) -> None:
            for n in reserved:
                n.status = "error"
                n.error = ("PurchaseFailed", "Failed to purchase the number.")
            reservation.status = "active"

        op = self._start(op_id, "reservationPurchase", now, None, succeed, fail, fault)
        return self._lro_reply(op, api_version, reservation.id)

    # -- search and purchase -------------------------------------------------------------------

    def search(
        self, code: str, body: Any, now: datetime, fault: LroFault, api_version: str
    ) -> Reply:
        """Start a search; the numbers are held at once, the result readable when it succeeds."""
        country = self.country(code)
        body = _object(body)
        number_type = _required_enum(body, "phoneNumberType", _TYPES)
        assignment = _required_enum(body, "assignmentType", _ASSIGNMENTS)
        capabilities = _object(body.get("capabilities"), "capabilities")
        calling = _required_enum(capabilities, "calling", tuple(CAPABILITY_ORDER))
        sms = _required_enum(capabilities, "sms", tuple(CAPABILITY_ORDER))
        quantity = body.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ApiError(
                400, "InvalidInput", "quantity must be a positive integer.", target="quantity"
            )
        offering = country.offering(number_type, assignment)
        if offering is None or not (
            capability_allows(offering.calling, calling) and capability_allows(offering.sms, sms)
        ):
            raise ApiError(
                400,
                "InvalidInput",
                "The requested capabilities are not offered for this number type.",
                target="capabilities",
            )
        area_code = body.get("areaCode")
        matching = [
            n.phone_number
            for n in self.inventory.values()
            if n.country_code == country.code
            and n.phone_number_type == number_type
            and area_code in (None, n.area_code)
            and self._is_available(n.phone_number)
        ][:quantity]
        search_id = self._new_id()
        search = Search(
            search_id,
            country,
            number_type,
            assignment,
            calling,
            sms,
            offering,
            matching,
            now,
            now + timedelta(seconds=self._config.search_hold_seconds),
        )
        for number in matching:
            self.holds[number] = f"search:{search_id}"
        self.searches[search_id] = search

        def succeed(_: datetime) -> None:
            search.state = "held" if search.state == "searching" else search.state

        def fail(_: datetime) -> None:
            self._release_holds(f"search:{search_id}")
            search.state = "failed"

        location = f"/availablePhoneNumbers/searchResults/{search_id}?api-version={api_version}"
        op = self._start(f"search_{self._new_id()}", "search", now, location, succeed, fail, fault)
        return self._lro_reply(op, api_version, search_id, location=location)

    def search_result(self, search_id: str) -> dict[str, Any]:
        """The search result once the search succeeded (404 before, or if it failed)."""
        search = self.searches.get(search_id)
        if search is None or search.state in ("searching", "failed"):
            raise ApiError(
                404, "NotFound", f"Search {search_id} cannot be found.", target="searchId"
            )
        result: dict[str, Any] = {
            "searchId": search.id,
            "phoneNumbers": list(search.numbers),
            "phoneNumberType": search.phone_number_type,
            "assignmentType": search.assignment_type,
            "capabilities": {"calling": search.calling, "sms": search.sms},
            "cost": _cost(search.offering, search.country),
            "searchExpiresBy": format_time(search.expires_at),
            "isAgreementToNotResellRequired": self._needs_no_resell(
                search.country.code, search.phone_number_type
            ),
            "error": "NoError",
        }
        if not search.numbers:
            result.update(error="OutOfStock", errorCode=_OUT_OF_STOCK)
        elif search.state == "expired":
            result["error"] = "ReservationExpired"
        return result

    def purchase_search(self, body: Any, now: datetime, fault: LroFault, api_version: str) -> Reply:
        """Start buying a search; a second call returns the first call's operation."""
        body = _object(body)
        search_id = body.get("searchId")
        search = self.searches.get(search_id) if isinstance(search_id, str) else None
        if search is None or search.state in ("searching", "failed"):
            raise ApiError(
                404, "NotFound", f"Search {search_id} cannot be found.", target="searchId"
            )
        self.purchase_posts[search.id] += 1
        op_id = f"purchase_{search.id}"
        if search.state in ("purchasing", "purchased") and op_id in self.operations:
            return self._lro_reply(self.operations[op_id], api_version, search.id)
        if search.state == "expired":
            raise ApiError(400, "ReservationExpired", "The search has expired; search again.")
        if not search.numbers:
            raise ApiError(400, "BadRequest", "The search holds no phone numbers.")
        if not body.get("agreeToNotResell") and self._needs_no_resell(
            search.country.code, search.phone_number_type
        ):
            raise ApiError(
                400, "BadRequest", "Consent not provided to not resell the phone numbers"
            )
        search.state = "purchasing"

        def succeed(at: datetime) -> None:
            for number in search.numbers:
                self._buy(number, search.assignment_type, search.calling, search.sms, at, search.id)
            search.state = "purchased"

        def fail(_: datetime) -> None:
            search.state = "held"

        op = self._start(op_id, "purchase", now, None, succeed, fail, fault)
        return self._lro_reply(op, api_version, search.id)

    # -- operations ----------------------------------------------------------------------------

    def operation(self, operation_id: str, now: datetime, retry_after: int | None) -> Reply:
        """An operation record, with ``Location`` when it has a result to fetch."""
        op = self.operations.get(operation_id)
        if op is None or op.hidden:
            raise ApiError(404, "NotFound", f"Operation {operation_id} cannot be found.")
        headers = {"Location": op.resource_location} if op.resource_location else {}
        if retry_after:
            headers["Retry-After"] = str(retry_after)
        return Reply(200, op.to_wire(now), headers)

    def cancel_operation(self, operation_id: str) -> Reply:
        """Forget an operation record; the work itself is not undone (as far as is known)."""
        op = self.operations.get(operation_id)
        if op is None or op.hidden:
            raise ApiError(404, "NotFound", f"Operation {operation_id} cannot be found.")
        op.hidden = True
        return Reply(204)

    # -- purchased numbers ---------------------------------------------------------------------

    def purchased_list(self) -> list[dict[str, Any]]:
        """Owned numbers in purchase order."""
        return [self._purchased_wire(p) for p in self.purchased.values()]

    def get_purchased(self, phone_number: str) -> dict[str, Any]:
        """One owned number (404 when not owned)."""
        owned = self.purchased.get(phone_number)
        if owned is None:
            raise _number_not_found(phone_number)
        return self._purchased_wire(owned)

    def update_capabilities(
        self, phone_number: str, body: Any, now: datetime, fault: LroFault, api_version: str
    ) -> Reply:
        """Start a capability change, allowed only within the number's offering."""
        owned = self.purchased.get(phone_number)
        if owned is None:
            raise ApiError(
                403,
                "InsufficientPermissions",
                "Phone number not owned by this resource.",
                target="phonenumber",
            )
        body = _object(body)
        calling = _optional_enum(body, "calling", tuple(CAPABILITY_ORDER)) or owned.calling
        sms = _optional_enum(body, "sms", tuple(CAPABILITY_ORDER)) or owned.sms
        if not (
            capability_allows(owned.offering.calling, calling)
            and capability_allows(owned.offering.sms, sms)
        ):
            raise ApiError(
                400,
                "InvalidInput",
                f"Capabilities calling={calling}, sms={sms} are not offered for this number.",
                target="capabilities",
            )
        if phone_number in self._updating:
            raise ApiError(409, "Conflict", "A capabilities update is already in progress.")
        update_id = self._new_id()
        self._updating[phone_number] = update_id

        def succeed(_: datetime) -> None:
            self._updating.pop(phone_number, None)
            if phone_number in self.purchased:
                self.purchased[phone_number].calling = calling
                self.purchased[phone_number].sms = sms

        def fail(_: datetime) -> None:
            self._updating.pop(phone_number, None)

        location = f"/phoneNumbers/{phone_number}?api-version={api_version}"
        op = self._start(
            f"capabilities_{update_id}", "capabilities", now, location, succeed, fail, fault
        )
        reply = self._lro_reply(op, api_version, update_id, location=location)
        return Reply(202, {"capabilitiesUpdateId": update_id}, reply.headers)

    def release(self, phone_number: str, now: datetime, fault: LroFault, api_version: str) -> Reply:
        """Start releasing an owned number; a release in flight is returned again."""
        pending = self._releasing.get(phone_number)
        if pending is not None:
            op = self.operations[pending]
            return self._lro_reply(op, api_version, op.id.removeprefix("release_"))
        if phone_number not in self.purchased:
            raise _number_not_found(phone_number)
        release_id = self._new_id()
        op_id = f"release_{release_id}"
        self._releasing[phone_number] = op_id

        def succeed(_: datetime) -> None:
            self._releasing.pop(phone_number, None)
            self.purchased.pop(phone_number, None)

        def fail(_: datetime) -> None:
            self._releasing.pop(phone_number, None)

        op = self._start(op_id, "release", now, None, succeed, fail, fault)
        return self._lro_reply(op, api_version, release_id)

    # -- operator information ------------------------------------------------------------------

    def operator_information(self, body: Any) -> dict[str, Any]:
        """Formatting for each number; operator details only when asked (they are billed)."""
        body = _object(body)
        numbers = body.get("phoneNumbers")
        if not isinstance(numbers, list) or not numbers:
            raise ApiError(400, "InvalidInput", "phoneNumbers is required.", target="phoneNumbers")
        options = _object(body.get("options") or {}, "options")
        details = bool(options.get("includeAdditionalOperatorDetails", False))
        return {"values": [self._operator_info(str(n), details) for n in numbers]}

    # -- admin ---------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Counts and contents for tests and operators."""
        counts: dict[str, dict[str, int]] = {}
        for n in self.inventory.values():
            c = counts.setdefault(
                n.country_code, {"total": 0, "available": 0, "held": 0, "purchased": 0}
            )
            c["total"] += 1
            if n.phone_number in self.purchased:
                c["purchased"] += 1
            elif n.phone_number in self.holds:
                c["held"] += 1
            else:
                c["available"] += 1
        return {
            "inventory": counts,
            "purchasedNumbers": self.purchased_list(),
            "reservations": [
                self._reservation_wire(r, with_numbers=True) for r in self.reservations.values()
            ],
            "searches": [
                {
                    "searchId": s.id,
                    "state": s.state,
                    "phoneNumbers": list(s.numbers),
                    "searchExpiresBy": format_time(s.expires_at),
                }
                for s in self.searches.values()
            ],
            "operations": [
                {"id": op.id, "kind": op.kind, "finished": op.finished, "failed": op.fails}
                for op in self.operations.values()
            ],
            "purchasePosts": dict(self.purchase_posts),
            "purchaseLog": [{"phoneNumber": n, "hold": h} for n, h in self.purchase_log],
        }

    def force_purchase(self, phone_number: str, now: datetime) -> dict[str, Any]:
        """Buy a number directly, as if someone used the portal (outside any client)."""
        number = self.inventory.get(phone_number)
        if number is None or not self._is_available(phone_number):
            raise ApiError(409, "Conflict", f"{phone_number} is not available.")
        country = self._countries[number.country_code]
        offering = next(
            o for o in country.offerings if o.phone_number_type == number.phone_number_type
        )
        self._buy(
            phone_number, offering.assignment_type, offering.calling, offering.sms, now, "portal"
        )
        return self._purchased_wire(self.purchased[phone_number])

    # -- internals -----------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _start(
        self,
        op_id: str,
        kind: str,
        now: datetime,
        resource_location: str | None,
        succeed: Any,
        fail: Any,
        fault: LroFault,
    ) -> Operation:
        op = Operation(
            op_id,
            kind,
            now,
            timedelta(seconds=self._config.lro_seconds),
            resource_location,
            succeed,
            fail,
            fault,
        )
        self.operations[op_id] = op
        return op

    def _lro_reply(
        self, op: Operation, api_version: str, resource_id: str, *, location: str | None = None
    ) -> Reply:
        id_header = {
            "search": "search-id",
            "purchase": "purchase-id",
            "release": "release-id",
            "capabilities": "capabilities-id",
            "reservationPurchase": "reservation-purchase-id",
        }[op.kind]
        headers = {
            "Operation-Location": f"/phoneNumbers/operations/{op.id}?api-version={api_version}",
            "operation-id": op.id,
            id_header: resource_id,
            "Access-Control-Expose-Headers": f"Location,Operation-Location,operation-id,{id_header}",
        }
        if location:
            headers["Location"] = location
        return Reply(202, None, headers)

    def _is_available(self, phone_number: str) -> bool:
        return phone_number not in self.holds and phone_number not in self.purchased

    def _release_holds(self, holder: str) -> None:
        for number in [n for n, h in self.holds.items() if h == holder]:
            del self.holds[number]

    def _needs_no_resell(self, country_code: str, phone_number_type: str) -> bool:
        country = self._countries.get(country_code)
        return country is not None and phone_number_type in country.no_resell_types

    def _buy(
        self,
        phone_number: str,
        assignment: str,
        calling: str,
        sms: str,
        at: datetime,
        hold: str,
    ) -> None:
        number = self.inventory[phone_number]
        offering = self._countries[number.country_code].offering(
            number.phone_number_type, assignment
        )
        assert offering is not None, "checked when the hold was made"
        self.holds.pop(phone_number, None)
        self.purchased[phone_number] = Purchased(number, assignment, calling, sms, offering, at)
        self.purchase_log.append((phone_number, hold))

    def _reserve(self, rid: str, number_id: str, change: dict[str, Any]) -> ReservedNumber:
        number = self.inventory.get("+" + number_id)
        assignment = _optional_enum(change, "assignmentType", _ASSIGNMENTS) or "application"
        capabilities = _object(change.get("capabilities") or {}, "capabilities")
        calling = _optional_enum(capabilities, "calling", tuple(CAPABILITY_ORDER)) or "none"
        sms = _optional_enum(capabilities, "sms", tuple(CAPABILITY_ORDER)) or "none"
        reserved = ReservedNumber(
            number_id,
            str(change.get("countryCode") or ""),
            str(change.get("phoneNumberType") or ""),
            assignment,
            calling,
            sms,
            "error",
        )
        if number is None or number.phone_number_type != reserved.phone_number_type:
            reserved.error = (
                "FailedToReserveNumber",
                "Failed to add the number to the reservation.",
            )
            return reserved
        country = self._countries[number.country_code]
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
        reserved.status = "reserved"
        return reserved

    def _reservation(self, reservation_id: str) -> Reservation:
        reservation = self.reservations.get(_uuid(reservation_id))
        if reservation is None:
            raise ApiError(
                404,
                "ReservationNotFound",
                "The reservation was not found and the operation could not be completed.",
            )
        return reservation

    def _reservation_wire(self, reservation: Reservation, *, with_numbers: bool) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": reservation.id,
            "expiresAt": format_time(reservation.expires_at),
            "status": reservation.status,
        }
        if with_numbers:
            wire["phoneNumbers"] = {
                number_id: self._reserved_wire(n) for number_id, n in reservation.numbers.items()
            }
        return wire

    def _reserved_wire(self, n: ReservedNumber) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": n.id,
            "countryCode": n.country_code,
            "phoneNumber": "+" + n.id,
            "capabilities": {"calling": n.calling, "sms": n.sms},
            "phoneNumberType": n.phone_number_type
            if n.phone_number_type in _TYPES
            else "geographic",
            "assignmentType": n.assignment_type,
            "status": n.status,
            "isAgreementToNotResellRequired": self._needs_no_resell(
                n.country_code, n.phone_number_type
            ),
        }
        country = self._countries.get(n.country_code)
        if n.offering is not None and country is not None:
            wire["cost"] = _cost(n.offering, country)
        if n.error is not None:
            wire["error"] = {"code": n.error[0], "message": n.error[1]}
        return wire

    def _purchased_wire(self, p: Purchased) -> dict[str, Any]:
        return {
            "id": p.number.id,
            "phoneNumber": p.number.phone_number,
            "countryCode": p.number.country_code,
            "phoneNumberType": p.number.phone_number_type,
            "capabilities": {"calling": p.calling, "sms": p.sms},
            "assignmentType": p.assignment_type,
            "purchaseDate": format_time(p.purchase_date),
            "cost": _cost(p.offering, self._countries[p.number.country_code]),
        }

    def _operator_info(self, phone_number: str, details: bool) -> dict[str, Any]:
        country = next(
            (
                c
                for c in sorted(COUNTRIES, key=lambda c: -len(c.dial_code))
                if phone_number.startswith("+" + c.dial_code)
            ),
            None,
        )
        if country is None or not phone_number[1:].isdigit():
            return {"phoneNumber": phone_number, "numberType": "unknown"}
        national = phone_number[1 + len(country.dial_code) :]
        known = self.inventory.get(phone_number)
        number_type = {"geographic": "geographic", "mobile": "mobile"}.get(
            known.phone_number_type if known else "", "other" if known else "unknown"
        )
        if country.dial_code == "1" and len(national) == 10:
            national_format = f"({national[:3]}) {national[3:6]}-{national[6:]}"
            international = f"+1 {national[:3]} {national[3:6]} {national[6:]}"
        else:
            national_format = "0" + national
            international = f"+{country.dial_code} {national}"
        info: dict[str, Any] = {
            "phoneNumber": phone_number,
            "nationalFormat": national_format,
            "internationalFormat": international,
            "isoCountryCode": country.code,
            "numberType": number_type,
        }
        if details:
            info["operatorDetails"] = {
                "name": "Emulated Telecom",
                "mobileNetworkCode": "01",
                "mobileCountryCode": "999",
            }
        return info


def _cost(offering: Offering, country: Country) -> dict[str, Any]:
    return {
        "amount": float(Decimal(offering.amount)),
        "currencyCode": country.currency,
        "billingFrequency": "monthly",
    }


def _number_not_found(phone_number: str) -> ApiError:
    return ApiError(
        404, "NotFound", f"Input phoneNumber {phone_number} cannot be found.", target="phonenumber"
    )


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(
            400, "InvalidInput", "reservationId must be a UUID.", target="reservationId"
        ) from None


def _object(value: Any, name: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "InvalidInput", f"{name} must be a JSON object.", target=name)
    return value


def _optional_enum(source: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = source.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(
            400, "InvalidInput", f"{name} must be one of {', '.join(allowed)}.", target=name
        )
    return str(value)


def _required_enum(source: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = _optional_enum(source, name, allowed)
    if value is None:
        raise ApiError(400, "InvalidInput", f"{name} is required.", target=name)
    return value
