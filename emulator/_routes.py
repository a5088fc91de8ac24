"""The emulated operations: one entry per operation of the two specs, mapped to state methods."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._numbers import PhoneNumbersState
from ._operations import LroFault
from ._paging import page
from ._reply import Reply
from ._sip import PREVIEW_VERSION, SipState
from ._validation import number_in_path

__all__ = ["PN_VERSIONS", "ROUTES", "SIP_VERSIONS", "Call", "Route"]

PN_VERSIONS = ("2025-04-01", "2025-06-01")
SIP_VERSIONS = ("2023-03-01", PREVIEW_VERSION)


@dataclass
class Call:
    """One request, decoded, with the state it acts on."""

    numbers: PhoneNumbersState
    sip: SipState
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    api_version: str
    now: datetime
    lro: LroFault
    lro_retry_after: int | None


@dataclass(frozen=True)
class Route:
    """Method + path pattern -> the spec's operationId and its handler."""

    method: str
    pattern: re.Pattern[str]
    operation: str
    versions: tuple[str, ...]
    handler: Callable[[Call], Reply]
    lro_kind: str | None = None


def _json(body: Any, status: int = 200) -> Reply:
    return Reply(status, body)


def _paged(
    items_key: str, items_of: Callable[[Call], list[Any]], size_param: str = "maxPageSize"
) -> Callable[[Call], Reply]:
    """A list handler: the items, one page of them, and a nextLink on the request's own path."""

    def handle(call: Call) -> Reply:
        return _json(
            page(
                items_of(call),
                path=call.path,
                query=call.query,
                items_key=items_key,
                size_param=size_param,
            )
        )

    return handle


_countries = _paged("countries", lambda c: c.numbers.catalogue.countries())
_localities = _paged(
    "phoneNumberLocalities", lambda c: c.numbers.catalogue.localities(c.params["cc"], c.query)
)
_area_codes = _paged("areaCodes", lambda c: c.numbers.catalogue.area_codes(c.params["cc"], c.query))
_offerings = _paged(
    "phoneNumberOfferings", lambda c: c.numbers.catalogue.offerings(c.params["cc"], c.query)
)
_reservations = _paged("reservations", lambda c: c.numbers.reservations_list())
_purchased = _paged("phoneNumbers", lambda c: c.numbers.purchased_list(), size_param="top")


def _sip_get(c: Call) -> Reply:
    return _json(c.sip.get(c.api_version, expand=c.query.get("expand")))


def _r(
    method: str,
    path: str,
    operation: str,
    handler: Callable[[Call], Reply],
    lro_kind: str | None = None,
    versions: tuple[str, ...] = PN_VERSIONS,
) -> Route:
    return Route(method, re.compile(f"^{path}$"), operation, versions, handler, lro_kind)


_CC = r"/availablePhoneNumbers/countries/(?P<cc>[^/]+)"
_RES = r"/availablePhoneNumbers/reservations/(?P<rid>[^/]+)"
_NUM = r"/phoneNumbers/(?P<n>[^/]+)"
_OP = r"/phoneNumbers/operations/(?P<oid>[^/]+)"

ROUTES: tuple[Route, ...] = (
    _r(
        "GET", "/availablePhoneNumbers/countries", "PhoneNumbers_ListAvailableCountries", _countries
    ),
    _r("GET", _CC + "/localities", "PhoneNumbers_ListAvailableLocalities", _localities),
    _r("GET", _CC + "/areaCodes", "PhoneNumbers_ListAreaCodes", _area_codes),
    _r("GET", _CC + "/offerings", "PhoneNumbers_ListOfferings", _offerings),
    _r(
        "POST",
        _CC + "/:browse",
        "PhoneNumbers_BrowseAvailableNumbers",
        lambda c: c.numbers.browse(c.params["cc"], c.body),
    ),
    _r(
        "POST",
        _CC + "/:search",
        "PhoneNumbers_SearchAvailablePhoneNumbers",
        lambda c: c.numbers.search(c.params["cc"], c.body, c.now, c.lro, c.api_version),
        "search",
    ),
    _r(
        "GET", "/availablePhoneNumbers/reservations", "PhoneNumbers_ListReservations", _reservations
    ),
    _r(
        "PATCH",
        _RES,
        "PhoneNumbers_CreateOrUpdateReservation",
        lambda c: c.numbers.upsert_reservation(c.params["rid"], c.body, c.now),
    ),
    _r(
        "GET",
        _RES,
        "PhoneNumbers_GetReservation",
        lambda c: _json(c.numbers.get_reservation(c.params["rid"])),
    ),
    _r(
        "DELETE",
        _RES,
        "PhoneNumbers_DeleteReservation",
        lambda c: c.numbers.delete_reservation(c.params["rid"]),
    ),
    _r(
        "POST",
        _RES + "/:purchase",
        "PhoneNumbers_PurchaseReservation",
        lambda c: c.numbers.purchase_reservation(
            c.params["rid"], c.body, c.now, c.lro, c.api_version
        ),
        "reservationPurchase",
    ),
    _r(
        "GET",
        r"/availablePhoneNumbers/searchResults/(?P<sid>[^/]+)",
        "PhoneNumbers_GetSearchResult",
        lambda c: _json(c.numbers.search_result(c.params["sid"])),
    ),
    _r(
        "POST",
        "/availablePhoneNumbers/:purchase",
        "PhoneNumbers_PurchasePhoneNumbers",
        lambda c: c.numbers.purchase_search(c.body, c.now, c.lro, c.api_version),
        "purchase",
    ),
    _r(
        "GET",
        _OP,
        "PhoneNumbers_GetOperation",
        lambda c: c.numbers.operation(c.params["oid"], c.now, c.lro_retry_after),
    ),
    _r(
        "DELETE",
        _OP,
        "PhoneNumbers_CancelOperation",
        lambda c: c.numbers.cancel_operation(c.params["oid"]),
    ),
    _r(
        "PATCH",
        _NUM + "/capabilities",
        "PhoneNumbers_UpdateCapabilities",
        lambda c: c.numbers.update_capabilities(
            number_in_path(c.params["n"]), c.body, c.now, c.lro, c.api_version
        ),
        "capabilities",
    ),
    _r(
        "GET",
        _NUM,
        "PhoneNumbers_GetByNumber",
        lambda c: _json(c.numbers.get_purchased(number_in_path(c.params["n"]))),
    ),
    _r(
        "DELETE",
        _NUM,
        "PhoneNumbers_ReleasePhoneNumber",
        lambda c: c.numbers.release(number_in_path(c.params["n"]), c.now, c.lro, c.api_version),
        "release",
    ),
    _r("GET", "/phoneNumbers", "PhoneNumbers_ListPhoneNumbers", _purchased),
    _r(
        "POST",
        "/operatorInformation/:search",
        "PhoneNumbers_OperatorInformationSearch",
        lambda c: _json(c.numbers.catalogue.operator_information(c.body)),
    ),
    _r("GET", "/sip", "SipRouting_Get", _sip_get, versions=SIP_VERSIONS),
    _r(
        "PATCH",
        "/sip",
        "SipRouting_Update",
        lambda c: _json(c.sip.patch(c.body, c.api_version)),
        versions=SIP_VERSIONS,
    ),
    _r(
        "POST",
        "/sip:testRoutesWithNumber",
        "SipRouting_TestRoutesWithNumber",
        lambda c: _json(c.sip.test_routes(c.query.get("targetPhoneNumber"), c.body)),
        versions=(PREVIEW_VERSION,),
    ),
)
