"""``ReconcileWorkflow``: compare ACS with the ledger and the open sagas; report the drift.

Run daily by a Temporal Schedule, or on demand. It releases nothing unless asked, and then
only orphans older than the grace period (a purchase that a saga has not recorded yet is young),
and deletes a stale hold (an active reservation no running saga holds) only when asked.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import InventoryActivities, PhoneNumberActivities, SipWriterActivities
    from contracts.activities import ReleaseHoldInput, ReleaseNumbersInput
    from contracts.ids import RECONCILE_WORKFLOW_TYPE
    from contracts.operations import (
        InventorySnapshot,
        OpenSagas,
        ReconcileReport,
        ReconcileRequest,
    )
    from contracts.provision import HoldStrategy
    from contracts.sip import LedgerEntry, exact_number_pattern

    from ._failures import describe
    from ._policies import (
        ACS_CALL_TIMEOUT,
        ACS_STEP,
        LISTING_STEP,
        RELEASE_STEP,
        UNDO_STEP,
        adjusted,
    )

__all__ = ["ReconcileWorkflow"]

LISTING_INCOMPLETE = "listing-incomplete"
"""Patch: a listing that fails for good ends the run with a report that says so (nothing
compared, nothing changed) instead of failing it."""
STALE_HOLDS = "stale-holds"
"""Patch: running sagas' holds are read too, and active reservations none holds are reported
(and deleted when asked)."""


@workflow.defn(name=RECONCILE_WORKFLOW_TYPE)
class ReconcileWorkflow:
    """Orphans, ghosts and unknown routes of one ACS resource."""

    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileReport:
        """Read both sides, compare, optionally release old orphans."""
        try:
            snapshot = await workflow.execute_activity_method(
                InventoryActivities.inventory_snapshot, **LISTING_STEP
            )
        except ActivityError as error:
            if not workflow.patched(LISTING_INCOMPLETE):
                raise  # runs from before the patch failed
            return _incomplete(describe(error))
        ledger = await workflow.execute_activity_method(
            SipWriterActivities.get_ledger,
            **ACS_STEP,
        )
        if workflow.patched(STALE_HOLDS):
            sagas = await workflow.execute_activity_method(
                SipWriterActivities.open_sagas,
                **adjusted(ACS_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 3),
            )
            report = compare(snapshot, ledger, sagas.numbers)
            report = await self._stale_holds(report, sagas, request.delete_stale_holds)
        else:  # runs from before stale holds were looked for
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

    @staticmethod
    async def _stale_holds(
        report: ReconcileReport, sagas: OpenSagas, delete: bool
    ) -> ReconcileReport:
        """Active reservations no running saga holds; deleted when asked and safe.

        A saga taking a hold has one in ACS that its status does not name yet, so while any
        is taking one nothing is deleted (the next run will).
        """
        held = set(sagas.holds)
        stale = tuple(h for h in report.active_reservations if h not in held)
        if not stale:
            return report
        report = report.model_copy(update={"stale_holds": stale})
        if not delete:
            return report
        if sagas.taking_holds:
            note = (
                f"stale holds not deleted: {sagas.taking_holds} saga(s) are taking a hold that "
                "may be one of them; run again"
            )
            return report.model_copy(update={"notes": (*report.notes, note)})
        for hold_id in stale:
            await workflow.execute_activity_method(
                PhoneNumberActivities.release_hold,
                ReleaseHoldInput(strategy=HoldStrategy.RESERVATION, hold_id=hold_id),
                **UNDO_STEP,
            )
        return report.model_copy(update={"deleted_holds": stale})


def _incomplete(reason: str) -> ReconcileReport:
    """The report of a run that could not list ACS: no finding, no change."""
    workflow.logger.warning("reconcile: ACS's listing did not complete: %s", reason)
    return ReconcileReport(
        orphans=(),
        ghosts=(),
        unknown_routes=(),
        active_reservations=(),
        incomplete=f"ACS's listing did not complete ({reason}): nothing was compared or changed",
    )


def compare(
    snapshot: InventorySnapshot, ledger: dict[str, LedgerEntry], in_flight: tuple[str, ...]
) -> ReconcileReport:
    """What ACS has against what the ledger says (numbers of running sagas are not orphans).

    Numbers from outside that their ticket gave back are the resource's, not orphans; numbers
    waiting for the service desk are pending, not ghosts, even once the desk released them.
    """
    owned = {n.phone_number for n in snapshot.numbers}
    known = {n for entry in ledger.values() for n in entry.numbers}
    kept = {o.number for entry in ledger.values() for o in entry.onboarded if o.kept} - known
    pending = {n for entry in ledger.values() for n in entry.release_pending_manual}
    known_routes = {r for entry in ledger.values() for r in entry.routes}
    ledger_routes = {
        route: exact_number_pattern(entry.numbers)
        for entry in ledger.values()
        for route in entry.routes
    }
    return ReconcileReport(
        orphans=tuple(sorted(owned - known - kept - set(in_flight))),
        ghosts=tuple(sorted(known - owned - pending)),
        release_pending_manual=tuple(sorted(pending)),
        onboarded_kept=tuple(sorted(kept & owned)),
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
