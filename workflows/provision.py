"""``ProvisionNumbersWorkflow``: reserve → approve → purchase → configure → route, or compensate.

Deterministic coordination only; every ACS call is an activity. The rules it keeps:

* compensation is registered before each side effect, runs in reverse, and is shielded from
  workflow cancellation (it keeps awaiting the compensation task until it is done);
* side-effecting steps wait for their activity to finish when cancelled
  (``WAIT_CANCELLATION_COMPLETED``) and check for a cancel right after;
* an approval that arrives after the hold lapsed acquires a new hold, and asks again only if
  the new hold costs more than what was approved.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import CallbackActivities, PhoneNumberActivities, SipWriterActivities
    from contracts import metrics
    from contracts.activities import (
        AttachRouteInput,
        CallbackInput,
        CapabilityBatchInput,
        CapabilityBatchResult,
        CapabilityFailure,
        CapabilityUpdateInput,
        DetachRouteInput,
        HoldInput,
        HoldResult,
        LroHandle,
        LroOutcome,
        PurchaseInput,
        ReleaseHoldInput,
        ReleaseNumbersInput,
        RouteResult,
    )
    from contracts.error_types import (
        APPROVAL_EXPIRED,
        CALLBACK_REFUSED,
        CAPABILITY_UPDATE_FAILED,
        COMPENSATION_FAILED,
        HOLD_EXPIRED,
        OUT_OF_STOCK,
        OVER_BUDGET,
        PROVISIONING_FAILED,
        PURCHASE_FAILED,
    )
    from contracts.ids import PROVISION_WORKFLOW_TYPE
    from contracts.provision import (
        ApprovalDecision,
        ApprovalMode,
        ApprovalRecord,
        Attention,
        Capabilities,
        Decision,
        HoldStrategy,
        Intervention,
        InterventionKind,
        PartialPolicy,
        ProvisionRequest,
        ProvisionResult,
        ProvisionStatus,
        Rejection,
        Stage,
        StepFailurePolicy,
        TimelineEntry,
        TrunkSpec,
        decision_refusal,
        intervention_refusal,
    )
    from contracts.search_attributes import COUNTRY_CODE, PROVISIONING_STAGE, TICKET_ID
    from contracts.sip import NumbersOwnership

    from ._policies import (
        ACS_CALL,
        ACS_CALL_TIMEOUT,
        CALLBACK,
        CALLBACK_DEADLINE,
        COMPENSATION,
        COMPENSATION_TIMEOUT,
        CONFIGURE_BATCH,
        CONFIGURE_CONCURRENCY,
        HOLD_MARGIN,
        LRO_DEADLINE,
        MAX_HOLD_RENEWALS,
        POLL,
        REMINDER_BEFORE,
    )

__all__ = ["ProvisionNumbersWorkflow"]

REJECTED = "Rejected"
SETTLE_PURCHASE_BY_HOLD = "settle-purchase-by-hold"
"""Patch: the purchase compensation asks ACS whether a purchase of the hold is in flight."""
CANCEL_AFTER_OUTCOME_IGNORED = "cancel-after-outcome-ignored"
"""Patch: a cancel that arrives once the outcome is decided (callbacks draining) is ignored."""
OPERATOR_INTERVENTIONS = "operator-interventions"
CONFIGURE_IN_BATCHES = "configure-in-batches"
"""Patch: capabilities are set by one activity per batch of numbers, not two per number."""
"""Patch: a failed step after the purchase, or a failed compensation, waits for an operator."""
_STEP_ACTIONS = (InterventionKind.RETRY, InterventionKind.SKIP, InterventionKind.ABORT)
_COMPENSATION_ACTIONS = (InterventionKind.RETRY, InterventionKind.ABANDON)
_WAIT = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED


class _Compensation(NamedTuple):
    """One registered undo: ``step`` labels its metric, ``name`` is what an operator reads."""

    step: str
    """``hold``, ``numbers`` or ``route``."""
    name: str
    run: Callable[[], Awaitable[None]]


class _HoldLapsed(Exception):
    """Internal: the purchase found the hold expired; acquire a new one."""


@workflow.defn(name=PROVISION_WORKFLOW_TYPE)
class ProvisionNumbersWorkflow:
    """One ticket's numbers, from hold to routed, or back to nothing."""

    @workflow.init
    def __init__(self, request: ProvisionRequest) -> None:
        self._request = request
        self._stage = Stage.RESERVING
        self._outcome: Stage | None = None
        self._hold: HoldResult | None = None
        self._numbers: tuple[str, ...] = ()
        self._approvals: list[ApprovalRecord] = []
        self._approved_cost: Decimal | None = None
        self._decision: str | None = None
        self._decision_note: str | None = None
        self._pending: list[tuple[str, str, str | None]] = []
        """Decisions accepted by a validator, not yet applied: (decision, approver, note)."""
        self._ignored: list[str] = []
        self._route: RouteResult | None = None
        self._errors: list[str] = []
        self._left: list[str] = []
        self._timeline: list[TimelineEntry] = []
        self._compensations: list[_Compensation] = []
        self._callbacks: list[CallbackInput] = []
        self._callback_sender: asyncio.Task[None] | None = None
        self._callbacks_refused = False
        self._interventions_on = False
        self._stage_since = workflow.now()
        self._attention: Attention | None = None
        self._interventions: list[Intervention] = []
        """Accepted interventions, consumed by the parked step in order."""
        self._refused: list[str] = []
        self._skipped: list[str] = []
        self._trunks: tuple[TrunkSpec, ...] | None = None
        """Trunks an operator's retry of routing gave instead of the request's."""
        self._failed_compensations: list[_Compensation] = []
        self._last_compensation_failure: BaseException | None = None

    # -- the run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: ProvisionRequest) -> ProvisionResult:
        """Provision, or compensate and report why not."""
        # Asked once, at the start: a run that began on older code (and may be waiting for
        # its approval right now) keeps compensating at once, as it was started to.
        self._interventions_on = workflow.patched(OPERATOR_INTERVENTIONS)
        _count(metrics.PROVISIONINGS_STARTED)
        workflow.upsert_search_attributes(
            [TICKET_ID.value_set(request.ticket_id), COUNTRY_CODE.value_set(request.country_code)]
        )
        if request.callback_url is not None:
            self._callback_sender = asyncio.create_task(self._send_callbacks())
        self._enter(Stage.RESERVING)
        try:
            result = await self._provision()
        except BaseException as error:  # CancelledError is not an Exception
            if not isinstance(error, asyncio.CancelledError | FailureError):
                raise  # a bug: fail the workflow task, fix, redeploy; nothing to undo yet
            return await self._unwind(error)
        await self._drain_callbacks()
        return result

    async def _provision(self) -> ProvisionResult:
        await self._acquire_hold()
        await self._approve()
        # The clock is consulted once, after the (possibly days-long) wait; after that only the
        # service's answer counts, so a skew between our clock and ACS's cannot loop forever.
        lapsed = self._hold_is_lapsed()
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
                break
            except _HoldLapsed:
                lapsed = True
        if self._interventions_on:
            await self._step("configuring", self._configure)
            await self._step("routing", self._attach_route)
        else:  # runs started before the patch compensate at once
            await self._configure()
            await self._attach_route()
        outcome = Stage.COMPLETED_WITH_SKIPS if self._skipped else Stage.COMPLETED
        self._enter(outcome)
        self._outcome = outcome
        _count(metrics.PROVISIONINGS_ENDED, outcome=outcome.value)
        hold = self._hold
        if hold is not None:
            cents = int(hold.monthly_cost * 100)
            _count(metrics.MONTHLY_COST_COMMITTED, cents, currency=hold.currency)
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
                decided = await self._await_operator(step, failed, _STEP_ACTIONS, timeout_action)
            if decided.action is InterventionKind.RETRY:
                if decided.trunks is not None:
                    self._trunks = decided.trunks
                continue
            if decided.action is InterventionKind.SKIP:
                self._skipped.append(step)
                return
            raise failed  # abort: compensate, as a failure

    async def _await_operator(
        self,
        step: str,
        failure: BaseException,
        actions: tuple[InterventionKind, ...],
        timeout_action: InterventionKind,
    ) -> Intervention:
        """Park in ``needs_attention`` until an intervention or the deadline; return it."""
        resume = self._stage
        deadline = workflow.now() + self._request.attention_deadline
        code = _error_code(failure)
        self._attention = Attention(
            step=step,
            error_code=code,
            message=_describe(failure),
            actions=actions,
            since=workflow.now(),
            deadline=deadline,
        )
        self._errors.append(f"{step} failed: {_describe(failure)}")
        self._enter(Stage.NEEDS_ATTENTION, f"{step} failed ({code}); waiting for an operator")
        _count(metrics.NEEDS_ATTENTION, step=step, error_code=code)
        workflow.logger.info(
            "ticket %s needs attention: %s failed (%s)", self._request.ticket_id, step, code
        )
        reminder_at = deadline - min(REMINDER_BEFORE, self._request.attention_deadline / 2)
        arrived = await self._wait_intervention(reminder_at)
        if not arrived:
            self._enter(
                Stage.NEEDS_ATTENTION,
                f"reminder: {step} still waits for an operator; at {deadline.isoformat()} it "
                f"will {timeout_action.value}",
            )
            arrived = await self._wait_intervention(deadline)
        if not arrived:
            self._interventions.append(
                Intervention(action=timeout_action, by="deadline", reason="nobody decided in time")
            )
        decided = self._interventions.pop(0)
        self._attention = None
        why = f": {decided.reason}" if decided.reason else ""
        self._enter(resume, f"{step}: {decided.action.value} by {decided.by}{why}")
        workflow.logger.info(
            "ticket %s: %s of %s by %s",
            self._request.ticket_id,
            decided.action.value,
            step,
            decided.by,
        )
        return decided

    async def _wait_intervention(self, until: Any) -> bool:
        timeout = until - workflow.now()
        if timeout.total_seconds() <= 0:
            return bool(self._interventions)
        try:
            await workflow.wait_condition(lambda: bool(self._interventions), timeout=timeout)
        except TimeoutError:
            return False
        return True

    @workflow.signal(name="intervene")
    def intervene_signal(self, intervention: Intervention) -> None:
        """Retry, skip, abort or abandon by signal (``temporal workflow signal``, tickets).

        A signal cannot be refused: one that does not fit the current state is recorded in
        ``refused_interventions`` and the timeline, and changes nothing else.
        """
        refusal = intervention_refusal(self._attention, intervention)
        if refusal is not None:
            entry = f"{intervention.action.value} by {intervention.by}: {refusal}"
            self._refused.append(entry)
            self._note(f"refused {entry}")
            return
        self._interventions.append(intervention)

    @workflow.update
    def intervene(self, intervention: Intervention) -> ProvisionStatus:
        """Retry, skip, abort or abandon a parked step; validated before it is written."""
        self._interventions.append(intervention)
        return self.status()

    @intervene.validator
    def _validate_intervene(self, intervention: Intervention) -> None:
        refusal = intervention_refusal(self._attention, intervention)
        if refusal is not None:
            raise ValueError(refusal)

    # -- holds ---------------------------------------------------------------------------------

    async def _acquire_hold(self) -> None:
        request = self._request
        self._enter(Stage.RESERVING)
        hold_id = str(workflow.uuid4())
        if request.hold_strategy is HoldStrategy.RESERVATION:
            self._register(
                "hold",
                f"release reservation {hold_id}",
                self._release_hold(HoldStrategy.RESERVATION, hold_id),
            )
            hold = await workflow.execute_activity_method(
                PhoneNumberActivities.acquire_reservation,
                HoldInput(request=request, hold_id=hold_id),
                # a browse and a PATCH per 20 numbers: a large ticket takes many rounds
                start_to_close_timeout=ACS_CALL_TIMEOUT * (3 + request.quantity // 20),
                retry_policy=ACS_CALL,
                cancellation_type=_WAIT,
            )
        else:
            search = await workflow.execute_activity_method(
                PhoneNumberActivities.begin_search,
                HoldInput(request=request, hold_id=hold_id),
                start_to_close_timeout=ACS_CALL_TIMEOUT,
                retry_policy=ACS_CALL,
                cancellation_type=_WAIT,
            )
            self._register(
                "hold",
                "let the search hold lapse",
                self._release_hold(HoldStrategy.SEARCH, str(search.resource_id)),
            )
            self._raise_if_cancelled()
            self._expect_success(await self._poll(search), "search")
            hold = await workflow.execute_activity_method(
                PhoneNumberActivities.get_search_hold,
                search,
                start_to_close_timeout=ACS_CALL_TIMEOUT,
                retry_policy=ACS_CALL,
            )
        self._hold = hold
        self._numbers = hold.numbers
        self._raise_if_cancelled()
        self._check_stock_and_budget(hold)

    def _check_stock_and_budget(self, hold: HoldResult) -> None:
        request = self._request
        if len(hold.numbers) < request.quantity:
            message = f"only {len(hold.numbers)} of {request.quantity} numbers are in stock"
            if not hold.numbers or request.partial is PartialPolicy.FAIL:
                raise ApplicationError(message, type=OUT_OF_STOCK, non_retryable=True)
            self._note(f"partial: {message}; accepted by the request's policy")
        budget = request.budget
        if budget is not None:
            if budget.currency != hold.currency:
                raise ApplicationError(
                    f"budget is in {budget.currency} but the numbers cost {hold.currency}",
                    type=OVER_BUDGET,
                    non_retryable=True,
                )
            if hold.monthly_cost > budget.max_monthly_cost:
                raise ApplicationError(
                    f"monthly cost {hold.monthly_cost} {hold.currency} exceeds the budget of "
                    f"{budget.max_monthly_cost}",
                    type=OVER_BUDGET,
                    non_retryable=True,
                )

    def _hold_is_lapsed(self) -> bool:
        hold = self._hold
        assert hold is not None
        return hold.expires_at is not None and workflow.now() >= hold.expires_at - HOLD_MARGIN

    async def _renew_hold(self) -> None:
        """Let the lapsed hold go and take a new one; ask again only if it costs more."""
        self._note("hold lapsed; acquiring a new one")
        assert len(self._compensations) == 1, "only the hold is registered before the purchase"
        await self._compensations.pop().run()
        await self._acquire_hold()
        assert self._hold is not None and self._approved_cost is not None
        if self._hold.monthly_cost > self._approved_cost:
            self._note(
                f"new hold costs {self._hold.monthly_cost}, above the approved {self._approved_cost}"
            )
            await self._approve()

    def _release_hold(self, strategy: HoldStrategy, hold_id: str) -> Callable[[], Awaitable[None]]:
        async def release() -> None:
            await workflow.execute_activity_method(
                PhoneNumberActivities.release_hold,
                ReleaseHoldInput(strategy=strategy, hold_id=hold_id),
                start_to_close_timeout=ACS_CALL_TIMEOUT,
                retry_policy=COMPENSATION,
            )

        return release

    # -- approval ------------------------------------------------------------------------------

    async def _approve(self) -> None:
        hold = self._hold
        assert hold is not None
        policy = self._request.approval
        if (
            policy.mode is ApprovalMode.AUTO_UNDER_COST
            and policy.auto_approve_below is not None
            and hold.monthly_cost <= policy.auto_approve_below
        ):
            self._record("auto_approved", "policy", hold.monthly_cost)
            self._approved_cost = hold.monthly_cost
            return
        self._decision = None
        self._enter(Stage.AWAITING_APPROVAL)
        self._apply_pending_decision()  # replay may have run the Update's handler already
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None, timeout=policy.deadline
            )
        except TimeoutError:
            raise ApplicationError(
                f"no decision within {policy.deadline}", type=APPROVAL_EXPIRED, non_retryable=True
            ) from None
        if self._decision == "rejected":
            raise ApplicationError(
                self._decision_note or "rejected", type=REJECTED, non_retryable=True
            )

    @workflow.update
    def approve(self, decision: ApprovalDecision) -> ProvisionStatus:
        """Approve the held numbers at their current cost."""
        self._pending.append(("approved", decision.approver, decision.comment))
        self._apply_pending_decision()
        return self.status()

    @approve.validator
    def _validate_approve(self, decision: ApprovalDecision) -> None:
        self._check_decision_allowed(decision.approver)

    @workflow.update
    def reject(self, rejection: Rejection) -> ProvisionStatus:
        """Reject: the saga releases everything and ends ``rejected``."""
        self._pending.append(("rejected", rejection.approver, rejection.reason))
        self._apply_pending_decision()
        return self.status()

    @reject.validator
    def _validate_reject(self, rejection: Rejection) -> None:
        self._check_decision_allowed(rejection.approver)

    @workflow.signal
    def decide(self, decision: Decision) -> None:
        """Approve or reject by signal: what the CLI and the ingress use (see ``Decision``).

        A signal cannot be refused, so one that comes when no decision can be taken is
        recorded in ``ignored_decisions`` with the reason, and changes nothing else.
        """
        refusal = self._decision_refusal(decision.approver)
        if refusal is not None:
            self._ignored.append(f"{decision.decision.value} by {decision.approver}: {refusal}")
            return
        self._pending.append((decision.decision.value, decision.approver, decision.note))
        self._apply_pending_decision()

    def _check_decision_allowed(self, approver: str) -> None:
        """Refuse before anything is written: wrong stage, second decision, unknown approver."""
        refusal = self._decision_refusal(approver)
        if refusal is not None:
            raise ValueError(refusal)

    def _decision_refusal(self, approver: str) -> str | None:
        decided = self._decision or (self._pending[0][0] if self._pending else None)
        return decision_refusal(self._stage, decided, self._request.approval.approvers, approver)

    def _apply_pending_decision(self) -> None:
        """Apply the oldest accepted decision once the saga is waiting for one.

        A validator only accepts a decision while the saga awaits approval, but replay may
        deliver the accepted Update in the same activation as the hold it decides on, and the
        SDK runs Update handlers first. So a handler only queues the decision, and it is
        applied here, by the handler on a first execution and by the saga when it starts
        waiting on replay: the same outcome in either order.
        """
        hold = self._hold
        if (
            hold is None
            or not self._pending
            or self._decision is not None
            or self._stage is not Stage.AWAITING_APPROVAL
        ):
            return
        decision, approver, note = self._pending.pop(0)
        self._record(decision, approver, hold.monthly_cost, note)
        self._decision = decision
        self._decision_note = note
        if decision == "approved":
            self._approved_cost = hold.monthly_cost

    # -- purchase ------------------------------------------------------------------------------

    async def _purchase(self) -> None:
        hold = self._hold
        assert hold is not None
        self._enter(Stage.PURCHASING)
        purchase = PurchaseInput(
            strategy=hold.strategy,
            hold_id=hold.hold_id,
            numbers=hold.numbers,
            agree_to_not_resell=self._request.agree_to_not_resell,
        )
        started: list[LroHandle] = []
        self._register(
            "numbers", "release purchased numbers", self._release_purchased(purchase, started)
        )
        try:
            handle = await workflow.execute_activity_method(
                PhoneNumberActivities.begin_purchase,
                purchase,
                start_to_close_timeout=ACS_CALL_TIMEOUT,
                retry_policy=ACS_CALL,
                cancellation_type=_WAIT,
            )
        except ActivityError as error:
            if _error_type(error) == HOLD_EXPIRED:
                self._compensations.pop()  # nothing was bought
                raise _HoldLapsed from error
            raise
        started.append(handle)
        self._raise_if_cancelled()
        self._expect_success(await self._poll(handle), "purchase", PURCHASE_FAILED)
        self._numbers = await workflow.execute_activity_method(
            PhoneNumberActivities.owned_numbers,
            ReleaseNumbersInput(numbers=hold.numbers),
            start_to_close_timeout=ACS_CALL_TIMEOUT * 3,
            retry_policy=ACS_CALL,
        )
        await workflow.execute_activity_method(
            SipWriterActivities.record_numbers,
            NumbersOwnership(ticket_id=self._request.ticket_id, numbers=self._numbers),
            start_to_close_timeout=ACS_CALL_TIMEOUT,
            retry_policy=ACS_CALL,
        )
        _count(metrics.NUMBERS_PURCHASED, len(self._numbers))
        if set(self._numbers) != set(hold.numbers):
            raise ApplicationError(
                f"purchase succeeded but {len(hold.numbers) - len(self._numbers)} numbers are not owned",
                type=PURCHASE_FAILED,
                non_retryable=True,
            )

    def _release_purchased(
        self, purchase: PurchaseInput, started: list[LroHandle]
    ) -> Callable[[], Awaitable[None]]:
        async def release() -> None:
            # A purchase still running would own numbers after the release, so it is waited
            # out first. Only ACS knows whether one was accepted: the POST's answer may have
            # been lost, or its result dropped by the cancel that brought us here.
            # The release then touches only numbers still carrying the dates of that purchase:
            # if it is retried after ACS released them, another ticket may own them by then.
            release = ReleaseNumbersInput(numbers=purchase.numbers)
            if workflow.patched(SETTLE_PURCHASE_BY_HOLD):
                owned = await workflow.execute_activity_method(
                    PhoneNumberActivities.settle_purchase,
                    purchase,
                    start_to_close_timeout=ACS_CALL_TIMEOUT,
                    schedule_to_close_timeout=LRO_DEADLINE,
                    retry_policy=POLL,
                )
                release = ReleaseNumbersInput(
                    numbers=purchase.numbers, purchased_at=owned.purchased_at
                )
            else:  # runs started before the patch waited only for the handles they received
                for handle in started:
                    await self._poll(handle, retry_policy=COMPENSATION)
            await workflow.execute_activity_method(
                PhoneNumberActivities.release_numbers,
                release,
                start_to_close_timeout=COMPENSATION_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=COMPENSATION,
            )
            await workflow.execute_activity_method(
                SipWriterActivities.forget_numbers,
                NumbersOwnership(ticket_id=self._request.ticket_id, numbers=purchase.numbers),
                start_to_close_timeout=ACS_CALL_TIMEOUT,
                retry_policy=COMPENSATION,
            )

        return release

    # -- configure -----------------------------------------------------------------------------

    async def _configure(self) -> None:
        wanted = self._request.final_capabilities
        if wanted is None:
            return
        self._enter(Stage.CONFIGURING)
        if workflow.patched(CONFIGURE_IN_BATCHES):
            await self._configure_in_batches(wanted)
            return
        slots = asyncio.Semaphore(CONFIGURE_CONCURRENCY)

        async def configure(number: str) -> None:
            async with slots:
                handle = await workflow.execute_activity_method(
                    PhoneNumberActivities.begin_update_capabilities,
                    CapabilityUpdateInput(phone_number=number, capabilities=wanted),
                    start_to_close_timeout=ACS_CALL_TIMEOUT,
                    retry_policy=ACS_CALL,
                    cancellation_type=_WAIT,
                )
                self._expect_success(
                    await self._poll(handle), "capability update", CAPABILITY_UPDATE_FAILED
                )

        results = await asyncio.gather(
            *(configure(n) for n in self._numbers), return_exceptions=True
        )
        self._raise_if_cancelled()
        for result in results:  # every update has finished; now report the first failure
            if isinstance(result, BaseException):
                raise result

    async def _configure_in_batches(self, wanted: Capabilities) -> None:
        """Batches of numbers in parallel; once all have finished, the failures fail the step."""
        slots = asyncio.Semaphore(CONFIGURE_CONCURRENCY)

        async def configure(batch: tuple[str, ...]) -> CapabilityBatchResult:
            async with slots:
                return await workflow.execute_activity_method(
                    PhoneNumberActivities.update_capabilities,
                    CapabilityBatchInput(phone_numbers=batch, capabilities=wanted),
                    start_to_close_timeout=LRO_DEADLINE,
                    heartbeat_timeout=timedelta(seconds=30),
                    retry_policy=ACS_CALL,
                    cancellation_type=_WAIT,
                )

        numbers = self._numbers
        batches = [
            numbers[i : i + CONFIGURE_BATCH] for i in range(0, len(numbers), CONFIGURE_BATCH)
        ]
        results = await asyncio.gather(*(configure(b) for b in batches), return_exceptions=True)
        self._raise_if_cancelled()
        failures: list[CapabilityFailure] = []
        for result in results:  # every batch has finished; now report what failed
            if isinstance(result, BaseException):
                raise result
            failures += result.failures
        if failures:
            first = failures[0]
            raise ApplicationError(
                f"capability update failed for {len(failures)} of {len(numbers)} numbers: "
                f"{first.error_code}: {first.error_message or 'no message'}",
                {"code": first.error_code},
                type=CAPABILITY_UPDATE_FAILED,
                non_retryable=True,
            )

    # -- routing -------------------------------------------------------------------------------

    async def _attach_route(self) -> None:
        routing = self._request.routing
        if routing is None:
            return
        self._enter(Stage.ROUTING)
        name = self._request.route_name
        compensation = f"detach route {name}"
        if not any(registered.name == compensation for registered in self._compensations):
            self._register("route", compensation, self._detach_route(name))
        self._route = await workflow.execute_activity_method(
            SipWriterActivities.attach_route,
            AttachRouteInput(
                ticket_id=self._request.ticket_id,
                route_name=name,
                numbers=self._numbers,
                trunks=self._trunks or routing.trunks,
            ),
            start_to_close_timeout=ACS_CALL_TIMEOUT * 2,
            retry_policy=ACS_CALL,
            cancellation_type=_WAIT,
        )
        self._raise_if_cancelled()

    def _detach_route(self, name: str) -> Callable[[], Awaitable[None]]:
        async def detach() -> None:
            added = self._route.trunks_added if self._route else ()
            await workflow.execute_activity_method(
                SipWriterActivities.detach_route,
                DetachRouteInput(
                    ticket_id=self._request.ticket_id, route_name=name, trunks_added=added
                ),
                start_to_close_timeout=ACS_CALL_TIMEOUT * 2,
                retry_policy=COMPENSATION,
            )

        return detach

    # -- polling -------------------------------------------------------------------------------

    async def _poll(self, handle: LroHandle, retry_policy: Any = POLL) -> LroOutcome:
        if handle.done:
            return LroOutcome(succeeded=True)
        return await workflow.execute_activity_method(
            PhoneNumberActivities.poll_operation,
            handle,
            start_to_close_timeout=ACS_CALL_TIMEOUT,
            schedule_to_close_timeout=LRO_DEADLINE,
            retry_policy=retry_policy,
        )

    @staticmethod
    def _expect_success(
        outcome: LroOutcome, what: str, error_type: str = PROVISIONING_FAILED
    ) -> None:
        if not outcome.succeeded:
            raise ApplicationError(
                f"{what} failed: {outcome.error_code}: {outcome.error_message or 'no message'}",
                {"code": outcome.error_code},
                type=error_type,
                non_retryable=True,
            )

    # -- compensation --------------------------------------------------------------------------

    def _register(self, step: str, name: str, compensation: Callable[[], Awaitable[None]]) -> None:
        self._compensations.append(_Compensation(step, name, compensation))

    async def _unwind(self, error: BaseException) -> ProvisionResult:
        self._attention = None
        outcome = self._classify(error)
        self._outcome = outcome
        self._errors.append(_describe(error))
        self._enter(outcome)
        self._enter(Stage.COMPENSATING)
        await _unabandonable(self._compensate())
        if self._left and self._parks_compensations():
            await _unabandonable(self._compensation_attention())
        _count(metrics.PROVISIONINGS_ENDED, outcome=outcome.value)
        if self._left:
            _count(metrics.COMPENSATION_FAILED)
            self._enter(Stage.COMPENSATION_FAILED)
            await self._drain_callbacks()
            raise ApplicationError(
                "compensation incomplete; an operator must finish: " + "; ".join(self._left),
                list(self._left),
                type=COMPENSATION_FAILED,
                non_retryable=True,
            )
        self._enter(Stage.COMPENSATED)
        await self._drain_callbacks()
        if outcome in (Stage.REJECTED, Stage.EXPIRED):
            return self._result(outcome, note=self._errors[-1])
        if outcome is Stage.CANCELLED:
            raise asyncio.CancelledError()
        raise ApplicationError(
            self._errors[-1], type=PROVISIONING_FAILED, non_retryable=True
        ) from error

    async def _compensate(self) -> None:
        self._failed_compensations = []
        self._left.clear()
        for compensation in reversed(self._compensations):
            try:
                await compensation.run()
            except (ActivityError, ApplicationError) as failure:
                workflow.logger.error(
                    "compensation %r failed: %s", compensation.name, _describe(failure)
                )
                self._left.append(f"{compensation.name}: {_describe(failure)}")
                _count(metrics.COMPENSATIONS, step=compensation.step, result="failed")
                self._failed_compensations.insert(0, compensation)
                self._last_compensation_failure = failure
            else:
                _count(metrics.COMPENSATIONS, step=compensation.step, result="succeeded")
        self._compensations.clear()

    def _parks_compensations(self) -> bool:
        return self._interventions_on and self._request.on_step_failure is StepFailurePolicy.HOLD

    async def _compensation_attention(self) -> None:
        """Failed compensations wait for an operator: retry them, or abandon (the list stays)."""
        while self._left:
            try:
                assert self._last_compensation_failure is not None
                decided = await self._await_operator(
                    "compensation",
                    self._last_compensation_failure,
                    _COMPENSATION_ACTIONS,
                    InterventionKind.ABANDON,
                )
            except asyncio.CancelledError:
                self._note("cancel while compensation waited for an operator: abandoned")
                return
            if decided.action is InterventionKind.ABANDON:
                return
            self._compensations = self._failed_compensations
            await self._compensate()

    def _classify(self, error: BaseException) -> Stage:
        if isinstance(error, asyncio.CancelledError) or workflow.cancellation_reason() is not None:
            return Stage.CANCELLED
        kind = _error_type(error)
        if kind == REJECTED:
            return Stage.REJECTED
        if kind == APPROVAL_EXPIRED:
            return Stage.EXPIRED
        return Stage.FAILED

    def _raise_if_cancelled(self) -> None:
        """A cancel that arrived while a WAIT_CANCELLATION_COMPLETED step ran is acted on now."""
        if workflow.cancellation_reason() is not None:
            raise asyncio.CancelledError()

    # -- callbacks -----------------------------------------------------------------------------

    async def _send_callbacks(self) -> None:
        """Deliver stage changes in order, each retried with backoff; never fail the saga."""
        while True:
            await workflow.wait_condition(lambda: bool(self._callbacks))
            event = self._callbacks[0]
            try:
                await workflow.execute_activity_method(
                    CallbackActivities.notify_callback,
                    event,
                    start_to_close_timeout=timedelta(seconds=30),
                    schedule_to_close_timeout=CALLBACK_DEADLINE,
                    retry_policy=CALLBACK,
                )
            except ActivityError as failure:
                if _error_type(failure) == CALLBACK_REFUSED:
                    # The URL is outside the allow-list: every later callback would be too.
                    self._errors.append(f"callbacks stopped: {_describe(failure)}")
                    self._callbacks_refused = True
                    self._callbacks.clear()
                    return
                self._errors.append(
                    f"callback for {event.stage.value} not delivered: {_describe(failure)}"
                )
            self._callbacks.pop(0)

    async def _drain_callbacks(self) -> None:
        """Before the run closes, let the pending callbacks go out (bounded).

        The outcome is decided by now, so a cancel that arrives here changes nothing: a
        completed ticket keeps its numbers (a release gives them back), a compensated one has
        nothing left to undo. The cancel is noted and the run ends as it was going to.
        """
        if self._request.callback_url is None:
            return
        deadline = workflow.now() + CALLBACK_DEADLINE
        while True:
            try:
                await workflow.wait_condition(
                    lambda: not self._callbacks, timeout=deadline - workflow.now()
                )
                return
            except TimeoutError:
                self._errors.append(f"{len(self._callbacks)} callbacks were never delivered")
                return
            except asyncio.CancelledError:
                if not workflow.patched(CANCEL_AFTER_OUTCOME_IGNORED):
                    raise  # runs from before the patch ended cancelled here
                self._note(f"cancel requested after the saga ended {self._stage.value}; ignored")

    # -- status --------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> ProvisionStatus:
        """Stage, numbers, cost, approvals, errors and timeline."""
        hold = self._hold
        return ProvisionStatus(
            ticket_id=self._request.ticket_id,
            stage=self._stage,
            outcome=self._outcome,
            numbers=self._numbers,
            monthly_cost=hold.monthly_cost if hold else None,
            currency=hold.currency if hold else None,
            hold_strategy=self._request.hold_strategy,
            hold_id=hold.hold_id if hold else None,
            hold_expires_at=hold.expires_at if hold else None,
            approvals=tuple(self._approvals),
            approved_cost=self._approved_cost,
            approvers=self._request.approval.approvers,
            ignored_decisions=tuple(self._ignored),
            attention=self._attention,
            refused_interventions=tuple(self._refused),
            skipped=tuple(self._skipped),
            route_name=self._route.route_name if self._route else None,
            errors=tuple(self._errors),
            left_for_operator=tuple(self._left),
            timeline=tuple(self._timeline),
        )

    def _enter(self, stage: Stage, note: str | None = None) -> None:
        if self._timeline and self._timeline[-1].stage is stage and note is None:
            return
        now = workflow.now()
        if self._timeline and stage is not self._stage:
            workflow.metric_meter().create_histogram_timedelta(
                metrics.STAGE_SECONDS, "Time spent in a stage", "duration"
            ).record(now - self._stage_since, {"stage": self._stage.value})
        if stage is not self._stage or not self._timeline:
            self._stage_since = now
        self._stage = stage
        self._timeline.append(TimelineEntry(stage=stage, at=workflow.now(), note=note))
        workflow.upsert_search_attributes([PROVISIONING_STAGE.value_set(stage.value)])
        workflow.logger.info("ticket %s: %s", self._request.ticket_id, stage.value)
        if self._request.callback_url is not None and not self._callbacks_refused:
            self._callbacks.append(
                CallbackInput(
                    url=str(self._request.callback_url),
                    ticket_id=self._request.ticket_id,
                    stage=stage,
                    at=workflow.now(),
                    outcome=self._outcome,
                    note=note,
                )
            )

    def _note(self, note: str) -> None:
        self._timeline.append(TimelineEntry(stage=self._stage, at=workflow.now(), note=note))

    def _record(self, decision: str, by: str, cost: Decimal, note: str | None = None) -> None:
        self._approvals.append(
            ApprovalRecord(
                decision=decision, by=by, at=workflow.now(), monthly_cost=cost, note=note
            )
        )

    def _result(self, outcome: Stage, note: str | None = None) -> ProvisionResult:
        hold = self._hold
        return ProvisionResult(
            ticket_id=self._request.ticket_id,
            outcome=outcome,
            numbers=self._numbers
            if outcome in (Stage.COMPLETED, Stage.COMPLETED_WITH_SKIPS)
            else (),
            monthly_cost=hold.monthly_cost if hold else None,
            currency=hold.currency if hold else None,
            route_name=self._route.route_name if self._route else None,
            note=note,
            skipped=tuple(self._skipped),
        )


