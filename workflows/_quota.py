"""A saga's side of the tenant's budget: ask the keeper before each ACS request that spends.

The keeper (``quota_keeper``) answers by signal, admitted or queued; a queued saga shows
``awaiting_quota`` with its place and when room comes, and goes on once admitted. While it
waits it takes a rejection, a cancel, or expires after its approval deadline, and gives its
place back. A request ACS refuses for a limit is not repeated: the saga tells the keeper
what ACS answered (it learns the tenant has no room until ``Retry-After``) and waits again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import QuotaActivities
    from contracts.activities import HoldResult
    from contracts.error_types import ACS_QUOTA_EXCEEDED, QUOTA_WAIT_EXPIRED, REJECTED
    from contracts.provision import ProvisionRequest, Stage
    from contracts.quota import (
        QuotaAnswer,
        QuotaKind,
        QuotaRefusal,
        QuotaRequest,
        QuotaWait,
        QuotaWithdrawal,
    )

    from ._approval import ApprovalDesk
    from ._compensation import CompensationStack
    from ._failures import error_type
    from ._journal import Journal
    from ._policies import ACS_STEP, UNDO_STEP

__all__ = ["TENANT_QUOTA", "QuotaGate"]

TENANT_QUOTA = "tenant-quota"
"""Patch: the saga asks the quota keeper before each search, browse and purchase."""
_DEFAULT_RETRY_AFTER = timedelta(hours=1)
"""How long a refusal without ``Retry-After`` keeps the keeper from asking again."""

T = TypeVar("T")


class QuotaGate:
    """The saga's asks: the keeper's answers, and the wait while one is queued."""

    def __init__(
        self,
        request: ProvisionRequest,
        journal: Journal,
        undo: CompensationStack,
        approval: ApprovalDesk,
    ) -> None:
        self._request = request
        self._journal = journal
        self._undo = undo
        self._approval = approval
        self._answers: dict[str, QuotaAnswer] = {}
        self._first_queued: dict[str, QuotaAnswer] = {}
        """Ask id → the first "queued" answer heard for it, before any admission."""
        self._waiting_for: str | None = None
        self.wait: QuotaWait | None = None
        """While ``awaiting_quota``: what the saga waits for, for its status."""

    def hear(self, answer: QuotaAnswer) -> None:
        """The keeper's answer (signal); an admission is final, a new place replaces the old."""
        known = self._answers.get(answer.ask_id)
        if known is not None and known.admitted:
            return
        self._answers[answer.ask_id] = answer
        if not answer.admitted:
            self._first_queued.setdefault(answer.ask_id, answer)
        if self.wait is not None and answer.ask_id == self._waiting_for and not answer.admitted:
            self.wait = self.wait.model_copy(
                update={"place": answer.place, "room_at": answer.room_at}
            )

    async def spend(
        self,
        kind: QuotaKind,
        stage: Stage,
        request: Callable[[bool], Awaitable[T]],
        hold: HoldResult | None = None,
    ) -> T:
        """Run ``request`` (given whether limits are kept) once admitted to spend ``kind``.

        ``stage`` is the saga's while it asks (``awaiting_quota`` only if it must wait);
        ``hold`` is what the saga holds while it waits (what a rejection is recorded at).

        When ACS refuses it for a limit, nothing was spent: the keeper hears why and the
        saga waits its turn again, never asking ACS at once.
        """
        if not workflow.patched(TENANT_QUOTA):
            return await request(False)
        refused: QuotaRefusal | None = None
        while True:
            self._journal.enter(stage)
            ask_id, limited = await self._admitted(kind, refused, hold)
            try:
                return await request(limited)
            except ActivityError as error:
                if error_type(error) != ACS_QUOTA_EXCEEDED:
                    raise
                wait = _retry_after(error)
                self._journal.note(f"ACS refused the {kind.value} for the tenant's limit")
                refused = QuotaRefusal(ask_id=ask_id, retry_after=wait)

    async def _admitted(
        self, kind: QuotaKind, refused: QuotaRefusal | None, hold: HoldResult | None
    ) -> tuple[str, bool]:
        """Ask, and return once admitted: the ask's id, and whether limits are kept at all."""
        ask_id = str(workflow.uuid4())
        withdraw = f"withdraw the ask for {kind.value} budget"
        self._undo.push("quota", withdraw, self._withdraw(ask_id))
        limited = await workflow.execute_activity_method(
            QuotaActivities.ask_quota,
            QuotaRequest(
                ask_id=ask_id, ticket_id=self._request.ticket_id, kind=kind, refused=refused
            ),
            **ACS_STEP,
        )
        if limited:
            await workflow.wait_condition(lambda: ask_id in self._answers)
            # Queued once, the saga shows it, even when the admission came in the same
            # activation: what the saga does must not depend on how signals were batched.
            if ask_id in self._first_queued:
                await self._queued(ask_id, kind, hold)
        self._undo.discard(withdraw)
        return ask_id, limited

    async def _queued(self, ask_id: str, kind: QuotaKind, hold: HoldResult | None) -> None:
        """Wait in ``awaiting_quota`` until admitted; a rejection or the deadline ends it.

        Entered for every ask that was queued, admitted since or not: a worker may hear the
        "queued" and the "admitted" answers in one activation or in two (Core split one
        workflow task's signals in two activations after a sticky-queue timeout in a chaos
        run, and replay then grouped them), and both must issue the same commands. A deadline
        timer started and cancelled in one workflow task leaves no command.
        """
        answer = self._first_queued[ask_id]
        latest = self._answers[ask_id]
        shown = answer if latest.admitted else latest  # a place told since replaces the first
        self._waiting_for = ask_id
        self.wait = QuotaWait(
            kind=kind, place=shown.place, room_at=shown.room_at, since=workflow.now()
        )
        room = (
            f"room at {answer.room_at:%Y-%m-%d %H:%M} UTC"
            if answer.room_at
            else "no room until a grant"
        )
        self._journal.enter(
            Stage.AWAITING_QUOTA,
            note=f"waiting for {kind.value} budget: place {answer.place}, {room}",
        )
        self._approval.apply(hold)  # replay may have run a rejection's handler already
        deadline = self._request.approval.deadline
        try:
            await workflow.wait_condition(
                lambda: (
                    self._answers[ask_id].admitted
                    or self._approval.rejected_while_waiting is not None
                ),
                timeout=deadline,
            )
        except TimeoutError:
            raise ApplicationError(
                f"no {kind.value} budget within {deadline} (the approval deadline)",
                type=QUOTA_WAIT_EXPIRED,
                non_retryable=True,
            ) from None
        finally:
            self.wait = None
            self._waiting_for = None
        rejected = self._approval.rejected_while_waiting
        if rejected is not None:
            raise ApplicationError(rejected, type=REJECTED, non_retryable=True)

    def _withdraw(self, ask_id: str) -> Callable[[], Awaitable[None]]:
        async def withdraw() -> None:
            await workflow.execute_activity_method(
                QuotaActivities.withdraw_quota, QuotaWithdrawal(ask_id=ask_id), **UNDO_STEP
            )

        return withdraw


def _retry_after(error: ActivityError) -> timedelta:
    """The ``Retry-After`` ACS gave with the refusal (in the activity error's details)."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        for detail in cause.details:
            if isinstance(detail, dict) and detail.get("retry_after"):
                return timedelta(seconds=float(detail["retry_after"]))
    return _DEFAULT_RETRY_AFTER
