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
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import CallbackActivities, PhoneNumberActivities, SipWriterActivities
    from contracts.activities import (
        AttachRouteInput,
        CallbackInput,
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
    from contracts.provision import (
        ApprovalDecision,
        ApprovalMode,
        ApprovalRecord,
        Decision,
        HoldStrategy,
        PartialPolicy,
        ProvisionRequest,
        ProvisionResult,
        ProvisionStatus,
        Rejection,
        Stage,
        TimelineEntry,
        decision_refusal,
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
        CONFIGURE_CONCURRENCY,
        HOLD_MARGIN,
        LRO_DEADLINE,
        MAX_HOLD_RENEWALS,
        POLL,
    )

__all__ = ["ProvisionNumbersWorkflow"]

REJECTED = "Rejected"
SETTLE_PURCHASE_BY_HOLD = "settle-purchase-by-hold"
"""Patch: the purchase compensation asks ACS whether a purchase of the hold is in flight."""
CANCEL_AFTER_OUTCOME_IGNORED = "cancel-after-outcome-ignored"
"""Patch: a cancel that arrives once the outcome is decided (callbacks draining) is ignored."""
_WAIT = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED


class _HoldLapsed(Exception):
    """Internal: the purchase found the hold expired; acquire a new one."""


@workflow.defn
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
        self._compensations: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._callbacks: list[CallbackInput] = []
        self._callback_sender: asyncio.Task[None] | None = None
        self._callbacks_refused = False

    # -- the run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: ProvisionRequest) -> ProvisionResult:
        """Provision, or compensate and report why not."""
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
        await self._configure()
        await self._attach_route()
        self._enter(Stage.COMPLETED)
        self._outcome = Stage.COMPLETED
        return self._result(Stage.COMPLETED)

    # -- holds ---------------------------------------------------------------------------------

    async def _acquire_hold(self) -> None:
        request = self._request
        self._enter(Stage.RESERVING)
        hold_id = str(workflow.uuid4())
        if request.hold_strategy is HoldStrategy.RESERVATION:
            self._register(
                f"release reservation {hold_id}",
                self._release_hold(HoldStrategy.RESERVATION, hold_id),
            )
            hold = await workflow.execute_activity_method(
                PhoneNumberActivities.acquire_reservation,
                HoldInput(request=request, hold_id=hold_id),
                start_to_close_timeout=ACS_CALL_TIMEOUT * 3,
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
        _, release = self._compensations.pop()
        await release()
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
        self._register("release purchased numbers", self._release_purchased(purchase, started))
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

    # -- routing -------------------------------------------------------------------------------

    async def _attach_route(self) -> None:
        routing = self._request.routing
        if routing is None:
            return
        self._enter(Stage.ROUTING)
        name = self._request.route_name
        self._register(f"detach route {name}", self._detach_route(name))
        self._route = await workflow.execute_activity_method(
            SipWriterActivities.attach_route,
            AttachRouteInput(
                ticket_id=self._request.ticket_id,
                route_name=name,
                numbers=self._numbers,
                trunks=routing.trunks,
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

    def _register(self, name: str, compensation: Callable[[], Awaitable[None]]) -> None:
        self._compensations.append((name, compensation))

    async def _unwind(self, error: BaseException) -> ProvisionResult:
        outcome = self._classify(error)
        self._outcome = outcome
        self._errors.append(_describe(error))
        self._enter(outcome)
        self._enter(Stage.COMPENSATING)
        task = asyncio.create_task(self._compensate())
        while True:  # shield AND keep awaiting: a cancel must not abandon the compensation
            try:
                await asyncio.shield(task)
                break
            except asyncio.CancelledError:
                continue
        if self._left:
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
        for name, compensation in reversed(self._compensations):
            try:
                await compensation()
            except (ActivityError, ApplicationError) as failure:
                workflow.logger.error("compensation %r failed: %s", name, _describe(failure))
                self._left.append(f"{name}: {_describe(failure)}")
        self._compensations.clear()

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
            route_name=self._route.route_name if self._route else None,
            errors=tuple(self._errors),
            left_for_operator=tuple(self._left),
            timeline=tuple(self._timeline),
        )

    def _enter(self, stage: Stage, note: str | None = None) -> None:
        if self._timeline and self._timeline[-1].stage is stage and note is None:
            return
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
            numbers=self._numbers if outcome is Stage.COMPLETED else (),
            monthly_cost=hold.monthly_cost if hold else None,
            currency=hold.currency if hold else None,
            route_name=self._route.route_name if self._route else None,
            note=note,
        )


def _error_type(error: BaseException) -> str | None:
    """The ApplicationError type of an error or of the cause of an activity error."""
    while error is not None:
        if isinstance(error, ApplicationError):
            return error.type
        error = error.__cause__  # type: ignore[assignment]
    return None


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
