"""Contracts of the release and reconciliation workflows."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

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
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReleaseRequest(_Model):
    """Release everything a ticket owns: its routes first, then its numbers."""

    ticket_id: TicketId


class ReleaseStatus(_Model):
    """The release run's ``status`` query."""

    ticket_id: str
    stage: str
    """``looking_up``, ``detaching_routes``, ``releasing_numbers``, ``released``."""
    routes: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()


class ReleaseResult(_Model):
    """What the release did (nothing, when run again)."""

    ticket_id: str
    routes_removed: tuple[str, ...]
    numbers_released: tuple[str, ...]
    numbers_already_gone: tuple[str, ...]


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
    incomplete: str | None = None
    """Why ACS's listing did not complete: then nothing was compared or changed (run again)."""
