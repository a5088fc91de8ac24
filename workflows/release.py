"""``ReleaseNumbersWorkflow``: give back everything a ticket owns, routes first.

Idempotent: it works from the ledger and skips what is already gone, so a second run (or a
retry after a crash) finds nothing left to do and does nothing.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities, SipWriterActivities
    from contracts.activities import DetachRouteInput, ReleaseNumbersInput
    from contracts.ids import RELEASE_WORKFLOW_TYPE
    from contracts.operations import ReleaseRequest, ReleaseResult, ReleaseStatus
    from contracts.sip import LedgerEntry, NumbersOwnership

    from ._policies import (
        ACS_CALL_TIMEOUT,
        ACS_STEP,
        RELEASE_STEP,
        UNDO_STEP,
        adjusted,
    )

__all__ = ["ReleaseNumbersWorkflow"]

RELEASE_BY_PURCHASE_DATE = "release-by-purchase-date"
"""Patch: the numbers' purchase dates are read first and the release touches only those."""


@workflow.defn(name=RELEASE_WORKFLOW_TYPE)
class ReleaseNumbersWorkflow:
    """Detach the ticket's routes, then release its numbers, then update the ledger."""

    @workflow.init
    def __init__(self, request: ReleaseRequest) -> None:
        self._ticket = request.ticket_id
        self._stage = "looking_up"
        self._entry = LedgerEntry(ticket_id=request.ticket_id)

    @workflow.run
    async def run(self, request: ReleaseRequest) -> ReleaseResult:  # noqa: ARG002 - read in init
        """Release in the only safe order: routes, then numbers."""
        ledger = await workflow.execute_activity_method(
            SipWriterActivities.get_ledger,
            **ACS_STEP,
        )
        self._entry = ledger.get(self._ticket) or self._entry
        self._stage = "detaching_routes"
        for route in self._entry.routes:
            await workflow.execute_activity_method(
                SipWriterActivities.detach_route,
                DetachRouteInput(ticket_id=self._ticket, route_name=route),
                **adjusted(UNDO_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 2),
            )
        self._stage = "releasing_numbers"
        release = ReleaseNumbersInput(numbers=self._entry.numbers)
        if workflow.patched(RELEASE_BY_PURCHASE_DATE):
            # Only numbers still carrying today's purchase dates are released: a release
            # retried after ACS released them must not touch a number another ticket bought.
            owned = await workflow.execute_activity_method(
                PhoneNumberActivities.ownership,
                release,
                **adjusted(ACS_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 3),
            )
            release = ReleaseNumbersInput(
                numbers=self._entry.numbers, purchased_at=owned.purchased_at
            )
        released = await workflow.execute_activity_method(
            PhoneNumberActivities.release_numbers,
            release,
            **RELEASE_STEP,
        )
        if self._entry.numbers:
            await workflow.execute_activity_method(
                SipWriterActivities.forget_numbers,
                NumbersOwnership(ticket_id=self._ticket, numbers=self._entry.numbers),
                **UNDO_STEP,
            )
        self._stage = "released"
        gone = set(released.already_gone)
        return ReleaseResult(
            ticket_id=self._ticket,
            routes_removed=self._entry.routes,
            numbers_released=tuple(n for n in self._entry.numbers if n not in gone),
            numbers_already_gone=released.already_gone,
        )

    @workflow.query
    def status(self) -> ReleaseStatus:
        """Where the release is."""
        return ReleaseStatus(
            ticket_id=self._ticket,
            stage=self._stage,
            routes=self._entry.routes,
            numbers=self._entry.numbers,
        )
