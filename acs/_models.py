"""Wire models of the Phone Numbers API 2025-06-01 (camelCase on the wire, snake_case here).

Responses tolerate extra fields (the service adds some over time); money is ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ._errors import AcsProtocolError

__all__ = [
    "AcsModel",
    "AvailablePhoneNumber",
    "AvailablePhoneNumberError",
    "BillingFrequency",
    "OperatorDetails",
    "OperatorInformation",
    "OperatorInformationOptions",
    "OperatorInformationResult",
    "OperatorNumberType",
    "PhoneNumberAdministrativeDivision",
    "PhoneNumberAreaCode",
    "PhoneNumberAssignmentType",
    "PhoneNumberAvailabilityStatus",
    "PhoneNumberCapabilities",
    "PhoneNumberCapabilityType",
    "PhoneNumberCost",
    "PhoneNumberCountry",
    "PhoneNumberLocality",
    "PhoneNumberOffering",
    "PhoneNumberSearchResult",
    "PhoneNumberType",
    "PhoneNumbersBrowseResult",
    "PhoneNumbersReservation",
    "PurchasedPhoneNumber",
    "ReservationStatus",
    "parse_model",
]

M = TypeVar("M", bound=BaseModel)


class AcsModel(BaseModel):
    """Base of all wire models: camelCase aliases, construction by field name, extras ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def to_wire(self) -> dict[str, object]:
        """Serialise with wire names, dropping unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PhoneNumberType(StrEnum):
    """Kind of number."""

    GEOGRAPHIC = "geographic"
    TOLL_FREE = "tollFree"
    MOBILE = "mobile"


class PhoneNumberAssignmentType(StrEnum):
    """Who the number is for: a person (user) or an application (bot, IVR, SIP trunk)."""

    PERSON = "person"
    APPLICATION = "application"


class PhoneNumberCapabilityType(StrEnum):
    """One capability's direction."""

    NONE = "none"
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INBOUND_OUTBOUND = "inbound+outbound"


class BillingFrequency(StrEnum):
    """How often a number is billed."""

    MONTHLY = "monthly"


class PhoneNumberAvailabilityStatus(StrEnum):
    """State of a number inside a browse result or reservation."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    EXPIRED = "expired"
    ERROR = "error"
    PURCHASED = "purchased"


class ReservationStatus(StrEnum):
    """Lifecycle of a reservation."""

    ACTIVE = "active"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    EXPIRED = "expired"


class OperatorNumberType(StrEnum):
    """Number type reported by operator information."""

    UNKNOWN = "unknown"
    OTHER = "other"
    GEOGRAPHIC = "geographic"
    MOBILE = "mobile"


class PhoneNumberCapabilities(AcsModel):
    """Calling and SMS capabilities of a number."""

    calling: PhoneNumberCapabilityType
    sms: PhoneNumberCapabilityType


class PhoneNumberCost(AcsModel):
    """Monthly price of one number."""

    amount: Decimal
    currency_code: str
    billing_frequency: BillingFrequency


class PhoneNumberSearchResult(AcsModel):
    """Numbers held by a search until ``search_expires_by``; may be fewer than asked."""

    search_id: str
    phone_numbers: list[str]
    phone_number_type: PhoneNumberType
    assignment_type: PhoneNumberAssignmentType
    capabilities: PhoneNumberCapabilities
    cost: PhoneNumberCost
    search_expires_by: datetime
    is_agreement_to_not_resell_required: bool = False
    error_code: int | None = None
    error: str | None = None


class PurchasedPhoneNumber(AcsModel):
    """A number owned by the resource."""

    id: str
    phone_number: str
    country_code: str
    phone_number_type: PhoneNumberType
    capabilities: PhoneNumberCapabilities
    assignment_type: PhoneNumberAssignmentType
    purchase_date: datetime
    cost: PhoneNumberCost


class PhoneNumberCountry(AcsModel):
    """A country where numbers can be bought."""

    localized_name: str
    country_code: str


class PhoneNumberAdministrativeDivision(AcsModel):
    """State, province or region."""

    localized_name: str
    abbreviated_name: str


class PhoneNumberLocality(AcsModel):
    """A city or area with geographic numbers."""

    localized_name: str
    administrative_division: PhoneNumberAdministrativeDivision | None = None


class PhoneNumberAreaCode(AcsModel):
    """An area code (or toll-free prefix) with stock."""

    area_code: str | None = None


class PhoneNumberOffering(AcsModel):
    """What can be bought in a country: type, assignment, the capabilities allowed and price."""

    phone_number_type: PhoneNumberType | None = None
    assignment_type: PhoneNumberAssignmentType | None = None
    available_capabilities: PhoneNumberCapabilities | None = None
    cost: PhoneNumberCost


class AvailablePhoneNumberError(AcsModel):
    """Why a number in a reservation could not be held or bought."""

    code: str | None = None
    message: str | None = None


class AvailablePhoneNumber(AcsModel):
    """A number from inventory, as browsed or as held in a reservation."""

    id: str | None = None
    country_code: str
    phone_number: str | None = None
    capabilities: PhoneNumberCapabilities
    phone_number_type: PhoneNumberType
    assignment_type: PhoneNumberAssignmentType
    cost: PhoneNumberCost | None = None
    status: PhoneNumberAvailabilityStatus | None = None
    is_agreement_to_not_resell_required: bool | None = None
    error: AvailablePhoneNumberError | None = None


class PhoneNumbersBrowseResult(AcsModel):
    """A random sample of available numbers; browsing holds nothing."""

    phone_numbers: list[AvailablePhoneNumber]


class PhoneNumbersReservation(AcsModel):
    """A client-keyed hold on numbers, extended by each change (15 min, at most 2 h)."""

    id: str | None = None
    expires_at: datetime | None = None
    phone_numbers: dict[str, AvailablePhoneNumber | None] | None = None
    status: ReservationStatus | None = None


class OperatorInformationOptions(AcsModel):
    """Options of an operator lookup; the extra details are billed."""

    include_additional_operator_details: bool = False


class OperatorDetails(AcsModel):
    """The operator that serves a number."""

    name: str | None = None
    mobile_network_code: str | None = None
    mobile_country_code: str | None = None


class OperatorInformation(AcsModel):
    """Formatting and operator data of one number."""

    phone_number: str
    national_format: str | None = None
    international_format: str | None = None
    iso_country_code: str | None = None
    number_type: OperatorNumberType | None = None
    operator_details: OperatorDetails | None = None


class OperatorInformationResult(AcsModel):
    """Operator information, one entry per number asked."""

    values: list[OperatorInformation] = Field(default_factory=list)


def parse_model(model: type[M], data: Any) -> M:
    """Validate a response body; a mismatch is the service breaking the contract."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AcsProtocolError(
            f"response does not match {model.__name__}: {exc.errors()[0]['msg']}",
            code="MalformedResponse",
        ) from exc
