"""What the Phone Numbers activities share: the client they hold, and small helpers."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from acs import (
    AcsValidationError,
    AvailablePhoneNumber,
    OperationRef,
    PhoneNumberAvailabilityStatus,
    PhoneNumbersClient,
    PhoneNumbersReservation,
)
from contracts.activities import LroHandle
from contracts.error_types import HOLD_EXPIRED

__all__ = [
    "BULK_OWNERSHIP",
    "PhoneNumbersActivityBase",
    "count",
    "handle_of",
    "hold_expired",
    "is_expired",
    "reserved_numbers",
]

BULK_OWNERSHIP = 20
"""Above this many numbers, ownership is read from one listing, not one GET per number."""


class PhoneNumbersActivityBase:
    """Holds the one :class:`acs.PhoneNumbersClient` (shared, pooled) of a worker."""

    def __init__(
        self, client: PhoneNumbersClient, *, service_desk_countries: frozenset[str] = frozenset()
    ) -> None:
        self._client = client
        self._service_desk_countries = service_desk_countries
        """Countries whose releases only Microsoft's service desk does: never asked of the API."""


def hold_expired(message: str) -> ApplicationError:
    return ApplicationError(message, type=HOLD_EXPIRED, non_retryable=True)


def handle_of(ref: OperationRef) -> LroHandle:
    return LroHandle(
        operation_id=ref.operation_id,
        operation_location=ref.operation_location,
        kind=ref.kind.value,
        resource_id=ref.resource_id,
        location=ref.location,
    )


def count(name: str, value: int = 1, **labels: str) -> None:
    """Add to one of numberflow's counters (served with the worker's SDK metrics)."""
    activity.metric_meter().create_counter(name).add(value, labels)


def reserved_numbers(reservation: PhoneNumbersReservation) -> list[AvailablePhoneNumber]:
    return [
        n
        for n in (reservation.phone_numbers or {}).values()
        if n is not None and n.status is PhoneNumberAvailabilityStatus.RESERVED
    ]


def is_expired(error: AcsValidationError) -> bool:
    return error.code == "ReservationExpired" or "expired" in error.message.lower()
