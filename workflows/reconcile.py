"""``ReconcileWorkflow``: compare ACS with the ledger and the open sagas; report the drift.

Run daily by a Temporal Schedule, or on demand. It releases nothing unless asked, and then
only orphans older than the grace period (a purchase that a saga has not recorded yet is young).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import InventoryActivities, PhoneNumberActivities, SipWriterActivities
    from contracts.activities import ReleaseNumbersInput
    from contracts.ids import RECONCILE_WORKFLOW_TYPE
    from contracts.operations import InventorySnapshot, ReconcileReport, ReconcileRequest
    from contracts.sip import LedgerEntry, exact_number_pattern

    from ._policies import (
        ACS_CALL_TIMEOUT,
        ACS_STEP,
        RELEASE_STEP,
        adjusted,
    )

__all__ = ["ReconcileWorkflow"]


@workflow.defn(name=RECONCILE_WORKFLOW_TYPE)
class ReconcileWorkflow:
    """Orphans, ghosts and unknown routes of one ACS resource."""

    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileReport:
        """Read both sides, compare, optionally release old orphans."""
        snapshot = await workflow.execute_activity_method(
            InventoryActivities.inventory_snapshot,
            **adjusted(ACS_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 3),
        )
        ledger = await workflow.execute_activity_method(
            SipWriterActivities.get_ledger,
            **ACS_STEP,
        )
        in_flight = await workflow.execute_activity_method(
            SipWriterActivities.open_saga_numbers,
            **adjusted(ACS_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 3),
        )
        report = compare(snapshot, ledger, in_flight)
        orphans = report.orphans
        if not request.release_orphans or not orphans:
            return report
        cutoff = workflow.now() - request.grace
        old = tuple(
            n.phone_number
            for n in snapshot.numbers
            if n.phone_number in orphans and n.purchase_date <= cutoff
        )
        if old:
            await workflow.execute_activity_method(
                PhoneNumberActivities.release_numbers,
                ReleaseNumbersInput(
                    numbers=old,
                    # as read: a number bought by a ticket since is not an orphan any more
                    purchased_at={
                        n.phone_number: n.purchase_date
                        for n in snapshot.numbers
                        if n.phone_number in old
                    },
                ),
                **RELEASE_STEP,
            )
        return report.model_copy(update={"released": old})


def compare(
    snapshot: InventorySnapshot, ledger: dict[str, LedgerEntry], in_flight: tuple[str, ...]
) -> ReconcileReport:
    """What ACS has against what the ledger says (numbers of running sagas are not orphans)."""
    owned = {n.phone_number for n in snapshot.numbers}
    known = {n for entry in ledger.values() for n in entry.numbers}
    known_routes = {r for entry in ledger.values() for r in entry.routes}
    ledger_routes = {
        route: exact_number_pattern(entry.numbers)
        for entry in ledger.values()
        for route in entry.routes
    }
    return ReconcileReport(
        orphans=tuple(sorted(owned - known - set(in_flight))),
        ghosts=tuple(sorted(known - owned)),
        unknown_routes=tuple(r for r in snapshot.routes if r not in known_routes),
        active_reservations=snapshot.active_reservations,
        missing_routes=tuple(sorted(r for r in ledger_routes if r not in snapshot.routes)),
        drifted_routes=tuple(
            sorted(
                route
                for route, pattern in ledger_routes.items()
                if route in snapshot.route_patterns and snapshot.route_patterns[route] != pattern
            )
        ),
    )
