"""Ticket webhook events: what the ticket system sends to ``POST /webhooks/tickets``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .ids import TicketId
from .provision import Intervention, InterventionKind, ProvisionRequest, TrunkSpec

__all__ = [
    "ApprovedEvent",
    "CancelledEvent",
    "CreatedEvent",
    "InterventionRequestedEvent",
    "RejectedEvent",
    "ReleaseRequestedEvent",
    "TicketEvent",
    "TicketEventEnvelope",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CreatedEvent(_Event):
    """A ticket asks for numbers: starts ``provision-{ticket_id}`` (once)."""

    event: Literal["created"]
    request: ProvisionRequest


class ApprovedEvent(_Event):
    """An approver approved the ticket."""

    event: Literal["approved"]
    ticket_id: TicketId
    approver: str = Field(min_length=1, max_length=128)
    comment: str | None = Field(None, max_length=2000)


class RejectedEvent(_Event):
    """An approver rejected the ticket."""

    event: Literal["rejected"]
    ticket_id: TicketId
    approver: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=2000)


class CancelledEvent(_Event):
    """The ticket was withdrawn: cancel the saga (it compensates)."""

    event: Literal["cancelled"]
    ticket_id: TicketId


class ReleaseRequestedEvent(_Event):
    """The ticket's numbers are no longer needed: release them."""

    event: Literal["release_requested"]
    ticket_id: TicketId


class InterventionRequestedEvent(_Event):
    """An operator answers a parked saga (retry, skip, abort; abandon a compensation)."""

    event: Literal["retry_requested", "skip_requested", "abort_requested", "abandon_requested"]
    ticket_id: TicketId
    by: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(None, max_length=2000)
    trunks: tuple[TrunkSpec, ...] | None = Field(None, min_length=1, max_length=250)

    def intervention(self) -> Intervention:
        """The workflow's payload (its validation: a skip or abort needs a reason)."""
        return Intervention(
            action=InterventionKind(self.event.removesuffix("_requested")),
            by=self.by,
            reason=self.reason,
            trunks=self.trunks,
        )


TicketEvent = Annotated[
    CreatedEvent
    | ApprovedEvent
    | RejectedEvent
    | CancelledEvent
    | ReleaseRequestedEvent
    | InterventionRequestedEvent,
    Field(discriminator="event"),
]


class TicketEventEnvelope(BaseModel):
    """Wrapper used to validate any event by its ``event`` field."""

    model_config = ConfigDict(frozen=True)

    body: TicketEvent
