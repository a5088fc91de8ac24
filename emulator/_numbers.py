"""Phone Numbers API state: one resource's numbers, from stock to owned and back.

The rooms: the catalogue (``_catalogue``), validation (``_validation``), the records and their
states (``_records``), the core and its clock (``_numbers_core``), reservations
(``_reservations``), searches (``_searches``), operations (``_operations``) and wire shapes
(``_wire``). This class adds what happens to owned numbers, operation reads, and admin.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from ._clock import format_time
from ._errors import ApiError
from ._inventory import InventoryNumber, capability_allows
from ._operations import LroFault, lro_reply
from ._records import Purchased
from ._reply import Reply
from ._reservations import Reservations
from ._searches import Searches
from ._validation import (
    CAPABILITIES,
    json_object,
    number_not_found,
    optional_enum,
)
from ._wire import purchased_wire, reservation_wire

__all__ = ["RELEASE_BY_SERVICE_DESK", "PhoneNumbersState"]

RELEASE_BY_SERVICE_DESK = "ReleaseByServiceDesk"
"""The code of a release refused because the country's releases go through Microsoft's service
desk (the emulator's choice: the service's answer is not documented)."""
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class PhoneNumbersState(Reservations, Searches):
    """All Phone Numbers state of one emulated resource."""

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
        return [purchased_wire(p, self.catalogue) for p in self.purchased.values()]

    def get_purchased(self, phone_number: str) -> dict[str, Any]:
        """One owned number (404 when not owned)."""
        owned = self.purchased.get(phone_number)
        if owned is None:
            raise number_not_found(phone_number)
        return purchased_wire(owned, self.catalogue)

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
        body = json_object(body)
        calling = optional_enum(body, "calling", CAPABILITIES) or owned.calling
        sms = optional_enum(body, "sms", CAPABILITIES) or owned.sms
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
        reply = lro_reply(op, api_version, update_id, location=location)
        return Reply(202, {"capabilitiesUpdateId": update_id}, reply.headers)

    def release(self, phone_number: str, now: datetime, fault: LroFault, api_version: str) -> Reply:
        """Start releasing an owned number; a release in flight is returned again.

        In a country whose releases go through Microsoft's service desk, the API refuses.
        """
        pending = self._releasing.get(phone_number)
        if pending is not None:
            op = self.operations[pending]
            return lro_reply(op, api_version, op.id.removeprefix("release_"))
        if phone_number not in self.purchased:
            raise number_not_found(phone_number)
        country = self.purchased[phone_number].number.country_code
        if country in self._config.service_desk_release_countries:
            raise ApiError(
                400,
                RELEASE_BY_SERVICE_DESK,
                f"Releasing a telephone number in {country} needs to be done through the "
                "Service Desk team.",
                target="phoneNumber",
            )
        release_id = self._new_id()
        op_id = f"release_{release_id}"
        self._releasing[phone_number] = op_id

        def succeed(at: datetime) -> None:
            self._releasing.pop(phone_number, None)
            self.purchased.pop(phone_number, None)
            self.release_log.append(phone_number)
            quarantine = self._config.release_quarantine_seconds
            if quarantine > 0:
                self.quarantined[phone_number] = at + timedelta(seconds=quarantine)

        def fail(_: datetime) -> None:
            self._releasing.pop(phone_number, None)

        op = self._start(op_id, "release", now, None, succeed, fail, fault)
        return lro_reply(op, api_version, release_id)

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
                reservation_wire(r, self.catalogue, with_numbers=True)
                for r in self.reservations.values()
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
            "releaseLog": list(self.release_log),
        }

    def onboard(self, spec: Any, now: datetime) -> dict[str, Any]:
        """Put a number into the resource as a port-in or a special order delivers it.

        ``{"phoneNumber", "countryCode", "phoneNumberType", "assignmentType", "capabilities":
        {"calling", "sms"}, "via": "port" | "specialOrder"}``: the number need not be in the
        stock (a ported number never was); it is owned from now, bought by no client.
        """
        if not isinstance(spec, dict):
            raise ApiError(400, "InvalidInput", "Give the number to onboard as an object.")
        phone_number = spec.get("phoneNumber")
        if not isinstance(phone_number, str) or not _E164.fullmatch(phone_number):
            raise ApiError(400, "InvalidInput", "phoneNumber: an E.164 number such as +1425...")
        via = spec.get("via", "port")
        if via not in ("port", "specialOrder"):
            raise ApiError(400, "InvalidInput", "via: port or specialOrder.")
        country = self.catalogue.country(str(spec.get("countryCode", "")))
        number_type = str(spec.get("phoneNumberType", "geographic"))
        assignment = str(spec.get("assignmentType", "application"))
        offering = country.offering(number_type, assignment)
        if offering is None:
            raise ApiError(
                400, "InvalidInput", f"{country.code} has no {number_type} {assignment} numbers."
            )
        capabilities = spec.get("capabilities") or {}
        calling = str(capabilities.get("calling", offering.calling))
        sms = str(capabilities.get("sms", offering.sms))
        if phone_number in self.purchased or phone_number in self.holds:
            raise ApiError(409, "Conflict", f"{phone_number} is already in the resource or held.")
        number = self.inventory.get(phone_number) or InventoryNumber(
            phone_number, country.code, number_type, phone_number[1:4], None
        )
        self.quarantined.pop(phone_number, None)
        self.purchased[phone_number] = Purchased(number, assignment, calling, sms, offering, now)
        self.purchase_log.append((phone_number, via))
        return purchased_wire(self.purchased[phone_number], self.catalogue)

    def force_purchase(self, phone_number: str, now: datetime) -> dict[str, Any]:
        """Buy a number directly, as if someone used the portal (outside any client)."""
        number = self.inventory.get(phone_number)
        if number is None or not self._is_available(phone_number):
            raise ApiError(409, "Conflict", f"{phone_number} is not available.")
        country = self.catalogue.country(number.country_code)
        offering = next(
            o for o in country.offerings if o.phone_number_type == number.phone_number_type
        )
        self._buy(
            phone_number, offering.assignment_type, offering.calling, offering.sms, now, "portal"
        )
        return purchased_wire(self.purchased[phone_number], self.catalogue)
