"""Contracts of the release and reconciliation workflows."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .ids import TicketId

__all__ = [
    "InventorySnapshot",
    "OpenSagas",
    "OwnedNumber",
    "ReconcileReport",
    "ReconcileRequest",
    "ReleaseRequest",
    "ReleaseResult",
    "ReleaseStatus",
    "ReleaseConfirmation",
    "service_desk_request",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReleaseRequest(_Model):
    """Release everything a ticket owns: its routes first, then its numbers.

    Numbers that came from outside (ported, specially ordered) are given back with the
    capabilities they had, and stay in the resource, unless ``release_numbers`` says otherwise.
    """

    ticket_id: TicketId
    release_numbers: bool = False
    """Release the ticket's onboarded numbers too (gone for good: a ported number is lost)."""
    by: str | None = Field(None, min_length=1, max_length=128)
    """Who asked, recorded in the ledger; required with ``release_numbers``."""

    @model_validator(mode="after")
    def _who(self) -> ReleaseRequest:
        if self.release_numbers and self.by is None:
            raise ValueError("releasing onboarded numbers needs who asks (by)")
        return self


class ReleaseConfirmation(_Model):
    """Payload of a release run's ``confirm_released`` signal."""

    by: str = Field(min_length=1, max_length=128)
    note: str | None = Field(None, max_length=2000)


class ReleaseStatus(_Model):
    """The release run's ``status`` query."""

    ticket_id: str
    stage: str
    """``looking_up``, ``detaching_routes``, ``restoring_capabilities``, ``releasing_numbers``,
    ``awaiting_service_desk``, ``released``."""
    routes: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    service_desk: str | None = None
    """While ``awaiting_service_desk``: what to send Microsoft's service desk."""


class ReleaseResult(_Model):
    """What the release did (nothing, when run again)."""

    ticket_id: str
    routes_removed: tuple[str, ...]
    numbers_released: tuple[str, ...]
    numbers_already_gone: tuple[str, ...]
    numbers_kept: tuple[str, ...] = ()
    """Onboarded numbers given back to the resource with their earlier capabilities."""
    numbers_released_by_service_desk: tuple[str, ...] = ()
    """Released by Microsoft's service desk, as an operator confirmed."""
    confirmed_by: str | None = None


def service_desk_request(ticket_id: str, numbers: tuple[str, ...]) -> str:
    """What an operator sends Microsoft's service desk, and how to confirm it was done."""
    return (
        f"ask Microsoft's service desk to release {len(numbers)} number(s) of ticket "
        f"{ticket_id} (their country releases only by request): {', '.join(numbers)}; then "
        f"confirm with: numberflow confirm-released {ticket_id} --by <name>"
    )


class OwnedNumber(_Model):
    """A purchased number and when it was bought."""

    phone_number: str
    purchase_date: datetime


class InventorySnapshot(_Model):
    """What ACS has: purchased numbers, active reservations, route names."""

    numbers: tuple[OwnedNumber, ...]
    active_reservations: tuple[str, ...]
    routes: tuple[str, ...]
    route_patterns: dict[str, str] = Field(default_factory=dict)
    """Route name → its number pattern, as ACS has it."""


class OpenSagas(_Model):
    """What the running sagas of a deployment hold, as their status queries answer."""

    numbers: tuple[str, ...] = ()
    """Numbers held or bought, not yet in the ledger."""
    holds: tuple[str, ...] = ()
    """Their current holds (reservation or search ids)."""
    taking_holds: int = 0
    """Sagas still taking their hold: its id is not in their status yet."""


class ReconcileRequest(_Model):
    """Compare ACS with the ledger; release orphans and delete stale holds only when asked."""

    release_orphans: bool = False
    grace: timedelta = timedelta(days=7)
    """Only orphans bought longer ago than this are released."""
    delete_stale_holds: bool = False
    """Delete active reservations that no running saga holds (else they are only reported)."""


class ReconcileReport(_Model):
    """Drift between ACS and what numberflow believes."""

    orphans: tuple[str, ...]
    """Purchased in ACS, owned by no ticket and no open saga."""
    ghosts: tuple[str, ...]
    """In the ledger, gone from ACS."""
    unknown_routes: tuple[str, ...]
    """Routes in ACS that no ticket owns."""
    missing_routes: tuple[str, ...] = ()
    """Routes the ledger gives a ticket that ACS does not have."""
    drifted_routes: tuple[str, ...] = ()
    """Routes of a ticket whose pattern in ACS no longer routes exactly the ticket's numbers."""
    active_reservations: tuple[str, ...]
    released: tuple[str, ...] = ()
    """Orphans released because ``release_orphans`` was set and they were past the grace."""
    stale_holds: tuple[str, ...] = ()
    """Active reservations that no running saga holds: they keep numbers from every ticket."""
    deleted_holds: tuple[str, ...] = ()
    """Stale holds deleted because ``delete_stale_holds`` was set."""
    notes: tuple[str, ...] = ()
    """What the run chose not to do, and why."""
    release_pending_manual: tuple[str, ...] = ()
    """Numbers whose release waits for Microsoft's service desk (an operator confirms)."""
    onboarded_kept: tuple[str, ...] = ()
    """Numbers from outside (ported, specially ordered) that their ticket gave back: they stay
    in the resource, owned by no ticket, and are never released as orphans."""
    incomplete: str | None = None
    """Why ACS's listing did not complete: then nothing was compared or changed (run again)."""
