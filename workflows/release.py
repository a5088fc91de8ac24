"""``ReleaseNumbersWorkflow``: give back everything a ticket owns, routes first.

Idempotent: it works from the ledger and skips what is already gone, so a second run (or a
retry after a crash) finds nothing left to do and does nothing.

Numbers that came from outside (ported, specially ordered) are not numberflow's to release:
they get back the capabilities they had when claimed and stay in the resource, unless an
operator asks for their release explicitly (recorded in the ledger with who and when). Where
only Microsoft's service desk releases numbers, the run waits for an operator to confirm.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities, SipWriterActivities
    from contracts.activities import DetachRouteInput, ReleaseNumbersInput
    from contracts.ids import CONFIRM_RELEASED_SIGNAL, RELEASE_WORKFLOW_TYPE
    from contracts.operations import (
        ReleaseConfirmation,
        ReleaseRequest,
        ReleaseResult,
        ReleaseStatus,
        service_desk_request,
    )
    from contracts.sip import LedgerEntry, NumbersOwnership

    from ._onboarding import restore_capabilities
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
        self._request = request
        self._ticket = request.ticket_id
        self._stage = "looking_up"
        self._entry = LedgerEntry(ticket_id=request.ticket_id)
        self._service_desk: str | None = None
        self._confirmation: ReleaseConfirmation | None = None

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
        kept = await self._give_back_onboarded()
        numbers = self._numbers_to_release(ledger, kept)
        self._stage = "releasing_numbers"
        release = ReleaseNumbersInput(numbers=numbers)
        if workflow.patched(RELEASE_BY_PURCHASE_DATE):
            # Only numbers still carrying today's purchase dates are released: a release
            # retried after ACS released them must not touch a number another ticket bought.
            owned = await workflow.execute_activity_method(
                PhoneNumberActivities.ownership,
                release,
                **adjusted(ACS_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 3),
            )
            release = ReleaseNumbersInput(numbers=numbers, purchased_at=owned.purchased_at)
        released = await workflow.execute_activity_method(
            PhoneNumberActivities.release_numbers,
            release,
            **RELEASE_STEP,
        )
        by_hand = released.by_service_desk
        if numbers:
            await self._forget(tuple(n for n in numbers if n not in by_hand), self._request.by)
        if by_hand:
            await self._await_service_desk(by_hand)
        self._stage = "released"
        gone = set(released.already_gone)
        return ReleaseResult(
            ticket_id=self._ticket,
            routes_removed=self._entry.routes,
            numbers_released=tuple(n for n in numbers if n not in gone and n not in by_hand),
            numbers_already_gone=released.already_gone,
            numbers_kept=kept,
            numbers_released_by_service_desk=by_hand,
            confirmed_by=self._confirmation.by if self._confirmation else None,
        )

    async def _give_back_onboarded(self) -> tuple[str, ...]:
        """Onboarded numbers get their earlier capabilities back, and are returned.

        Returned: left in the resource, owned by no ticket, remembered by the ledger (not an
        orphan). Unless the operator asked for their release: then they are released as they
        are.
        """
        onboarded = self._entry.onboarded_owned()
        if not onboarded or self._request.release_numbers:
            return ()
        self._stage = "restoring_capabilities"
        await restore_capabilities(onboarded)
        kept = tuple(o.number for o in onboarded)
        await self._forget(kept, None)
        return kept

    def _numbers_to_release(
        self, ledger: dict[str, LedgerEntry], kept: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The ticket's numbers, but those it keeps.

        With ``release_numbers``, also the onboarded numbers an earlier release gave back
        (still in the resource, claimed by nobody since).
        """
        numbers = tuple(n for n in self._entry.numbers if n not in kept)
        if not self._request.release_numbers:
            return numbers
        owned = {n for entry in ledger.values() for n in entry.numbers}
        returned = tuple(
            o.number for o in self._entry.onboarded if o.kept and o.number not in owned
        )
        return (*numbers, *returned)

    async def _forget(self, numbers: tuple[str, ...], released_by: str | None) -> None:
        await workflow.execute_activity_method(
            SipWriterActivities.forget_numbers,
            NumbersOwnership(ticket_id=self._ticket, numbers=numbers, released_by=released_by),
            **UNDO_STEP,
        )

    async def _await_service_desk(self, numbers: tuple[str, ...]) -> None:
        """Numbers only the service desk releases: pending in the ledger until confirmed."""
        await workflow.execute_activity_method(
            SipWriterActivities.record_numbers,
            NumbersOwnership(ticket_id=self._ticket, numbers=numbers, release_pending_manual=True),
            **UNDO_STEP,
        )
        self._stage = "awaiting_service_desk"
        self._service_desk = service_desk_request(self._ticket, numbers)
        await workflow.wait_condition(lambda: self._confirmation is not None)
        assert self._confirmation is not None
        self._service_desk = None
        await self._forget(numbers, self._confirmation.by)

    @workflow.signal(name=CONFIRM_RELEASED_SIGNAL)
    def confirm_released(self, confirmation: ReleaseConfirmation) -> None:
        """An operator says the service desk released the numbers (the first one counts)."""
        if self._confirmation is None:
            self._confirmation = confirmation

    @workflow.query
    def status(self) -> ReleaseStatus:
        """Where the release is."""
        return ReleaseStatus(
            ticket_id=self._ticket,
            stage=self._stage,
            routes=self._entry.routes,
            numbers=self._entry.numbers,
            service_desk=self._service_desk,
        )
