"""The SIP writer's ledger: which ticket owns which numbers and routes.

Only the writer changes it (it is the one place routes are written), and it travels across
continue-as-new; a ticket with nothing left is dropped, so it stays as large as the fleet.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.sip import LedgerEntry, is_part_of

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

    def own(
        self, ticket_id: str, *, numbers: tuple[str, ...] = (), routes: tuple[str, ...] = ()
    ) -> LedgerEntry:
        """The ticket owns these too."""
        entry = self.entries.get(ticket_id) or LedgerEntry(ticket_id=ticket_id)
        entry = LedgerEntry(
            ticket_id=ticket_id,
            numbers=tuple(dict.fromkeys((*entry.numbers, *numbers))),
            routes=tuple(dict.fromkeys((*entry.routes, *routes))),
            updated_at=workflow.now(),
        )
        self.entries[ticket_id] = entry
        return entry

    def disown(
        self, ticket_id: str, *, numbers: tuple[str, ...] = (), routes: tuple[str, ...] = ()
    ) -> LedgerEntry:
        """The ticket no longer owns these; a ticket left with nothing is dropped."""
        entry = self.entries.get(ticket_id) or LedgerEntry(ticket_id=ticket_id)
        entry = LedgerEntry(
            ticket_id=ticket_id,
            numbers=tuple(n for n in entry.numbers if n not in numbers),
            routes=tuple(r for r in entry.routes if r not in routes),
            updated_at=workflow.now(),
        )
        if entry.numbers or entry.routes:
            self.entries[ticket_id] = entry
        else:
            self.entries.pop(ticket_id, None)
        return entry
