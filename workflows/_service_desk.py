"""Releases only a person can do: in some countries Microsoft's service desk releases numbers.

There numberflow never calls the release API. The numbers are marked pending in the ledger
(``release_pending_manual``, which reconcile reports as such), the saga parks for an operator
with the request to send to the service desk, and the operator confirms once it is done.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import SipWriterActivities
    from contracts.error_types import RELEASE_BY_SERVICE_DESK
    from contracts.operations import service_desk_request
    from contracts.provision import InterventionKind
    from contracts.sip import NumbersOwnership

    from ._attention import AttentionDesk
    from ._policies import UNDO_STEP

__all__ = ["ServiceDesk"]

_ACTIONS = (InterventionKind.CONFIRM_RELEASED, InterventionKind.ABANDON)


class ServiceDesk:
    """Parks a release for an operator; the ledger records what is pending, what confirmed."""

    def __init__(self, ticket_id: str, desk: AttentionDesk) -> None:
        self._ticket_id = ticket_id
        self._desk = desk

    async def release_by_hand(self, numbers: tuple[str, ...]) -> None:
        """Wait until an operator confirms the service desk released ``numbers``.

        Abandoned (or nobody confirmed by the attention deadline): raises, so the release stays
        on the operator's list and the numbers stay pending in the ledger.
        """
        ticket = self._ticket_id
        await workflow.execute_activity_method(
            SipWriterActivities.record_numbers,
            NumbersOwnership(ticket_id=ticket, numbers=numbers, release_pending_manual=True),
            **UNDO_STEP,
        )
        request = ApplicationError(
            service_desk_request(ticket, numbers), type=RELEASE_BY_SERVICE_DESK, non_retryable=True
        )
        decided = await self._desk.park("release", request, _ACTIONS, InterventionKind.ABANDON)
        if decided.action is not InterventionKind.CONFIRM_RELEASED:
            # left for an operator; the compensation logs this, so it names no number
            raise ApplicationError(
                f"{len(numbers)} number(s) wait for Microsoft's service desk to release them "
                f"(ticket {ticket}; the ledger has them as release_pending_manual)",
                type=RELEASE_BY_SERVICE_DESK,
                non_retryable=True,
            )
        await workflow.execute_activity_method(
            SipWriterActivities.forget_numbers,
            NumbersOwnership(ticket_id=ticket, numbers=numbers, released_by=decided.by),
            **UNDO_STEP,
        )
