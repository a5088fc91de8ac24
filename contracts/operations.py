"""Contracts of the release and reconciliation workflows."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from .ids import TicketId

__all__ = [
    "InventorySnapshot",
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


class ReconcileRequest(_Model):
    """Compare ACS with the ledger; release orphans only when asked."""

    release_orphans: bool = False
    grace: timedelta = timedelta(days=7)
    """Only orphans bought longer ago than this are released."""


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
