"""The numbers a saga holds while a human approves: a reservation or a search, and its undo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities
    from contracts.activities import HoldInput, HoldResult, LroHandle, ReleaseHoldInput
    from contracts.error_types import OUT_OF_STOCK, OVER_BUDGET
    from contracts.provision import HoldStrategy, PartialPolicy, ProvisionRequest, Stage
    from contracts.quota import QuotaKind

    from ._compensation import CompensationStack
    from ._journal import Journal
    from ._operations import expect_success, poll, raise_if_cancelled
    from ._policies import (
        ACS_CALL_TIMEOUT,
        ACS_STEP,
        HOLD_MARGIN,
        SIDE_EFFECT_STEP,
        UNDO_STEP,
        adjusted,
    )
    from ._quota import QuotaGate

__all__ = ["Holds"]


class Holds:
    """Takes holds for one request, each with its undo registered before it exists."""

    def __init__(
        self,
        request: ProvisionRequest,
        journal: Journal,
        undo: CompensationStack,
        quota: QuotaGate,
    ):
        self._request = request
        self._journal = journal
        self._undo = undo
        self._quota = quota

    async def acquire(self) -> HoldResult:
        """A new hold on the request's numbers (not yet checked against stock and budget).

        Each search or browse is one of the tenant's limited searches: it is made once the
        quota keeper admits it, and a reservation is topped up one browse per admission only
        while browsing offers numbers (the service offers a sample of about 20 per browse).
        """
        request = self._request
        self._journal.enter(Stage.RESERVING)
        hold_id = str(workflow.uuid4())
        if request.hold_strategy is HoldStrategy.RESERVATION:
            self._undo.push(
                "hold",
                f"release reservation {hold_id}",
                _release_hold(HoldStrategy.RESERVATION, hold_id),
            )
            while True:
                hold = await self._quota.spend(
                    QuotaKind.SEARCHES,
                    Stage.RESERVING,
                    lambda limited: self._reserve(hold_id, limited),
                )
                if not hold.browses_left or len(hold.numbers) >= request.quantity:
                    return hold
                self._journal.note(
                    f"holding {len(hold.numbers)} of {request.quantity}; browsing again within "
                    "the tenant's budget"
                )
        search = await self._quota.spend(
            QuotaKind.SEARCHES, Stage.RESERVING, lambda _: self._begin_search(hold_id)
        )
        self._undo.push(
            "hold",
            "let the search hold lapse",
            _release_hold(HoldStrategy.SEARCH, str(search.resource_id)),
        )
        raise_if_cancelled()
        expect_success(await poll(search), "search")
        return await workflow.execute_activity_method(
            PhoneNumberActivities.get_search_hold, search, **ACS_STEP
        )

    async def _reserve(self, hold_id: str, limited: bool) -> HoldResult:
        """Browse and reserve: once when the tenant's searches are limited, else until full."""
        request = self._request
        self._journal.enter(Stage.RESERVING)
        return await workflow.execute_activity_method(
            PhoneNumberActivities.acquire_reservation,
            HoldInput(request=request, hold_id=hold_id, browses=1 if limited else None),
            # a browse and a PATCH per 20 numbers: a large ticket takes many rounds
            **adjusted(
                SIDE_EFFECT_STEP,
                start_to_close_timeout=ACS_CALL_TIMEOUT * (3 + request.quantity // 20),
            ),
        )

    async def _begin_search(self, hold_id: str) -> LroHandle:
        self._journal.enter(Stage.RESERVING)
        return await workflow.execute_activity_method(
            PhoneNumberActivities.begin_search,
            HoldInput(request=self._request, hold_id=hold_id),
            **SIDE_EFFECT_STEP,
        )

    def check_stock_and_budget(self, hold: HoldResult) -> None:
        """Fail for good on too few numbers (unless partial is fine) or too high a cost."""
        request = self._request
        if len(hold.numbers) < request.quantity:
            message = f"only {len(hold.numbers)} of {request.quantity} numbers are in stock"
            if not hold.numbers or request.partial is PartialPolicy.FAIL:
                raise ApplicationError(message, type=OUT_OF_STOCK, non_retryable=True)
            self._journal.note(f"partial: {message}; accepted by the request's policy")
        budget = request.budget
        if budget is None:
            return
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

    @staticmethod
    def is_lapsed(hold: HoldResult) -> bool:
        """Whether the hold is (about to be) gone by the workflow's clock."""
        return hold.expires_at is not None and workflow.now() >= hold.expires_at - HOLD_MARGIN


def _release_hold(strategy: HoldStrategy, hold_id: str) -> Callable[[], Awaitable[None]]:
    async def release() -> None:
        await workflow.execute_activity_method(
            PhoneNumberActivities.release_hold,
            ReleaseHoldInput(strategy=strategy, hold_id=hold_id),
            **UNDO_STEP,
        )

    return release
