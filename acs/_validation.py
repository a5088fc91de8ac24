"""Input checks made before any request is sent, so a bad call never reaches the service."""

from __future__ import annotations

import re
import uuid
from typing import Any

__all__ = [
    "enum_value",
    "validate_country_code",
    "validate_e164",
    "validate_fqdn",
    "validate_number_pattern",
    "validate_port",
    "validate_positive",
    "validate_reservation_id",
]

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_e164(phone_number: str) -> str:
    """Return the number if it is E.164 (``+`` then up to 15 digits), else raise ValueError."""
    if not isinstance(phone_number, str) or not _E164.match(phone_number):
        raise ValueError(f"phone number {phone_number!r} is not E.164 (e.g. +14255550123)")
    return phone_number


def validate_country_code(country_code: str) -> str:
    """Return the ISO 3166-1 alpha-2 code (two upper-case letters), else raise ValueError."""
    if not isinstance(country_code, str) or not _COUNTRY.match(country_code):
        raise ValueError(f"country code {country_code!r} is not ISO 3166-1 alpha-2 (e.g. US)")
    return country_code


def validate_reservation_id(reservation_id: str | uuid.UUID) -> str:
    """Return the reservation id as a canonical UUID string, else raise ValueError."""
    try:
        return str(uuid.UUID(str(reservation_id)))
    except ValueError as exc:
        raise ValueError(f"reservation id {reservation_id!r} is not a UUID") from exc


def validate_positive(name: str, value: int, *, maximum: int = 2_147_483_647) -> int:
    """Return value if ``1 <= value <= maximum``, else raise ValueError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an integer from 1 to {maximum}, got {value!r}")
    return value


def validate_fqdn(fqdn: str) -> str:
    """Return the host name if it is a dotted FQDN of valid labels (1-249 chars), else raise."""
    labels = fqdn.split(".") if isinstance(fqdn, str) else []
    if not 1 <= len(fqdn) <= 249 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ValueError(f"trunk FQDN {fqdn!r} is not a valid host name (e.g. sbc1.example.com)")
    return fqdn


def validate_port(port: int) -> int:
    """Return the port if it is 1-65535, else raise ValueError."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"SIP signaling port must be 1-65535, got {port!r}")
    return port


def validate_number_pattern(pattern: str) -> str:
    """Return the route pattern if it is a non-empty regex of at most 1024 chars, else raise."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > 1024:
        raise ValueError("route number pattern must be a regex of 1 to 1024 characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"route number pattern {pattern!r} does not compile: {exc}") from exc
    return pattern


def enum_value(enum: Any, value: Any) -> str | None:
    """A value of ``enum`` (given as the enum or its string) as its wire string; ``None`` stays."""
    return None if value is None else str(enum(value).value)
