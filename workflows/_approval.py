"""A saga's approval: decisions accepted by the Updates and the signal, applied when it waits.

A validator only accepts a decision while the saga awaits approval, but replay may deliver an
accepted Update in the same activation as the hold it decides on, and the SDK runs Update
handlers first. So handlers only queue decisions, and the oldest is applied once the saga is
waiting for one: by the handler on a first execution, by the saga when it starts waiting on
replay, with the same outcome in either order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.error_types import APPROVAL_EXPIRED, REJECTED
    from contracts.provision import (
        ApprovalMode,
        ApprovalPolicy,
        ApprovalRecord,
        Stage,
        decision_refusal,
    )

    from ._journal import Journal

__all__ = ["ApprovalDesk", "Priced"]


class Priced(Protocol):
    """What an approval is taken on: a hold, or numbers from outside.

    The cost of a manual order is unknown until its numbers arrive: then a person decides.
    """

    @property
    def monthly_cost(self) -> Decimal | None:
        """What the numbers cost per month together, if known."""


class ApprovalDesk:
    """Decisions queued, the one taken, and the record of every approval."""

    def __init__(self, policy: ApprovalPolicy, journal: Journal) -> None:
        self._policy = policy
        self._journal = journal
        self._pending: list[tuple[str, str, str | None]] = []
        """Decisions accepted, not yet applied: (decision, approver, note)."""
        self.decision: str | None = None
        self.note: str | None = None
        self.records: list[ApprovalRecord] = []
        self.approved_cost: Decimal | None = None
        self.ignored: list[str] = []
        """Signalled decisions that could not be taken, with the reason."""
        self.rejected_while_waiting: str | None = None
        """A rejection taken while the saga waited for ACS budget: its note."""

    async def obtain(self, hold: Priced) -> None:
        """Return once ``hold`` is approved (by policy or by a person); raise when it is not.

        Raises ``ApplicationError`` ``Rejected`` or ``ApprovalExpired`` (the policy's deadline).
        """
        policy = self._policy
        if (
            policy.mode is ApprovalMode.AUTO_UNDER_COST
            and policy.auto_approve_below is not None
            and hold.monthly_cost is not None
            and hold.monthly_cost <= policy.auto_approve_below
        ):
            self.record("auto_approved", "policy", hold.monthly_cost)
            self.approved_cost = hold.monthly_cost
            return
        self.decision = None
        self._journal.enter(Stage.AWAITING_APPROVAL)
        self.apply(hold)  # replay may have run the Update's handler already
        try:
            await workflow.wait_condition(
                lambda: self.decision is not None, timeout=policy.deadline
            )
        except TimeoutError:
            raise ApplicationError(
                f"no decision within {policy.deadline}", type=APPROVAL_EXPIRED, non_retryable=True
            ) from None
        if self.decision == "rejected":
            raise ApplicationError(self.note or "rejected", type=REJECTED, non_retryable=True)

    def refusal(self, approver: str, *, rejecting: bool = False) -> str | None:
        """Why ``approver`` cannot decide (or reject) now, or ``None``."""
        pending = self._pending[0][0] if self._pending else None
        if self._journal.stage is Stage.AWAITING_QUOTA:
            decided = "rejected" if self.rejected_while_waiting is not None else pending
        else:
            decided = self.decision or pending
        return decision_refusal(
            self._journal.stage, decided, self._policy.approvers, approver, rejecting=rejecting
        )

    def queue(self, decision: str, approver: str, note: str | None) -> None:
        """Accept a decision; ``apply`` takes it when the saga waits for one."""
        self._pending.append((decision, approver, note))

    def apply(self, hold: Priced | None) -> None:
        """Take the oldest accepted decision, if the saga is waiting for one on this hold.

        While the saga waits for ACS budget, only a rejection is taken (nothing else is
        accepted there).
        """
        if self._journal.stage is Stage.AWAITING_QUOTA:
            self._apply_rejection(hold)
            return
        if (
            hold is None
            or not self._pending
            or self.decision is not None
            or self._journal.stage is not Stage.AWAITING_APPROVAL
        ):
            return
        decision, approver, note = self._pending.pop(0)
        self.record(decision, approver, hold.monthly_cost, note)
        self.decision = decision
        self.note = note
        if decision == "approved":
            self.approved_cost = hold.monthly_cost

    def _apply_rejection(self, hold: Priced | None) -> None:
        if self.rejected_while_waiting is not None or not self._pending:
            return
        if self._pending[0][0] != "rejected":
            return  # an approval accepted for a later wait, replayed early: it waits its turn
        _, approver, note = self._pending.pop(0)
        self.record("rejected", approver, hold.monthly_cost if hold else None, note)
        self.rejected_while_waiting = note or "rejected"

    def record(self, decision: str, by: str, cost: Decimal | None, note: str | None = None) -> None:
        """A decision as taken, with the cost it was taken at."""
        self.records.append(
            ApprovalRecord(
                decision=decision, by=by, at=workflow.now(), monthly_cost=cost, note=note
            )
        )
