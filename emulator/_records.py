"""The Phone Numbers state machine's records: searches, reservations, owned numbers.

States are enums whose values are the service's own strings, so they go on the wire as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ._inventory import Country, InventoryNumber, Offering

__all__ = [
    "Purchased",
    "Reservation",
    "ReservationStatus",
    "ReservedNumber",
    "ReservedStatus",
    "Search",
    "SearchState",
]


class SearchState(StrEnum):
    """A classic search's life: held from the start, bought or expired at the end."""

    SEARCHING = "searching"
    HELD = "held"
    FAILED = "failed"
    PURCHASING = "purchasing"
    PURCHASED = "purchased"
    EXPIRED = "expired"

    @property
    def has_result(self) -> bool:
        """Whether the search's result can be read (its LRO succeeded)."""
        return self not in (SearchState.SEARCHING, SearchState.FAILED)


class ReservationStatus(StrEnum):
    """A reservation's ``status`` on the wire."""

    ACTIVE = "active"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    EXPIRED = "expired"


class ReservedStatus(StrEnum):
    """One number's ``status`` inside a reservation."""

    RESERVED = "reserved"
    ERROR = "error"
    EXPIRED = "expired"
    PURCHASED = "purchased"


@dataclass
class Search:
    """A classic search: numbers held from the start until ``expires_at``."""

    id: str
    country: Country
    phone_number_type: str
    assignment_type: str
    calling: str
    sms: str
    offering: Offering
    numbers: list[str]
    created: datetime
    expires_at: datetime
    state: SearchState = SearchState.SEARCHING


@dataclass
class ReservedNumber:
    """A number inside a reservation, with the capabilities it will be bought with."""

    id: str
    country_code: str
    phone_number_type: str
    assignment_type: str
    calling: str
    sms: str
    status: ReservedStatus
    offering: Offering | None = None
    error: tuple[str, str] | None = None


@dataclass
class Reservation:
    """A client-keyed hold that slides with each change, capped from its creation."""

    id: str
    created: datetime
    expires_at: datetime
    status: ReservationStatus = ReservationStatus.ACTIVE
    numbers: dict[str, ReservedNumber] = field(default_factory=dict)


@dataclass
class Purchased:
    """A number owned by the resource."""

    number: InventoryNumber
    assignment_type: str
    calling: str
    sms: str
    offering: Offering
    purchase_date: datetime
