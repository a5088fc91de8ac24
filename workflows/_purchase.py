"""The saga's purchase: buy what the hold holds, exactly once, with its undo registered first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities, SipWriterActivities
    from contracts import metrics
    from contracts.activities import HoldResult, LroHandle, PurchaseInput, ReleaseNumbersInput
    from contracts.error_types import ACS_QUOTA_EXCEEDED, HOLD_EXPIRED, PURCHASE_FAILED
    from contracts.provision import ProvisionRequest
    from contracts.sip import NumbersOwnership

    from ._compensation import CompensationStack
    from ._failures import error_type
    from ._metrics import count
    from ._operations import expect_success, poll, raise_if_cancelled
    from ._policies import (
        ACS_CALL_TIMEOUT,
        ACS_STEP,
        COMPENSATION,
        POLL_STEP,
        RELEASE_STEP,
        SIDE_EFFECT_STEP,
        UNDO_STEP,
        adjusted,
    )

__all__ = ["SETTLE_PURCHASE_BY_HOLD", "HoldLapsed", "Purchase"]

SETTLE_PURCHASE_BY_HOLD = "settle-purchase-by-hold"
"""Patch: the purchase compensation asks ACS whether a purchase of the hold is in flight."""
_RELEASE_PURCHASED = "release purchased numbers"


class HoldLapsed(Exception):
    """The purchase found the hold expired: nothing was bought; acquire a new one."""


class Purchase:
    """One purchase of one hold; ``owned`` says which numbers it bought so far."""

    def __init__(
        self,
        request: ProvisionRequest,
        hold: HoldResult,
        undo: CompensationStack,
        release_by_hand: Callable[[tuple[str, ...]], Awaitable[None]],
    ):
        self._ticket_id = request.ticket_id
        self._release_by_hand = release_by_hand
        """How numbers only Microsoft's service desk releases are waited for (an operator)."""
        self._hold = hold
        self._undo = undo
        self._input = PurchaseInput(
            strategy=hold.strategy,
            hold_id=hold.hold_id,
            numbers=hold.numbers,
            agree_to_not_resell=request.agree_to_not_resell,
        )
        self._started: LroHandle | None = None

    async def buy(self, owned: Callable[[tuple[str, ...]], None]) -> None:
        """Buy; ``owned`` hears which numbers the resource owns as soon as ACS says so.

        Raises ``HoldLapsed`` when ACS refused because the hold had expired.
        """
        hold = self._hold
        self._undo.push("numbers", _RELEASE_PURCHASED, self._release)
        try:
            handle = await workflow.execute_activity_method(
                PhoneNumberActivities.begin_purchase, self._input, **SIDE_EFFECT_STEP
            )
        except ActivityError as error:
            if error_type(error) in (HOLD_EXPIRED, ACS_QUOTA_EXCEEDED):
                self._undo.discard(_RELEASE_PURCHASED)  # nothing was bought
            if error_type(error) == HOLD_EXPIRED:
                raise HoldLapsed from error
            raise
        self._started = handle
        raise_if_cancelled()
        expect_success(await poll(handle), "purchase", PURCHASE_FAILED)
        numbers = await workflow.execute_activity_method(
            PhoneNumberActivities.owned_numbers,
            ReleaseNumbersInput(numbers=hold.numbers),
            **adjusted(ACS_STEP, start_to_close_timeout=ACS_CALL_TIMEOUT * 3),
        )
        owned(numbers)
        await workflow.execute_activity_method(
            SipWriterActivities.record_numbers,
            NumbersOwnership(ticket_id=self._ticket_id, numbers=numbers),
            **ACS_STEP,
        )
        count(metrics.NUMBERS_PURCHASED, len(numbers))
        if set(numbers) != set(hold.numbers):
            raise ApplicationError(
                f"purchase succeeded but {len(hold.numbers) - len(numbers)} numbers are not owned",
                type=PURCHASE_FAILED,
                non_retryable=True,
            )

    async def _release(self) -> None:
        """The undo: wait out a purchase in flight, then release what it bought.

        A purchase still running would own numbers after the release. Only ACS knows whether
        one was accepted: the POST's answer may have been lost, or its result dropped by the
        cancel that brought us here. The release then touches only numbers still carrying the
        dates of that purchase: if it is retried after ACS released them, another ticket may
        own them by then.
        """
        purchase = self._input
        release = ReleaseNumbersInput(numbers=purchase.numbers)
        if workflow.patched(SETTLE_PURCHASE_BY_HOLD):
            settled = await workflow.execute_activity_method(
                PhoneNumberActivities.settle_purchase, purchase, **POLL_STEP
            )
            release = ReleaseNumbersInput(
                numbers=purchase.numbers, purchased_at=settled.purchased_at
            )
        elif self._started is not None:
            # runs started before the patch waited only for the handle they received
            await poll(self._started, retry_policy=COMPENSATION)
        released = await workflow.execute_activity_method(
            PhoneNumberActivities.release_numbers, release, **RELEASE_STEP
        )
        by_hand = released.by_service_desk
        await workflow.execute_activity_method(
            SipWriterActivities.forget_numbers,
            NumbersOwnership(
                ticket_id=self._ticket_id,
                numbers=tuple(n for n in purchase.numbers if n not in by_hand),
            ),
            **UNDO_STEP,
        )
        if by_hand:
            await self._release_by_hand(by_hand)
