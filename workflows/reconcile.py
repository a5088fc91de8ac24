"""``ReconcileWorkflow``: compare ACS with the ledger and the open sagas; report the drift.

Run daily by a Temporal Schedule, or on demand. It releases nothing unless asked, and then
only orphans older than the grace period (a purchase that a saga has not recorded yet is young).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import InventoryActivities, PhoneNumberActivities, SipWriterActivities
    from contracts.activities import ReleaseNumbersInput
    from contracts.ids import RECONCILE_WORKFLOW_TYPE
    from contracts.operations import ReconcileReport, ReconcileRequest

    from ._policies import ACS_CALL, ACS_CALL_TIMEOUT, COMPENSATION, COMPENSATION_TIMEOUT
    from .sip_routing import exact_number_pattern

__all__ = ["ReconcileWorkflow"]


@workflow.defn(name=RECONCILE_WORKFLOW_TYPE)
class ReconcileWorkflow:
    """Orphans, ghosts and unknown routes of one ACS resource."""

    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileReport:
        """Read both sides, compare, optionally release old orphans."""
        snapshot = await workflow.execute_activity_method(
            InventoryActivities.inventory_snapshot,
            start_to_close_timeout=ACS_CALL_TIMEOUT * 3,
            retry_policy=ACS_CALL,
        )
        ledger = await workflow.execute_activity_method(
            SipWriterActivities.get_ledger,
            start_to_close_timeout=ACS_CALL_TIMEOUT,
            retry_policy=ACS_CALL,
        )
        in_flight = await workflow.execute_activity_method(
            SipWriterActivities.open_saga_numbers,
            start_to_close_timeout=ACS_CALL_TIMEOUT * 3,
            retry_policy=ACS_CALL,
        )
        owned = {n.phone_number for n in snapshot.numbers}
        known = {n for entry in ledger.values() for n in entry.numbers}
        known_routes = {r for entry in ledger.values() for r in entry.routes}
        orphans = sorted(owned - known - set(in_flight))
        ledger_routes = {
            route: exact_number_pattern(entry.numbers)
            for entry in ledger.values()
            for route in entry.routes
        }
        report = ReconcileReport(
            orphans=tuple(orphans),
            ghosts=tuple(sorted(known - owned)),
            unknown_routes=tuple(r for r in snapshot.routes if r not in known_routes),
            active_reservations=snapshot.active_reservations,
            missing_routes=tuple(sorted(r for r in ledger_routes if r not in snapshot.routes)),
            drifted_routes=tuple(
                sorted(
                    route
                    for route, pattern in ledger_routes.items()
                    if route in snapshot.route_patterns
                    and snapshot.route_patterns[route] != pattern
                )
            ),
        )
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
                start_to_close_timeout=COMPENSATION_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=COMPENSATION,
            )
        return report.model_copy(update={"released": old})
