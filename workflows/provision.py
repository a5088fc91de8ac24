"""``ProvisionNumbersWorkflow``: reserve → approve → purchase → configure → route, or compensate.

Deterministic coordination only; every ACS call is an activity. The rules it keeps:

* compensation is registered before each side effect, runs in reverse, and is shielded from
  workflow cancellation (it keeps awaiting the compensation task until it is done);
* side-effecting steps wait for their activity to finish when cancelled
  (``SIDE_EFFECT_STEP``) and check for a cancel right after;
* an approval that arrives after the hold lapsed acquires a new hold, and asks again only if
  the new hold costs more than what was approved;
* after the purchase, a step that fails for good waits for an operator (retry, skip, abort)
  unless the request says to compensate at once.

The saga's parts live beside it: the approval desk (``_approval``), the operator's desk
(``_attention``), the journal of stages (``_journal``), the callback outbox (``_callbacks``)
and the compensation stack (``_compensation``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import SipWriterActivities
    from contracts import metrics
    from contracts.activities import (
        AttachRouteInput,
        DetachRouteInput,
        HoldResult,
        RouteResult,
    )
    from contracts.error_types import (
        COMPENSATION_FAILED,
        HOLD_EXPIRED,
        PROVISIONING_FAILED,
    )
    from contracts.ids import (
        DECIDE_SIGNAL,
        DELIVER_SIGNAL,
        INTERVENE_SIGNAL,
        PROVISION_WORKFLOW_TYPE,
    )
    from contracts.problems import first_problem
    from contracts.provision import (
        ApprovalDecision,
        Decision,
        DecisionKind,
        Delivery,
        Intervention,
        InterventionKind,
        NumberSource,
        ProvisionRequest,
        ProvisionResult,
        ProvisionStatus,
        Rejection,
        Stage,
        StepFailurePolicy,
        TrunkSpec,
    )
    from contracts.quota import QUOTA_ANSWER_SIGNAL, QuotaAnswer, QuotaKind
    from contracts.search_attributes import COUNTRY_CODE, TICKET_ID

    from ._approval import ApprovalDesk
    from ._attention import AttentionDesk
    from ._callbacks import CallbackOutbox
    from ._compensation import CompensationStack, unabandonable
    from ._configure import configure_in_batches, configure_one_by_one
    from ._failures import describe, outcome_of
    from ._holds import Holds
    from ._journal import Journal
    from ._metrics import count
    from ._onboarding import Onboarding
    from ._operations import raise_if_cancelled
    from ._policies import (
        ACS_CALL_TIMEOUT,
        MAX_HOLD_RENEWALS,
        SIDE_EFFECT_STEP,
        UNDO_STEP,
        adjusted,
    )
    from ._purchase import HoldLapsed, Purchase
    from ._quota import QuotaGate
    from ._service_desk import ServiceDesk

__all__ = ["ProvisionNumbersWorkflow"]

CANCEL_AFTER_OUTCOME_IGNORED = "cancel-after-outcome-ignored"
"""Patch: a cancel that arrives once the outcome is decided (callbacks draining) is ignored."""
OPERATOR_INTERVENTIONS = "operator-interventions"
"""Patch: a failed step after the purchase, or a failed compensation, waits for an operator."""
CONFIGURE_IN_BATCHES = "configure-in-batches"
"""Patch: capabilities are set by one activity per batch of numbers, not two per number."""
RENEWAL_KEEPS_THE_OLD_UNDO = "renewal-keeps-the-old-undo"
"""Patch: a lapsed hold's undo stays registered until its release is done, so a cancel that
abandons that release leaves the hold to the compensation instead of to nobody."""
_STEP_ACTIONS = (InterventionKind.RETRY, InterventionKind.SKIP, InterventionKind.ABORT)
_FIRST_STAGE = {
    NumberSource.PURCHASE: Stage.RESERVING,
    NumberSource.EXISTING: Stage.CLAIMING,
    NumberSource.MANUAL_ORDER: Stage.AWAITING_APPROVAL,
}
"""Where a saga starts: a manual order is approved before anyone places it."""
_COMPENSATION_ACTIONS = (InterventionKind.RETRY, InterventionKind.ABANDON)


SignalInput = TypeVar("SignalInput", Intervention, Decision, Delivery)


@workflow.defn(name=PROVISION_WORKFLOW_TYPE)
class ProvisionNumbersWorkflow:
    """One ticket's numbers, from hold to routed, or back to nothing."""

    @workflow.init
    def __init__(self, request: ProvisionRequest) -> None:
        self._request = request
        self._errors: list[str] = []
        self._outbox = CallbackOutbox(self._errors)
        self._journal = Journal(request, self._outbox)
        self._approval = ApprovalDesk(request.approval, self._journal)
        self._desk = AttentionDesk(request, self._journal, self._errors)
        self._undo = CompensationStack()
        self._quota = QuotaGate(request, self._journal, self._undo, self._approval)
        self._holds = Holds(request, self._journal, self._undo, self._quota)
        self._onboarding = Onboarding(request, self._journal, self._undo)
        self._service_desk = ServiceDesk(request.ticket_id, self._desk)
        self._hold: HoldResult | None = None
        self._numbers: tuple[str, ...] = ()
        self._route: RouteResult | None = None
        self._interventions_on = False
        self._skipped: list[str] = []
        self._trunks: tuple[TrunkSpec, ...] | None = None
        """Trunks an operator's retry of routing gave instead of the request's."""

    # -- the run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: ProvisionRequest) -> ProvisionResult:
        """Provision, or compensate and report why not."""
        # Asked once, at the start: a run that began on older code (and may be waiting for
        # its approval right now) keeps compensating at once, as it was started to.
        self._interventions_on = workflow.patched(OPERATOR_INTERVENTIONS)
        count(metrics.PROVISIONINGS_STARTED)
        workflow.upsert_search_attributes(
            [TICKET_ID.value_set(request.ticket_id), COUNTRY_CODE.value_set(request.country_code)]
        )
        if request.callback_url is not None:
            self._outbox.start()
        self._journal.enter(_FIRST_STAGE[request.source])
        try:
            result = await self._provision()
        except BaseException as error:  # CancelledError is not an Exception
            if not isinstance(error, asyncio.CancelledError | FailureError):
                raise  # a bug: fail the workflow task, fix, redeploy; nothing to undo yet
            return await self._unwind(error)
        await self._drain_callbacks()
        return result

    async def _provision(self) -> ProvisionResult:
        """The business process: hold, approval, purchase, configuration, route."""
        if self._request.source is NumberSource.PURCHASE:
            await self._acquire_hold()
            await self._approve()
            await self._purchase_renewing_the_hold()
        else:
            await self._take_numbers_from_outside()
        if self._interventions_on:
            await self._step("configuring", self._configure)
            await self._step("routing", self._attach_route)
        else:  # runs started before the patch compensate at once
            await self._configure()
            await self._attach_route()
        return self._complete()

    def _complete(self) -> ProvisionResult:
        outcome = Stage.COMPLETED_WITH_SKIPS if self._skipped else Stage.COMPLETED
        self._journal.enter(outcome)
        self._journal.outcome = outcome
        count(metrics.PROVISIONINGS_ENDED, outcome=outcome.value)
        hold = self._hold
        if hold is not None:
            count(
                metrics.MONTHLY_COST_COMMITTED, int(hold.monthly_cost * 100), currency=hold.currency
            )
        return self._result(outcome)

    # -- operator interventions ----------------------------------------------------------------

    async def _step(self, step: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a step after the purchase; on a permanent failure, let an operator decide.

        Numbers that took days to approve are not released for a configuration an operator
        can fix in minutes (an unverified SIP domain, a misspelt trunk): the saga parks,
        then retries, skips the step or compensates as it is told.
        """
        while True:
            try:
                await run()
                return
            except (ActivityError, ApplicationError) as failure:
                if (
                    self._request.on_step_failure is StepFailurePolicy.COMPENSATE
                    or workflow.cancellation_reason() is not None
                ):
                    raise
                timeout_action = InterventionKind(self._request.attention_timeout_action.value)
                failed: BaseException = failure
                decided = await self._desk.park(step, failed, _STEP_ACTIONS, timeout_action)
            if decided.action is InterventionKind.RETRY:
                if decided.trunks is not None:
                    self._trunks = decided.trunks
                continue
            if decided.action is InterventionKind.SKIP:
                self._skipped.append(step)
                return
            raise failed  # abort: compensate, as a failure

    @workflow.signal(name=INTERVENE_SIGNAL)
    def intervene_signal(self, payload: RawValue) -> None:
        """Retry, skip, abort or abandon by signal (``temporal workflow signal``, tickets).

        A signal cannot be refused: one that does not fit the current state, or whose input
        is not an intervention at all, is recorded in ``refused_interventions`` and the
        timeline, and changes nothing else. (Typed as raw so that a malformed input is
        recorded, not dropped by the SDK with a log line nobody reads.)
        """
        intervention = _signal_input(payload, Intervention)
        if isinstance(intervention, str):
            self._desk.refuse(f"malformed intervene signal: {intervention}")
            return
        self._desk.offer(intervention)

    @workflow.update
    def intervene(self, intervention: Intervention) -> ProvisionStatus:
        """Retry, skip, abort or abandon a parked step; validated before it is written."""
        self._desk.accept(intervention)
        return self.status()

    @intervene.validator
    def _validate_intervene(self, intervention: Intervention) -> None:
        refusal = self._desk.refusal(intervention)
        if refusal is not None:
            raise ValueError(refusal)

    # -- numbers from outside ------------------------------------------------------------------

    async def _take_numbers_from_outside(self) -> None:
        """Claim the named numbers, or take an order's deliveries; approved as configured.

        A manual order is approved before it is waited for: someone places it with Microsoft.
        """
        onboarding = self._onboarding
        if self._request.source is NumberSource.EXISTING:
            await onboarding.claim_named()
            self._numbers = onboarding.numbers
        else:
            onboarding.record_order()
        assert onboarding.quote is not None
        await self._approval.obtain(onboarding.quote)
        if self._request.source is NumberSource.MANUAL_ORDER:
            await onboarding.await_deliveries()
            self._numbers = onboarding.numbers

    @workflow.signal(name=DELIVER_SIGNAL)
    def deliver(self, payload: RawValue) -> None:
        """Numbers of a manual order, now in the resource (``numberflow deliver``, tickets).

        Queued and taken in order while the saga waits for them; each delivery's record in the
        status says which numbers were accepted and which refused, and why.
        """
        delivery = _signal_input(payload, Delivery)
        if isinstance(delivery, str):
            self._journal.note(f"ignored a malformed deliver signal: {delivery}")
            return
        self._onboarding.hear(delivery)

    # -- holds ---------------------------------------------------------------------------------

    async def _acquire_hold(self) -> None:
        hold = await self._holds.acquire()
        self._hold = hold
        self._numbers = hold.numbers
        raise_if_cancelled()
        self._holds.check_stock_and_budget(hold)

    async def _renew_hold(self) -> None:
        """Let the lapsed hold go and take a new one; ask again only if it costs more."""
        self._journal.note("hold lapsed; acquiring a new one")
        assert len(self._undo) == 1, "only the hold is registered before the purchase"
        if workflow.patched(RENEWAL_KEEPS_THE_OLD_UNDO):
            await self._undo.newest().run()
            self._undo.pop()
        else:  # runs from before the patch took the undo off first
            await self._undo.pop().run()
        await self._acquire_hold()
        assert self._hold is not None and self._approval.approved_cost is not None
        if self._hold.monthly_cost > self._approval.approved_cost:
            self._journal.note(
                f"new hold costs {self._hold.monthly_cost}, above the approved "
                f"{self._approval.approved_cost}"
            )
            await self._approve()

    # -- approval ------------------------------------------------------------------------------

    async def _approve(self) -> None:
        assert self._hold is not None
        await self._approval.obtain(self._hold)

    @workflow.update
    def approve(self, decision: ApprovalDecision) -> ProvisionStatus:
        """Approve the held numbers at their current cost."""
        self._approval.queue("approved", decision.approver, decision.comment)
        self._apply_pending_decision()
        return self.status()

    @approve.validator
    def _validate_approve(self, decision: ApprovalDecision) -> None:
        self._check_decision_allowed(decision.approver)

    @workflow.update
    def reject(self, rejection: Rejection) -> ProvisionStatus:
        """Reject: the saga releases everything and ends ``rejected``."""
        self._approval.queue("rejected", rejection.approver, rejection.reason)
        self._apply_pending_decision()
        return self.status()

    @reject.validator
    def _validate_reject(self, rejection: Rejection) -> None:
        self._check_decision_allowed(rejection.approver, rejecting=True)

    @workflow.signal(name=DECIDE_SIGNAL)
    def decide(self, payload: RawValue) -> None:
        """Approve or reject by signal: what the CLI and the ingress use (see ``Decision``).

        A signal cannot be refused, so one that comes when no decision can be taken, or
        whose input is not a decision, is recorded in ``ignored_decisions`` with the reason,
        and changes nothing else.
        """
        decision = _signal_input(payload, Decision)
        if isinstance(decision, str):
            self._approval.ignored.append(f"malformed decide signal: {decision}")
            self._journal.note(f"ignored a malformed decide signal: {decision}")
            return
        rejecting = decision.decision is DecisionKind.REJECTED
        refusal = self._approval.refusal(decision.approver, rejecting=rejecting)
        if refusal is not None:
            self._approval.ignored.append(
                f"{decision.decision.value} by {decision.approver}: {refusal}"
            )
            return
        self._approval.queue(decision.decision.value, decision.approver, decision.note)
        self._apply_pending_decision()

    def _check_decision_allowed(self, approver: str, *, rejecting: bool = False) -> None:
        """Refuse before anything is written: wrong stage, second decision, unknown approver."""
        refusal = self._approval.refusal(approver, rejecting=rejecting)
        if refusal is not None:
            raise ValueError(refusal)

    def _apply_pending_decision(self) -> None:
        self._approval.apply(self._hold or self._onboarding.quote)

    @workflow.signal(name=QUOTA_ANSWER_SIGNAL)
    def quota_answer(self, answer: QuotaAnswer) -> None:
        """The quota keeper's answer to an ask: admitted, or queued with a place."""
        self._quota.hear(answer)

    # -- purchase ------------------------------------------------------------------------------

    async def _purchase_renewing_the_hold(self) -> None:
        """Buy what the hold holds, once the tenant's budget admits a purchase.

        The purchase is admitted before the hold is checked: a hold that lapsed while the saga
        waited is renewed with the admission in hand, so the new hold is bought at once
        instead of lapsing in the queue again.
        """
        await self._quota.spend(
            QuotaKind.PURCHASES,
            Stage.PURCHASING,
            lambda _: self._buy_renewing_the_hold(),
            hold=self._hold,
        )

    async def _buy_renewing_the_hold(self) -> None:
        """Buy what the hold holds; a hold that lapsed meanwhile is renewed first (bounded).

        The clock is consulted once, after the (possibly days-long) wait; after that only the
        service's answer counts, so a skew between our clock and ACS's cannot loop forever.
        """
        assert self._hold is not None
        lapsed = Holds.is_lapsed(self._hold)
        renewals = 0
        while True:
            if lapsed:
                if renewals == MAX_HOLD_RENEWALS:
                    raise ApplicationError(
                        f"the hold lapsed {renewals} times in a row",
                        type=HOLD_EXPIRED,
                        non_retryable=True,
                    )
                renewals += 1
                await self._renew_hold()
            try:
                await self._purchase()
                return
            except HoldLapsed:
                lapsed = True

    async def _purchase(self) -> None:
        hold = self._hold
        assert hold is not None
        self._journal.enter(Stage.PURCHASING)
        purchase = Purchase(self._request, hold, self._undo, self._service_desk.release_by_hand)
        await purchase.buy(self._own)

    def _own(self, numbers: tuple[str, ...]) -> None:
        self._numbers = numbers

    # -- configure -----------------------------------------------------------------------------

    async def _configure(self) -> None:
        wanted = self._request.final_capabilities
        if wanted is None:
            return
        self._journal.enter(Stage.CONFIGURING)
        self._onboarding.reconfiguring()
        if workflow.patched(CONFIGURE_IN_BATCHES):
            await configure_in_batches(self._numbers, wanted)
        else:
            await configure_one_by_one(self._numbers, wanted)

    # -- routing -------------------------------------------------------------------------------

    async def _attach_route(self) -> None:
        routing = self._request.routing
        if routing is None:
            return
        self._journal.enter(Stage.ROUTING)
        name = self._request.route_name
        compensation = f"detach route {name}"
        if compensation not in self._undo:
            self._undo.push("route", compensation, self._detach_route(name))
        self._route = await workflow.execute_activity_method(
            SipWriterActivities.attach_route,
            AttachRouteInput(
                ticket_id=self._request.ticket_id,
                route_name=name,
                numbers=self._numbers,
                trunks=self._trunks or routing.trunks,
            ),
            **adjusted(SIDE_EFFECT_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 2),
        )
        raise_if_cancelled()

    def _detach_route(self, name: str) -> Callable[[], Awaitable[None]]:
        async def detach() -> None:
            added = self._route.trunks_added if self._route else ()
            await workflow.execute_activity_method(
                SipWriterActivities.detach_route,
                DetachRouteInput(
                    ticket_id=self._request.ticket_id, route_name=name, trunks_added=added
                ),
                **adjusted(UNDO_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 2),
            )

        return detach

    # -- compensation --------------------------------------------------------------------------

    async def _unwind(self, error: BaseException) -> ProvisionResult:
        self._desk.clear()
        outcome = outcome_of(error)
        self._journal.outcome = outcome
        self._errors.append(describe(error))
        self._journal.enter(outcome)
        self._journal.enter(Stage.COMPENSATING)
        await unabandonable(self._undo.unwind())
        if self._undo.left and self._parks_compensations():
            await unabandonable(self._compensation_attention())
        count(metrics.PROVISIONINGS_ENDED, outcome=outcome.value)
        if self._undo.left:
            count(metrics.COMPENSATION_FAILED)
            self._journal.enter(Stage.COMPENSATION_FAILED)
            await self._drain_callbacks()
            raise ApplicationError(
                "compensation incomplete; an operator must finish: " + "; ".join(self._undo.left),
                list(self._undo.left),
                type=COMPENSATION_FAILED,
                non_retryable=True,
            )
        self._journal.enter(Stage.COMPENSATED)
        await self._drain_callbacks()
        if outcome in (Stage.REJECTED, Stage.EXPIRED):
            return self._result(outcome, note=self._errors[-1])
        if outcome is Stage.CANCELLED:
            raise asyncio.CancelledError()
        raise ApplicationError(
            self._errors[-1], type=PROVISIONING_FAILED, non_retryable=True
        ) from error

    def _parks_compensations(self) -> bool:
        return self._interventions_on and self._request.on_step_failure is StepFailurePolicy.HOLD

    async def _compensation_attention(self) -> None:
        """Failed compensations wait for an operator: retry them, or abandon (the list stays)."""
        while self._undo.left:
            try:
                assert self._undo.last_failure is not None
                decided = await self._desk.park(
                    "compensation",
                    self._undo.last_failure,
                    _COMPENSATION_ACTIONS,
                    InterventionKind.ABANDON,
                )
            except asyncio.CancelledError:
                self._journal.note("cancel while compensation waited for an operator: abandoned")
                return
            if decided.action is InterventionKind.ABANDON:
                return
            await self._undo.retry()

    # -- callbacks -----------------------------------------------------------------------------

    async def _drain_callbacks(self) -> None:
        if self._request.callback_url is not None:
            await self._outbox.drain(self._cancel_after_outcome)

    def _cancel_after_outcome(self) -> bool:
        """A cancel while callbacks drain: noted and ignored (runs from before the patch end)."""
        if not workflow.patched(CANCEL_AFTER_OUTCOME_IGNORED):
            return False
        stage = self._journal.stage.value
        self._journal.note(f"cancel requested after the saga ended {stage}; ignored")
        return True

    # -- status --------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> ProvisionStatus:
        """Stage, numbers, cost, approvals, errors and timeline."""
        hold = self._hold
        return ProvisionStatus(
            ticket_id=self._request.ticket_id,
            stage=self._journal.stage,
            outcome=self._journal.outcome,
            source=self._request.source,
            numbers=self._numbers or self._onboarding.numbers,
            monthly_cost=self._monthly_cost(),
            currency=hold.currency if hold else self._onboarding.currency,
            hold_strategy=self._request.hold_strategy,
            hold_id=hold.hold_id if hold else None,
            hold_expires_at=hold.expires_at if hold else None,
            approvals=tuple(self._approval.records),
            approved_cost=self._approval.approved_cost,
            approvers=self._request.approval.approvers,
            ignored_decisions=tuple(self._approval.ignored),
            attention=self._desk.attention,
            quota_wait=self._quota.wait,
            refused_interventions=tuple(self._desk.refused),
            order=self._onboarding.order,
            deliveries=tuple(self._onboarding.deliveries),
            skipped=tuple(self._skipped),
            route_name=self._route.route_name if self._route else None,
            errors=tuple(self._errors),
            left_for_operator=tuple(self._undo.left),
            timeline=tuple(self._journal.timeline),
        )

    def _monthly_cost(self) -> Decimal | None:
        if self._hold is not None:
            return self._hold.monthly_cost
        quote = self._onboarding.quote
        return quote.monthly_cost if quote else None

    def _result(self, outcome: Stage, note: str | None = None) -> ProvisionResult:
        hold = self._hold
        return ProvisionResult(
            ticket_id=self._request.ticket_id,
            outcome=outcome,
            numbers=self._numbers
            if outcome in (Stage.COMPLETED, Stage.COMPLETED_WITH_SKIPS)
            else (),
            monthly_cost=self._monthly_cost(),
            currency=hold.currency if hold else self._onboarding.currency,
            route_name=self._route.route_name if self._route else None,
            note=note,
            skipped=tuple(self._skipped),
        )


def _signal_input(payload: RawValue, kind: type[SignalInput]) -> SignalInput | str:
    """A signal's input as ``kind``, or the first problem with it (one line)."""
    try:
        return workflow.payload_converter().from_payload(payload.payload, kind)
    except ValidationError as error:
        return first_problem(error)
    except Exception as error:  # noqa: BLE001 - not JSON at all: say so, never fail the task
        return f"unreadable input ({type(error).__name__})"
