"""How the emulated service checks a request's fields, with the service's 400s and 404s."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ._errors import ApiError
from ._inventory import CAPABILITY_ORDER

__all__ = [
    "ASSIGNMENT_TYPES",
    "CAPABILITIES",
    "NUMBER_TYPES",
    "json_object",
    "no_resell_consent",
    "number_in_path",
    "number_not_found",
    "optional_enum",
    "required_enum",
    "reservation_uuid",
]

NUMBER_TYPES = ("geographic", "tollFree", "mobile")
ASSIGNMENT_TYPES = ("person", "application")
CAPABILITIES = tuple(CAPABILITY_ORDER)


def json_object(value: Any, name: str = "body") -> dict[str, Any]:
    """The value as a JSON object, or the service's 400 naming the field."""
    if not isinstance(value, dict):
        raise ApiError(400, "InvalidInput", f"{name} must be a JSON object.", target=name)
    return value


def optional_enum(source: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    """The field when present (one of ``allowed``, else 400), or ``None``."""
    value = source.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(
            400, "InvalidInput", f"{name} must be one of {', '.join(allowed)}.", target=name
        )
    return str(value)


def required_enum(source: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    """The field, one of ``allowed``; 400 when missing or not allowed."""
    value = optional_enum(source, name, allowed)
    if value is None:
        raise ApiError(400, "InvalidInput", f"{name} is required.", target=name)
    return value


def reservation_uuid(value: str) -> str:
    """A reservation id in its canonical form; 400 when it is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(
            400, "InvalidInput", "reservationId must be a UUID.", target="reservationId"
        ) from None


def number_not_found(phone_number: str) -> ApiError:
    """The service's 404 for a number this resource does not own."""
    return ApiError(
        404, "NotFound", f"Input phoneNumber {phone_number} cannot be found.", target="phonenumber"
    )


def number_in_path(number: str) -> str:
    """A number as ``/phoneNumbers/{n}`` names it: E.164, or the service's id (digits, no ``+``).

    The service answers both (``GET /phoneNumbers/18335186428`` is 200 for an owned
    ``+18335186428``; recorded: ``test_purchase_reservation`` of the Python SDK, which asks for
    the number by its browse id).
    """
    return "+" + number if number.isdigit() else number


def no_resell_consent(search: bool = False, api_version: str = "") -> ApiError:
    """The service's 400 for a purchase that needs ``agreeToNotResell`` and lacks it.

    The wording differs by path: a reservation's purchase says "Consent not provided ...", a
    search's purchase on 2025-06-01 says "Do not resell agreement was not provided ..." (both
    recorded by the Python SDK's live tests; earlier versions' search purchase used the first).
    """
    if search and api_version >= "2025-06-01":
        return ApiError(
            400,
            "BadRequest",
            "Do not resell agreement was not provided and it is required for this purchase.",
        )
    return ApiError(400, "BadRequest", "Consent not provided to not resell the phone numbers")
