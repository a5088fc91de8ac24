"""A saga parked in ``needs_attention``: what failed, what an operator may do, and until when.

Interventions come by Update (validated first) or by signal (recorded as refused when they do
not fit); the parked step takes them in order. A deadline decides when nobody does, and a
reminder goes out before it.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import metrics
    from contracts.log_fields import LOG_FIELDS_EXTRA
    from contracts.provision import (
        Attention,
        Intervention,
        InterventionKind,
        ProvisionRequest,
        Stage,
        intervention_refusal,
    )

    from ._failures import describe, error_code, error_message
    from ._journal import Journal
    from ._metrics import count
    from ._policies import REMINDER_BEFORE

__all__ = ["AttentionDesk"]


class AttentionDesk:
    """The open question to an operator (``attention``), and the answers received."""

    def __init__(self, request: ProvisionRequest, journal: Journal, errors: list[str]) -> None:
        self._request = request
        self._journal = journal
        self._errors = errors
        self.attention: Attention | None = None
        self._interventions: list[Intervention] = []
        """Accepted interventions, consumed by the parked step in order."""
        self.refused: list[str] = []

    def refusal(self, intervention: Intervention) -> str | None:
        """Why this intervention cannot be taken now, or ``None``."""
        return intervention_refusal(self.attention, intervention)

    def accept(self, intervention: Intervention) -> None:
        """An intervention validated before it was written (the Update)."""
        self._interventions.append(intervention)

    def offer(self, intervention: Intervention) -> None:
        """An intervention by signal: taken if it fits, else recorded as refused."""
        refusal = self.refusal(intervention)
        if refusal is not None:
            self.refuse(f"{intervention.action.value} by {intervention.by}: {refusal}")
            return
        self._interventions.append(intervention)

    def refuse(self, entry: str) -> None:
        """Record a signal that was not taken, in the status and the timeline."""
        self.refused.append(entry)
        self._journal.note(f"refused {entry}")

    def clear(self) -> None:
        """Nothing is asked any more (the saga compensates)."""
        self.attention = None

    async def park(
        self,
        step: str,
        failure: BaseException,
        actions: tuple[InterventionKind, ...],
        timeout_action: InterventionKind,
    ) -> Intervention:
        """Park in ``needs_attention`` until an intervention or the deadline; return it."""
        resume = self._journal.stage
        deadline = workflow.now() + self._request.attention_deadline
        code = error_code(failure)
        self.attention = Attention(
            step=step,
            error_code=code,
            message=error_message(failure),
            actions=actions,
            since=workflow.now(),
            deadline=deadline,
        )
        self._errors.append(f"{step} failed: {describe(failure)}")
        self._journal.enter(
            Stage.NEEDS_ATTENTION, f"{step} failed ({code}); waiting for an operator"
        )
        count(metrics.NEEDS_ATTENTION, step=step, error_code=code)
        ticket = self._request.ticket_id
        workflow.logger.info(
            "ticket %s needs attention: %s failed (%s)",
            ticket,
            step,
            code,
            extra={LOG_FIELDS_EXTRA: {"step": step, "error_code": code}},
        )
        reminder_at = deadline - min(REMINDER_BEFORE, self._request.attention_deadline / 2)
        arrived = await self._wait(reminder_at)
        if not arrived:
            self._journal.enter(
                Stage.NEEDS_ATTENTION,
                f"reminder: {step} still waits for an operator; at {deadline.isoformat()} it "
                f"will {timeout_action.value}",
            )
            arrived = await self._wait(deadline)
        if not arrived:
            self._interventions.append(
                Intervention(action=timeout_action, by="deadline", reason="nobody decided in time")
            )
        decided = self._interventions.pop(0)
        self.attention = None
        why = f": {decided.reason}" if decided.reason else ""
        self._journal.enter(resume, f"{step}: {decided.action.value} by {decided.by}{why}")
        workflow.logger.info(
            "ticket %s left needs_attention: %s of %s (%s) by %s",
            ticket,
            decided.action.value,
            step,
            code,
            decided.by,
            extra={
                LOG_FIELDS_EXTRA: {"step": step, "error_code": code, "action": decided.action.value}
            },
        )
        return decided

    async def _wait(self, until: datetime) -> bool:
        timeout = until - workflow.now()
        if timeout.total_seconds() <= 0:
            return bool(self._interventions)
        try:
            await workflow.wait_condition(lambda: bool(self._interventions), timeout=timeout)
        except TimeoutError:
            return False
        return True
