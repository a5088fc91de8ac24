"""Long-running operation records and how their status moves over emulated time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._clock import format_time
from ._reply import Reply

__all__ = ["OPERATION_TYPES", "LroFault", "Operation", "lro_reply"]

OPERATION_TYPES = {
    "search": "search",
    "purchase": "purchase",
    "release": "releasePhoneNumber",
    "capabilities": "updatePhoneNumberCapabilities",
    "reservationPurchase": "reservationPurchase",
}
"""operation-id prefix (kind) -> ``operationType``."""


@dataclass(frozen=True)
class LroFault:
    """What a fault rule did to an operation when it started."""

    fail_code: str | None = None
    fail_message: str | None = None
    backwards: bool = False


@dataclass
class Operation:
    """One LRO: ``notStarted`` for its first third, ``running`` until due, then terminal.

    Its effect (``on_success`` or ``on_failure``) is applied once, at ``due``, whether or not
    anyone polls: the service does the work on its own schedule.
    """

    id: str
    kind: str
    created: datetime
    duration: timedelta
    resource_location: str | None
    on_success: Callable[[datetime], None]
    on_failure: Callable[[datetime], None]
    fault: LroFault = field(default_factory=LroFault)
    finished: bool = False
    hidden: bool = False
    polls: int = 0

    @property
    def due(self) -> datetime:
        """When the operation reaches its terminal status."""
        return self.created + self.duration

    @property
    def fails(self) -> bool:
        """Whether this operation was made to fail."""
        return self.fault.fail_code is not None

    def finish(self) -> None:
        """Apply the effect (once)."""
        if not self.finished:
            self.finished = True
            (self.on_failure if self.fails else self.on_success)(self.due)

    def status(self, now: datetime) -> str:
        """The status a poll sees now (counts the poll, for the backwards fault)."""
        self.polls += 1
        if self.fault.backwards and self.polls <= 2:
            return ("running", "notStarted")[self.polls - 1]
        if now >= self.due:
            return "failed" if self.fails else "succeeded"
        if now < self.created + self.duration / 3:
            return "notStarted"
        return "running"

    def to_wire(self, now: datetime) -> dict[str, Any]:
        """The operation record as ``GET /phoneNumbers/operations/{id}`` returns it."""
        status = self.status(now)
        body: dict[str, Any] = {
            "operationType": OPERATION_TYPES[self.kind],
            "status": status,
            "resourceLocation": self.resource_location,
            "createdDateTime": format_time(self.created),
            "id": self.id,
            "lastActionDateTime": format_time(self.due)
            if status in ("succeeded", "failed")
            else "0001-01-01T00:00:00+00:00",
        }
        if status == "failed":
            body["error"] = {
                "code": self.fault.fail_code,
                "message": self.fault.fail_message or "The operation failed.",
            }
        return body


def lro_reply(
    op: Operation, api_version: str, resource_id: str, *, location: str | None = None
) -> Reply:
    """The 202 that starts an LRO: where to poll it, its id, and the per-kind id header."""
    id_header = {
        "search": "search-id",
        "purchase": "purchase-id",
        "release": "release-id",
        "capabilities": "capabilities-id",
        "reservationPurchase": "reservation-purchase-id",
    }[op.kind]
    headers = {
        "Operation-Location": f"/phoneNumbers/operations/{op.id}?api-version={api_version}",
        "operation-id": op.id,
        id_header: resource_id,
        "Access-Control-Expose-Headers": f"Location,Operation-Location,operation-id,{id_header}",
    }
    if location:
        headers["Location"] = location
    return Reply(202, None, headers)