def _error_type(error: BaseException) -> str | None:
    """The ApplicationError type of an error or of the cause of an activity error."""
    while error is not None:
        if isinstance(error, ApplicationError):
            return error.type
        error = error.__cause__  # type: ignore[assignment]
    return None


def _count(name: str, value: int = 1, **labels: str) -> None:
    """Add to one of numberflow's counters (the SDK skips metrics while replaying)."""
    workflow.metric_meter().create_counter(name).add(value, labels)


async def _unabandonable(work: Awaitable[None]) -> None:
    """Await work to its end: a cancel must not abandon a compensation half way."""
    task = asyncio.ensure_future(work)
    while True:  # shield AND keep awaiting
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            continue


def _error_code(error: BaseException) -> str:
    """The ACS error code of a failure (inner code first), else its error type.

    The code is in the details of the activity's error, or in ``[Code]`` of a message that
    came back through the SIP writer; the chain is searched in that order.
    """
    chain: list[ApplicationError] = []
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError):
            chain.append(current)
        current = current.__cause__
    for failure in chain:
        for detail in failure.details:
            if isinstance(detail, dict) and (detail.get("inner_code") or detail.get("code")):
                return str(detail.get("inner_code") or detail.get("code"))
    for failure in chain:
        bracketed = re.search(r"\[(\w+)\]", failure.message)
        if bracketed:
            return bracketed.group(1)
    return (chain[0].type if chain else None) or type(error).__name__


def _describe(error: BaseException) -> str:
    """A one-line reason with the ACS or business error type, for status and logs."""
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    parts = []
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError):
            parts.append(f"{current.type}: {current.message}")
            break
        if isinstance(current, FailureError):
            parts.append(current.message)
        current = current.__cause__
    return " / ".join(parts) or repr(error)
