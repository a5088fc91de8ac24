"""What the emulated resource sells, and what it says about any number.

Countries, localities, area codes, offerings and prices; operator information for a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._errors import ApiError
from ._inventory import COUNTRIES, Country, InventoryNumber, Locality, Offering
from ._validation import ASSIGNMENT_TYPES, NUMBER_TYPES, json_object, optional_enum

__all__ = ["Catalogue", "cost_wire"]


class Catalogue:
    """The countries of the emulator, with the inventory for operator lookups."""

    def __init__(self, inventory: Mapping[str, InventoryNumber]) -> None:
        self._inventory = inventory
        self._countries = {c.code: c for c in COUNTRIES}

    def country(self, code: str) -> Country:
        """The country, or the service's 400 for a code it cannot parse."""
        country = self._countries.get(code.upper())
        if country is None:
            raise ApiError(
                400, "InvalidInput", "Unable to parse country code.", target="countrycode"
            )
        return country

    def country_or_none(self, code: str) -> Country | None:
        """The country of a known code, or ``None``."""
        return self._countries.get(code)

    def countries(self) -> list[dict[str, Any]]:
        """Every country, in catalogue order."""
        return [{"localizedName": c.name, "countryCode": c.code} for c in COUNTRIES]

    def localities(self, code: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Localities of a country, filtered by division and number type."""
        country = self.country(code)
        division = query.get("administrativeDivision")
        number_type = optional_enum(query, "phoneNumberType", NUMBER_TYPES)
        listed: tuple[Locality, ...] = ()
        if number_type in (None, "geographic"):
            listed = country.localities
        elif number_type == "mobile":
            listed = country.mobile_localities
        return [
            {
                "localizedName": loc.name,
                "administrativeDivision": None
                if loc.division is None
                else {"localizedName": loc.division, "abbreviatedName": loc.division_abbreviation},
            }
            for loc in listed
            if division in (None, loc.division_abbreviation, loc.division)
        ]

    def area_codes(self, code: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Area codes with stock for a type (geographic ones need a locality)."""
        country = self.country(code)
        number_type = optional_enum(query, "phoneNumberType", NUMBER_TYPES)
        if number_type is None:
            raise ApiError(
                400, "InvalidInput", "phoneNumberType is required.", target="phoneNumberType"
            )
        assignment = optional_enum(query, "assignmentType", ASSIGNMENT_TYPES)
        if assignment and country.offering(number_type, assignment) is None:
            return []
        if number_type == "tollFree":
            return [{"areaCode": p} for p in country.toll_free_prefixes]
        if number_type == "mobile":
            locality = query.get("locality")
            codes = next(
                (loc.area_codes for loc in country.mobile_localities if loc.name == locality),
                () if locality and country.mobile_localities else country.mobile_prefixes,
            )
            return [{"areaCode": p} for p in codes]
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
        number_type = optional_enum(query, "phoneNumberType", NUMBER_TYPES)
        assignment = optional_enum(query, "assignmentType", ASSIGNMENT_TYPES)
        return [
            {
                "phoneNumberType": o.phone_number_type,
                "assignmentType": o.assignment_type,
                "availableCapabilities": {"calling": o.calling, "sms": o.sms},
                "cost": cost_wire(o, country),
            }
            for o in country.offerings
            if number_type in (None, o.phone_number_type)
            and assignment in (None, o.assignment_type)
        ]

    def operator_information(self, body: Any) -> dict[str, Any]:
        """Formatting for each number; operator details only when asked (they are billed)."""
        body = json_object(body)
        numbers = body.get("phoneNumbers")
        if not isinstance(numbers, list) or not numbers:
            raise ApiError(400, "InvalidInput", "phoneNumbers is required.", target="phoneNumbers")
        if len(numbers) > 1:  # recorded on every version since 2024-03-01-preview
            raise ApiError(400, "BadRequest", "Can only accept one phoneNumber")
        options = json_object(body.get("options") or {}, "options")
        details = bool(options.get("includeAdditionalOperatorDetails", False))
        return {"values": [self._operator_info(str(n), details) for n in numbers]}

    def needs_no_resell(self, country_code: str, phone_number_type: str) -> bool:
        """Whether buying this type in this country needs the agreement not to resell."""
        country = self._countries.get(country_code)
        return country is not None and phone_number_type in country.no_resell_types

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
        known = self._inventory.get(phone_number)
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


def cost_wire(offering: Offering, country: Country) -> dict[str, Any]:
    """An offering's monthly price as the service writes it."""
    return {
        "amount": float(Decimal(offering.amount)),
        "currencyCode": offering.currency or country.currency,
        "billingFrequency": "monthly",
    }
