"""Ticket webhook events: what the ticket system sends to ``POST /webhooks/tickets``."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .ids import TicketId
from .operations import ReleaseConfirmation
from .provision import (
    Delivery,
    Intervention,
    InterventionKind,
    Numbers,
    ProvisionRequest,
    TrunkSpec,
)

__all__ = [
    "ApprovedEvent",
    "CancelledEvent",
    "CreatedEvent",
    "InterventionRequestedEvent",
    "NumbersDeliveredEvent",
    "RejectedEvent",
    "ReleaseConfirmedEvent",
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
    """The ticket's numbers are no longer needed: release them.

    Numbers from outside (ported, specially ordered) are kept in the resource unless
    ``release_numbers`` is set, with who asked (``by``).
    """

    event: Literal["release_requested"]
    ticket_id: TicketId
    release_numbers: bool = False
    by: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _who(self) -> ReleaseRequestedEvent:
        if self.release_numbers and self.by is None:
            raise ValueError("releasing onboarded numbers needs who asks (by)")
        return self


class NumbersDeliveredEvent(_Event):
    """Numbers of a manual order arrived in the resource (a special order, a port)."""

    event: Literal["numbers_delivered"]
    ticket_id: TicketId
    numbers: Annotated[Numbers, Field(min_length=1)]
    by: str = Field(min_length=1, max_length=128)
    delivery_id: str | None = Field(None, min_length=1, max_length=128)
    """The ticket system's id of this delivery; by default one made of the numbers, so a
    re-sent event is the same delivery."""

    def delivery(self) -> Delivery:
        """The saga's payload."""
        made = hashlib.sha256(",".join(sorted(self.numbers)).encode()).hexdigest()[:16]
        return Delivery(numbers=self.numbers, by=self.by, delivery_id=self.delivery_id or made)


class ReleaseConfirmedEvent(_Event):
    """Microsoft's service desk released the numbers the ticket's release waits on."""

    event: Literal["release_confirmed"]
    ticket_id: TicketId
    by: str = Field(min_length=1, max_length=128)
    note: str | None = Field(None, max_length=2000)

    def confirmation(self) -> ReleaseConfirmation:
        """The payload of the confirmation."""
        return ReleaseConfirmation(by=self.by, note=self.note)


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
    | InterventionRequestedEvent
    | NumbersDeliveredEvent
    | ReleaseConfirmedEvent,
    Field(discriminator="event"),
]


class TicketEventEnvelope(BaseModel):
    """Wrapper used to validate any event by its ``event`` field."""

    model_config = ConfigDict(frozen=True)

    body: TicketEvent
