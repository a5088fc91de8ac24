"""Long-running operations as primitives: a reference to start from, a status to poll.

ACS answers an LRO start with ``202`` and headers; the caller persists the returned
:class:`OperationRef` (it is a plain, serialisable value) and polls it as often as it likes,
from any process. Nothing here sleeps except :meth:`PhoneNumbersClient.wait`; when to poll is
:class:`PollSchedule`'s to say, for every caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from ._models import AcsModel

__all__ = [
    "OperationError",
    "OperationKind",
    "OperationPoll",
    "OperationRef",
    "OperationStatus",
    "PhoneNumberOperation",
    "PhoneNumberOperationType",
    "POLL_SCHEDULE",
    "PollSchedule",
]


@dataclass(frozen=True)
class PollSchedule:
    """When to poll an operation, counted from when it started.

    The service sends no ``Retry-After`` on polls, so the cadence is the client's. The official
    SDK polls at once, then every ``polling_interval`` (2 s) after each answer, so its polls drift
    late by one round trip each. This schedule keeps the same 2 s interval but pins the polls to
    a grid anchored at the operation's start (``first``, then every ``interval``), so a long
    operation is seen done within one round trip of a grid point, with no more polls than the
    SDK makes; skipping the immediate poll (never done on the real service) pays for the early
    one at ``first``.
    """

    first: float = 0.5
    interval: float = 2.0

    def delay(self, elapsed: float) -> float:
        """Seconds from ``elapsed`` (since the start) to the next poll point after it."""
        if elapsed < self.first:
            return self.first - elapsed
        grid = max(1, math.floor(elapsed / self.interval) + 1) * self.interval
        return grid - elapsed


POLL_SCHEDULE = PollSchedule()
"""The one schedule: the saga's poll activity, the batch capability update and ``wait``."""


class OperationKind(StrEnum):
    """Which LRO a reference is for; the prefix of the service's ``operation-id``."""

    SEARCH = "search"
    PURCHASE = "purchase"
    RELEASE = "release"
    CAPABILITIES = "capabilities"
    RESERVATION_PURCHASE = "reservationPurchase"


class OperationStatus(StrEnum):
    """The four statuses the service uses. It may move backwards (running -> notStarted)."""

    NOT_STARTED = "notStarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """Whether polling can stop."""
        return self in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)


class PhoneNumberOperationType(StrEnum):
    """``operationType`` of an operation record."""

    PURCHASE = "purchase"
    RELEASE_PHONE_NUMBER = "releasePhoneNumber"
    SEARCH = "search"
    UPDATE_PHONE_NUMBER_CAPABILITIES = "updatePhoneNumberCapabilities"
    RESERVATION_PURCHASE = "reservationPurchase"


class OperationRef(AcsModel):
    """What an LRO start returned: enough to poll it and fetch its result later.

    Attributes:
        operation_id: ``operation-id`` header, e.g. ``purchase_<id>``.
        operation_location: ``Operation-Location`` header (relative on the real service).
        kind: Which operation this is.
        resource_id: The per-kind id header: search id, purchase id (the search id), release id,
            capabilities id, or the reservation id.
        location: ``Location`` header, where the result is fetched (search, capabilities).
        retry_after: Seconds the service asked to wait before the first poll, when it said so.
    """

    operation_id: str
    operation_location: str
    kind: OperationKind
    resource_id: str | None = None
    location: str | None = None
    retry_after: float | None = None


class OperationError(AcsModel):
    """The ``error`` of a failed operation."""

    code: str
    message: str
    target: str | None = None


class PhoneNumberOperation(AcsModel):
    """An operation record (``GET /phoneNumbers/operations/{id}``)."""

    id: str
    operation_type: PhoneNumberOperationType
    status: OperationStatus
    created_date_time: datetime
    resource_location: str | None = None
    last_action_date_time: datetime | None = None
    error: OperationError | None = None


class OperationPoll(AcsModel):
    """One poll's answer: the record plus the ``Retry-After`` the service sent, if any."""

    operation: PhoneNumberOperation
    retry_after: float | None = Field(default=None)

    @property
    def status(self) -> OperationStatus:
        """Shortcut to ``operation.status``."""
        return self.operation.status
