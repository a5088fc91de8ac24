"""The SIP writer's ledger: which ticket owns which numbers and routes.

Only the writer changes it (it is the one place routes are written), and it travels across
continue-as-new; a ticket with nothing left is dropped, so it stays as large as the fleet.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.sip import LedgerEntry, OnboardedNumber, is_part_of

__all__ = ["Ledger"]


class Ledger:
    """Ticket → the numbers and routes it owns."""

    def __init__(self, entries: dict[str, LedgerEntry]) -> None:
        self.entries = dict(entries)

    def snapshot(self) -> dict[str, LedgerEntry]:
        """A copy, to restore if a write fails."""
        return dict(self.entries)

    def restore(self, snapshot: dict[str, LedgerEntry]) -> None:
        """Back to a snapshot: nothing of a failed write is remembered."""
        self.entries = snapshot

    def owner_of(self, route_name: str) -> str | None:
        """The ticket that wrote this route, if numberflow did."""
        return next((t for t, e in self.entries.items() if route_name in e.routes), None)

    def parts_owned(self, ticket_id: str, route_name: str) -> tuple[str, ...]:
        """The ``-partN`` routes of the named route that this ticket owns (large tickets)."""
        entry = self.entries.get(ticket_id)
        if entry is None:
            return ()
        return tuple(r for r in entry.routes if r != route_name and is_part_of(r, route_name))

    def owner_of_number(self, number: str) -> str | None:
        """The ticket that owns this number now, if any does."""
        return next((t for t, e in self.entries.items() if number in e.numbers), None)

    def claim_refusal(self, ticket_id: str, numbers: tuple[str, ...]) -> str | None:
        """Why ``ticket_id`` cannot claim these numbers (another ticket owns one), or ``None``."""
        for number in numbers:
            owner = self.owner_of_number(number)
            if owner is not None and owner != ticket_id:
                return f"{number} belongs to ticket {owner}; it cannot be claimed by {ticket_id}"
        return None

    def own(
        self,
        ticket_id: str,
        *,
        numbers: tuple[str, ...] = (),
        routes: tuple[str, ...] = (),
        onboarded: tuple[OnboardedNumber, ...] = (),
        release_pending_manual: bool = False,
    ) -> LedgerEntry:
        """The ticket owns these too (``onboarded``: claimed from outside).

        A claim repeated keeps the capabilities first recorded, which a retry after
        configuring would otherwise overwrite.
        """
        entry = self.entries.get(ticket_id) or LedgerEntry(ticket_id=ticket_id)
        numbers = (*numbers, *(o.number for o in onboarded))
        current = {o.number: o for o in entry.onboarded if o.returned_at is None}
        claimed = {o.number: current.get(o.number, o) for o in onboarded}
        pending = numbers if release_pending_manual else ()
        entry = entry.model_copy(
            update={
                "numbers": tuple(dict.fromkeys((*entry.numbers, *numbers))),
                "routes": tuple(dict.fromkeys((*entry.routes, *routes))),
                "onboarded": (
                    *(o for o in entry.onboarded if o.number not in claimed),
                    *claimed.values(),
                ),
                "release_pending_manual": tuple(
                    dict.fromkeys((*entry.release_pending_manual, *pending))
                ),
                "updated_at": workflow.now(),
            }
        )
        self.entries[ticket_id] = entry
        return entry

    def disown(
        self,
        ticket_id: str,
        *,
        numbers: tuple[str, ...] = (),
        routes: tuple[str, ...] = (),
        released_by: str | None = None,
    ) -> LedgerEntry:
        """The ticket no longer owns these; a ticket left with nothing is dropped.

        Onboarded numbers are not forgotten: given back, they stay in the resource (returned),
        or an operator released them (``released_by``, recorded with the time).
        """
        entry = self.entries.get(ticket_id) or LedgerEntry(ticket_id=ticket_id)
        now = workflow.now()
        gone = set(numbers) & set(entry.numbers)
        if released_by is not None:  # a release of numbers an earlier release gave back
            gone |= {o.number for o in entry.onboarded if o.kept and o.number in numbers}
        entry = entry.model_copy(
            update={
                "numbers": tuple(n for n in entry.numbers if n not in numbers),
                "routes": tuple(r for r in entry.routes if r not in routes),
                "onboarded": tuple(
                    _given_back(o, now, released_by) if o.number in gone else o
                    for o in entry.onboarded
                ),
                "release_pending_manual": tuple(
                    n for n in entry.release_pending_manual if n not in numbers
                ),
                "updated_at": now,
            }
        )
        if entry.holds_anything:
            self.entries[ticket_id] = entry
        else:
            self.entries.pop(ticket_id, None)
        return entry


def _given_back(
    onboarded: OnboardedNumber, now: datetime, released_by: str | None
) -> OnboardedNumber:
    if released_by is not None and onboarded.released_by is None:
        returned = onboarded.returned_at or now
        return onboarded.model_copy(
            update={"returned_at": returned, "released_by": released_by, "released_at": now}
        )
    if onboarded.returned_at is not None:
        return onboarded
    return onboarded.model_copy(update={"returned_at": now})
