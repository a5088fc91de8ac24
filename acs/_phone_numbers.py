"""``PhoneNumbersClient``: every operation of the Phone Numbers API 2025-06-01."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import httpx

from ._api_versions import DEFAULT_PHONE_NUMBERS_API_VERSION
from ._auth import Credential
from ._base import BaseClient
from ._catalog import CatalogQueries
from ._errors import AcsOperationFailedError
from ._lro import (
    POLL_SCHEDULE,
    OperationKind,
    OperationPoll,
    OperationRef,
    OperationStatus,
    PhoneNumberOperation,
    PollSchedule,
)
from ._models import (
    AvailablePhoneNumber,
    OperatorInformationOptions,
    OperatorInformationResult,
    PhoneNumberAssignmentType,
    PhoneNumberCapabilities,
    PhoneNumberCapabilityType,
    PhoneNumbersBrowseResult,
    PhoneNumberSearchResult,
    PhoneNumbersReservation,
    PhoneNumberType,
    PurchasedPhoneNumber,
    parse_model,
)
from ._paging import AsyncPager
from ._pipeline import DEFAULT_TIMEOUT, ensure, json_body, parse_retry_after
from ._validation import (
    enum_value,
    validate_country_code,
    validate_e164,
    validate_positive,
    validate_reservation_id,
)

__all__ = ["PhoneNumbersClient"]


_MERGE_PATCH = "application/merge-patch+json"
_ID_HEADERS = {
    OperationKind.SEARCH: "search-id",
    OperationKind.PURCHASE: "purchase-id",
    OperationKind.RELEASE: "release-id",
    OperationKind.CAPABILITIES: "capabilities-id",
    OperationKind.RESERVATION_PURCHASE: "reservation-purchase-id",
}


class PhoneNumbersClient(CatalogQueries, BaseClient):
    """Async client of the ACS Phone Numbers API.

    Method and keyword names follow the official ``azure.communication.phonenumbers.aio``
    client. Deliberate differences: ``begin_*`` return an :class:`OperationRef` instead of a
    poller (poll with :meth:`get_operation`, finish with :meth:`fetch_result`, or block with
    :meth:`wait`); no write is ever retried by the client; ``http://`` endpoints work.

    Example:
        ```python
        async with PhoneNumbersClient.from_connection_string(conn) as client:
            ref = await client.begin_search_available_phone_numbers(
                "US", "tollFree", "application",
                PhoneNumberCapabilities(calling="outbound", sms="inbound+outbound"), quantity=2)
            await client.wait(ref)
            result = await client.get_search_result(ref.resource_id)
        ```
    """

    def __init__(
        self,
        endpoint: str,
        credential: Credential,
        *,
        api_version: str = DEFAULT_PHONE_NUMBERS_API_VERSION,
        accepted_language: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        get_retries: int = 3,
    ) -> None:
        super().__init__(
            endpoint,
            credential,
            api_version=api_version,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            get_retries=get_retries,
        )
        self._language_headers = {"Accept-Language": accepted_language} if accepted_language else {}

    # -- browse and reservations ---------------------------------------------------------------

    async def browse_available_phone_numbers(
        self,
        *,
        country_code: str,
        phone_number_type: PhoneNumberType | str,
        sms_capability: PhoneNumberCapabilityType | str | None = None,
        calling_capability: PhoneNumberCapabilityType | str | None = None,
        assignment_type: PhoneNumberAssignmentType | str | None = None,
        phone_number_prefixes: Iterable[str] | None = None,
    ) -> PhoneNumbersBrowseResult:
        """Return a random sample of available numbers; nothing is held."""
        cc = validate_country_code(country_code)
        body: dict[str, Any] = {"phoneNumberType": PhoneNumberType(phone_number_type).value}
        capabilities = {
            "calling": enum_value(PhoneNumberCapabilityType, calling_capability),
            "sms": enum_value(PhoneNumberCapabilityType, sms_capability),
        }
        if any(capabilities.values()):
            body["capabilities"] = {k: v for k, v in capabilities.items() if v}
        if assignment_type is not None:
            body["assignmentType"] = PhoneNumberAssignmentType(assignment_type).value
        if phone_number_prefixes is not None:
            body["phoneNumberPrefixes"] = [p.lstrip("+") for p in phone_number_prefixes]
        data = await self._pipeline.request_json(
            "POST", f"/availablePhoneNumbers/countries/{cc}/:browse", body=body
        )
        return parse_model(PhoneNumbersBrowseResult, data)

    def list_reservations(self, *, max_page_size: int = 100) -> AsyncPager[PhoneNumbersReservation]:
        """List reservations (their numbers are not populated by the service)."""
        return self._pager(
            "/availablePhoneNumbers/reservations",
            "reservations",
            PhoneNumbersReservation,
            {"maxPageSize": max_page_size},
        )

    async def create_or_update_reservation(
        self,
        *,
        reservation_id: str | uuid.UUID,
        numbers_to_add: Iterable[AvailablePhoneNumber] | None = None,
        numbers_to_remove: Iterable[str] | None = None,
    ) -> PhoneNumbersReservation:
        """Create the reservation or add/remove numbers; idempotent for a client-chosen UUID.

        The answer may be a partial success (HTTP 207): check each number's ``status`` and
        ``error`` in the returned reservation.
        """
        rid = validate_reservation_id(reservation_id)
        numbers: dict[str, Any] = {}
        for number in numbers_to_add or ():
            if not number.id:
                raise ValueError("numbers_to_add need their id (from a browse result)")
            numbers[number.id] = {
                "countryCode": number.country_code,
                "capabilities": number.capabilities.to_wire(),
                "phoneNumberType": number.phone_number_type.value,
                "assignmentType": number.assignment_type.value,
            }
        for number_id in numbers_to_remove or ():
            numbers[number_id.lstrip("+")] = None
        data = await self._pipeline.request_json(
            "PATCH",
            f"/availablePhoneNumbers/reservations/{rid}",
            body={"phoneNumbers": numbers},
            content_type=_MERGE_PATCH,
        )
        return parse_model(PhoneNumbersReservation, data)

    async def get_reservation(self, reservation_id: str | uuid.UUID) -> PhoneNumbersReservation:
        """Get a reservation with its numbers and their statuses."""
        rid = validate_reservation_id(reservation_id)
        data = await self._pipeline.request_json(
            "GET", f"/availablePhoneNumbers/reservations/{rid}"
        )
        return parse_model(PhoneNumbersReservation, data)

    async def delete_reservation(self, reservation_id: str | uuid.UUID) -> None:
        """Delete an active reservation, returning its numbers to inventory."""
        rid = validate_reservation_id(reservation_id)
        await self._pipeline.request("DELETE", f"/availablePhoneNumbers/reservations/{rid}")

    async def begin_purchase_reservation(
        self, reservation_id: str | uuid.UUID, *, agree_to_not_resell: bool = False
    ) -> OperationRef:
        """Start buying every number of a reservation."""
        rid = validate_reservation_id(reservation_id)
        response = await self._pipeline.request(
            "POST",
            f"/availablePhoneNumbers/reservations/{rid}/:purchase",
            body={"agreeToNotResell": agree_to_not_resell},
        )
        return _operation_ref(response, OperationKind.RESERVATION_PURCHASE)

    # -- search and purchase -------------------------------------------------------------------

    async def begin_search_available_phone_numbers(
        self,
        country_code: str,
        phone_number_type: PhoneNumberType | str,
        assignment_type: PhoneNumberAssignmentType | str,
        capabilities: PhoneNumberCapabilities,
        *,
        area_code: str | None = None,
        quantity: int | None = None,
    ) -> OperationRef:
        """Start a search that holds numbers until ``search_expires_by`` (about 16 minutes)."""
        cc = validate_country_code(country_code)
        body: dict[str, Any] = {
            "phoneNumberType": PhoneNumberType(phone_number_type).value,
            "assignmentType": PhoneNumberAssignmentType(assignment_type).value,
            "capabilities": capabilities.to_wire(),
        }
        if area_code is not None:
            body["areaCode"] = area_code
        if quantity is not None:
            body["quantity"] = validate_positive("quantity", quantity)
        response = await self._pipeline.request(
            "POST", f"/availablePhoneNumbers/countries/{cc}/:search", body=body
        )
        return _operation_ref(response, OperationKind.SEARCH)

    async def get_search_result(self, search_id: str) -> PhoneNumberSearchResult:
        """Read a search's held numbers, cost and expiry (also after the LRO finished)."""
        if not search_id:
            raise ValueError("search_id is required")
        data = await self._pipeline.request_json(
            "GET", f"/availablePhoneNumbers/searchResults/{quote(search_id, safe='')}"
        )
        return parse_model(PhoneNumberSearchResult, data)

    async def begin_purchase_phone_numbers(
        self, search_id: str, *, agree_to_not_resell: bool = False
    ) -> OperationRef:
        """Start buying the numbers a search holds."""
        if not search_id:
            raise ValueError("search_id is required")
        response = await self._pipeline.request(
            "POST",
            "/availablePhoneNumbers/:purchase",
            body={"searchId": search_id, "agreeToNotResell": agree_to_not_resell},
        )
        return _operation_ref(response, OperationKind.PURCHASE)

    # -- operations ----------------------------------------------------------------------------

    async def get_operation(self, operation: OperationRef | str) -> OperationPoll:
        """Poll an operation once. An unknown status raises :class:`AcsProtocolError`."""
        if isinstance(operation, OperationRef):
            path = operation.operation_location
        else:
            path = f"/phoneNumbers/operations/{quote(operation, safe='')}"
        response = await self._pipeline.request("GET", path)
        record = parse_model(PhoneNumberOperation, json_body(response))
        return OperationPoll(operation=record, retry_after=parse_retry_after(response.headers))

    async def cancel_operation(self, operation_id: str) -> None:
        """Delete an operation record (the service documents no effect on the work itself)."""
        await self._pipeline.request(
            "DELETE", f"/phoneNumbers/operations/{quote(operation_id, safe='')}"
        )

    async def fetch_result(
        self, ref: OperationRef
    ) -> PhoneNumberSearchResult | PurchasedPhoneNumber | None:
        """Fetch what a succeeded operation produced: the search result or the updated number.

        Purchases and releases produce nothing to fetch (``None``), as on the service.
        """
        if ref.kind not in (OperationKind.SEARCH, OperationKind.CAPABILITIES):
            return None
        ensure(ref.location is not None, f"{ref.kind} operation has no Location to fetch")
        data = await self._pipeline.request_json("GET", str(ref.location))
        if ref.kind is OperationKind.SEARCH:
            return parse_model(PhoneNumberSearchResult, data)
        return parse_model(PurchasedPhoneNumber, data)

    async def wait(
        self,
        ref: OperationRef,
        *,
        schedule: PollSchedule = POLL_SCHEDULE,
        timeout: float = 600.0,
    ) -> PhoneNumberOperation:
        """Poll until the operation ends; for scripts, not for durable orchestration.

        Polls follow ``schedule`` from now (the operation has just started); a ``Retry-After``
        from the service sets the next delay instead.

        Raises:
            AcsOperationFailedError: the operation ended ``failed``.
            TimeoutError: it did not end within ``timeout`` seconds.
        """
        started = time.monotonic()
        delay = ref.retry_after if ref.retry_after is not None else schedule.first
        while True:
            if time.monotonic() + delay > started + timeout:
                raise TimeoutError(f"operation {ref.operation_id} not done after {timeout}s")
            await asyncio.sleep(delay)
            poll = await self.get_operation(ref)
            if poll.status is OperationStatus.SUCCEEDED:
                return poll.operation
            if poll.status is OperationStatus.FAILED:
                error = poll.operation.error
                raise AcsOperationFailedError(
                    error.message if error else f"operation {ref.operation_id} failed",
                    code=error.code if error else "OperationFailed",
                    target=error.target if error else None,
                )
            delay = (
                poll.retry_after
                if poll.retry_after is not None
                else schedule.delay(time.monotonic() - started)
            )

    # -- purchased numbers ---------------------------------------------------------------------

    async def get_purchased_phone_number(self, phone_number: str) -> PurchasedPhoneNumber:
        """Get one owned number."""
        data = await self._pipeline.request_json("GET", _number_path(phone_number))
        return parse_model(PurchasedPhoneNumber, data)

    def list_purchased_phone_numbers(
        self, *, skip: int = 0, top: int = 100
    ) -> AsyncPager[PurchasedPhoneNumber]:
        """List owned numbers, following ``nextLink``."""
        return self._pager(
            "/phoneNumbers", "phoneNumbers", PurchasedPhoneNumber, {"skip": skip, "top": top}
        )

    async def begin_update_phone_number_capabilities(
        self,
        phone_number: str,
        *,
        sms: PhoneNumberCapabilityType | str | None = None,
        calling: PhoneNumberCapabilityType | str | None = None,
    ) -> OperationRef:
        """Start changing a number's calling and/or SMS capabilities."""
        body = {
            key: value
            for key, value in (
                ("calling", enum_value(PhoneNumberCapabilityType, calling)),
                ("sms", enum_value(PhoneNumberCapabilityType, sms)),
            )
            if value is not None
        }
        if not body:
            raise ValueError("give sms and/or calling")
        response = await self._pipeline.request(
            "PATCH",
            _number_path(phone_number) + "/capabilities",
            body=body,
            content_type=_MERGE_PATCH,
        )
        return _operation_ref(response, OperationKind.CAPABILITIES)

    async def begin_release_phone_number(self, phone_number: str) -> OperationRef:
        """Start releasing an owned number."""
        response = await self._pipeline.request("DELETE", _number_path(phone_number))
        return _operation_ref(response, OperationKind.RELEASE)

    # -- operator information ------------------------------------------------------------------

    async def search_operator_information(
        self,
        phone_numbers: str | Iterable[str],
        *,
        options: OperatorInformationOptions | None = None,
    ) -> OperatorInformationResult:
        """Look up formatting (free) and, with options, operator details (billed).

        The service takes one number per call (400 "Can only accept one phoneNumber" for more),
        so more than one is refused here, before anything is sent.
        """
        numbers = [phone_numbers] if isinstance(phone_numbers, str) else list(phone_numbers)
        if len(numbers) != 1:
            raise ValueError(
                f"give exactly one phone number (the service looks up one per call), "
                f"not {len(numbers)}"
            )
        body = {
            "phoneNumbers": [validate_e164(n) for n in numbers],
            "options": (options or OperatorInformationOptions()).to_wire(),
        }
        data = await self._pipeline.request_json("POST", "/operatorInformation/:search", body=body)
        return parse_model(OperatorInformationResult, data)

    # -- helpers -------------------------------------------------------------------------------


def _number_path(phone_number: str) -> str:
    return "/phoneNumbers/" + quote(validate_e164(phone_number), safe="")


def _operation_ref(response: httpx.Response, kind: OperationKind) -> OperationRef:
    operation_location = response.headers.get("operation-location")
    operation_id = response.headers.get("operation-id")
    ensure(
        response.status_code == 202 and bool(operation_location) and bool(operation_id),
        f"{kind} start answered {response.status_code} without Operation-Location/operation-id",
    )
    return OperationRef(
        operation_id=str(operation_id),
        operation_location=str(operation_location),
        kind=kind,
        resource_id=response.headers.get(_ID_HEADERS[kind]),
        location=response.headers.get("location"),
        retry_after=parse_retry_after(response.headers),
    )
