"""Classic searches: numbers held from the start, bought by the search's id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ._catalogue import cost_wire
from ._clock import format_time
from ._errors import ApiError
from ._inventory import capability_allows
from ._numbers_core import NumbersCore
from ._operations import LroFault, lro_reply
from ._records import (
    Search,
    SearchState,
)
from ._reply import Reply
from ._validation import (
    ASSIGNMENT_TYPES,
    CAPABILITIES,
    NUMBER_TYPES,
    json_object,
    no_resell_consent,
    required_enum,
)

__all__ = ["Searches"]

_OUT_OF_STOCK = 1000
"""The service's ``errorCode`` of a search that found nothing."""


class Searches(NumbersCore):
    """Search, its result, and its purchase."""

    def search(
        self, code: str, body: Any, now: datetime, fault: LroFault, api_version: str
    ) -> Reply:
        """Start a search; the numbers are held at once, the result readable when it succeeds."""
        search = self._new_search(code, body, now)
        search_id = search.id

        def succeed(_: datetime) -> None:
            search.state = (
                SearchState.HELD if search.state is SearchState.SEARCHING else search.state
            )

        def fail(_: datetime) -> None:
            self._release_holds(f"search:{search_id}")
            search.state = SearchState.FAILED

        location = f"/availablePhoneNumbers/searchResults/{search_id}?api-version={api_version}"
        op = self._start(f"search_{self._new_id()}", "search", now, location, succeed, fail, fault)
        return lro_reply(op, api_version, search_id, location=location)

    def _new_search(self, code: str, body: Any, now: datetime) -> Search:
        """Check the request, then hold the first ``quantity`` matching numbers under it."""
        country = self.catalogue.country(code)
        body = json_object(body)
        number_type = required_enum(body, "phoneNumberType", NUMBER_TYPES)
        assignment = required_enum(body, "assignmentType", ASSIGNMENT_TYPES)
        capabilities = json_object(body.get("capabilities"), "capabilities")
        calling = required_enum(capabilities, "calling", CAPABILITIES)
        sms = required_enum(capabilities, "sms", CAPABILITIES)
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
        return search

    def search_result(self, search_id: str) -> dict[str, Any]:
        """The search result once the search succeeded (404 before, or if it failed)."""
        search = self.searches.get(search_id)
        if search is None or not search.state.has_result:
            raise ApiError(
                404, "NotFound", f"Search {search_id} cannot be found.", target="searchId"
            )
        result: dict[str, Any] = {
            "searchId": search.id,
            "phoneNumbers": list(search.numbers),
            "phoneNumberType": search.phone_number_type,
            "assignmentType": search.assignment_type,
            "capabilities": {"calling": search.calling, "sms": search.sms},
            "cost": cost_wire(search.offering, search.country),
            "searchExpiresBy": format_time(search.expires_at),
            "isAgreementToNotResellRequired": self.catalogue.needs_no_resell(
                search.country.code, search.phone_number_type
            ),
            "error": "NoError",
        }
        if not search.numbers:
            result.update(error="OutOfStock", errorCode=_OUT_OF_STOCK)
        elif search.state is SearchState.EXPIRED:
            result["error"] = "ReservationExpired"
        return result

    def purchase_search(self, body: Any, now: datetime, fault: LroFault, api_version: str) -> Reply:
        """Start buying a search; a second call returns the first call's operation."""
        body = json_object(body)
        search_id = body.get("searchId")
        search = self.searches.get(search_id) if isinstance(search_id, str) else None
        if search is None or not search.state.has_result:
            raise ApiError(
                404, "NotFound", f"Search {search_id} cannot be found.", target="searchId"
            )
        op_id = f"purchase_{search.id}"
        started = search.state in (SearchState.PURCHASING, SearchState.PURCHASED)
        repeated = self._purchase_posted(search.id, op_id, started, api_version, now)
        if repeated is not None:
            return repeated
        if search.state is SearchState.EXPIRED:
            raise ApiError(400, "ReservationExpired", "The search has expired; search again.")
        if not search.numbers:
            raise ApiError(400, "BadRequest", "The search holds no phone numbers.")
        if not body.get("agreeToNotResell") and self.catalogue.needs_no_resell(
            search.country.code, search.phone_number_type
        ):
            raise no_resell_consent(search=True, api_version=api_version)
        search.state = SearchState.PURCHASING

        def succeed(at: datetime) -> None:
            for number in search.numbers:
                self._buy(number, search.assignment_type, search.calling, search.sms, at, search.id)
            search.state = SearchState.PURCHASED

        def fail(_: datetime) -> None:
            search.state = SearchState.HELD

        op = self._start(op_id, "purchase", now, None, succeed, fail, fault)
        return lro_reply(op, api_version, search.id)
