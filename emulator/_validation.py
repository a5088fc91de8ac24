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


def no_resell_consent() -> ApiError:
    """The service's 400 for a purchase that needs ``agreeToNotResell`` and lacks it."""
    return ApiError(400, "BadRequest", "Consent not provided to not resell the phone numbers")
