"""What can be bought where: countries, localities, area codes and offerings (read-only lists)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from ._models import (
    PhoneNumberAreaCode,
    PhoneNumberAssignmentType,
    PhoneNumberCountry,
    PhoneNumberLocality,
    PhoneNumberOffering,
    PhoneNumberType,
    parse_model,
)
from ._paging import AsyncPager
from ._pipeline import Pipeline
from ._validation import enum_value, validate_country_code

__all__ = ["CatalogQueries"]

M = TypeVar("M", bound=BaseModel)


class CatalogQueries:
    """The catalogue's list operations of :class:`PhoneNumbersClient`.

    It also holds the pager every list of the client uses (its pipeline, its language).
    """

    _pipeline: Pipeline
    _language_headers: dict[str, str]

    def _pager(
        self, path: str, items_key: str, model: type[M], params: Mapping[str, Any]
    ) -> AsyncPager[M]:
        return AsyncPager(
            self._pipeline,
            path,
            items_key=items_key,
            parse=lambda item: parse_model(model, item),
            params=params,
            headers=self._language_headers,
        )

    def list_available_countries(
        self, *, skip: int = 0, max_page_size: int | None = None
    ) -> AsyncPager[PhoneNumberCountry]:
        """List countries where numbers can be bought."""
        return self._pager(
            "/availablePhoneNumbers/countries",
            "countries",
            PhoneNumberCountry,
            {"skip": skip, "maxPageSize": max_page_size},
        )

    def list_available_localities(
        self,
        country_code: str,
        *,
        phone_number_type: PhoneNumberType | str | None = None,
        administrative_division: str | None = None,
        skip: int = 0,
        max_page_size: int | None = None,
    ) -> AsyncPager[PhoneNumberLocality]:
        """List localities (cities) of a country, optionally within one division."""
        cc = validate_country_code(country_code)
        return self._pager(
            f"/availablePhoneNumbers/countries/{cc}/localities",
            "phoneNumberLocalities",
            PhoneNumberLocality,
            {
                "skip": skip,
                "maxPageSize": max_page_size,
                "administrativeDivision": administrative_division,
                "phoneNumberType": enum_value(PhoneNumberType, phone_number_type),
            },
        )

    def list_available_area_codes(
        self,
        country_code: str,
        phone_number_type: PhoneNumberType | str,
        *,
        assignment_type: PhoneNumberAssignmentType | str | None = None,
        locality: str | None = None,
        administrative_division: str | None = None,
        skip: int = 0,
        max_page_size: int | None = None,
    ) -> AsyncPager[PhoneNumberAreaCode]:
        """List area codes (or toll-free prefixes); geographic ones need ``locality``."""
        cc = validate_country_code(country_code)
        number_type = PhoneNumberType(phone_number_type)
        if number_type is PhoneNumberType.GEOGRAPHIC and not locality:
            raise ValueError("locality is required to list geographic area codes")
        return self._pager(
            f"/availablePhoneNumbers/countries/{cc}/areaCodes",
            "areaCodes",
            PhoneNumberAreaCode,
            {
                "phoneNumberType": number_type.value,
                "skip": skip,
                "maxPageSize": max_page_size,
                "assignmentType": enum_value(PhoneNumberAssignmentType, assignment_type),
                "locality": locality,
                "administrativeDivision": administrative_division,
            },
        )

    def list_available_offerings(
        self,
        country_code: str,
        *,
        phone_number_type: PhoneNumberType | str | None = None,
        assignment_type: PhoneNumberAssignmentType | str | None = None,
        skip: int = 0,
        max_page_size: int | None = None,
    ) -> AsyncPager[PhoneNumberOffering]:
        """List what can be bought in a country: type, assignment, capabilities and price."""
        cc = validate_country_code(country_code)
        return self._pager(
            f"/availablePhoneNumbers/countries/{cc}/offerings",
            "phoneNumberOfferings",
            PhoneNumberOffering,
            {
                "skip": skip,
                "maxPageSize": max_page_size,
                "phoneNumberType": enum_value(PhoneNumberType, phone_number_type),
                "assignmentType": enum_value(PhoneNumberAssignmentType, assignment_type),
            },
        )
