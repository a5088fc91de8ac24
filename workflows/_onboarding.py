"""Numbers from outside: claimed by name (ported, specially ordered) or delivered to an order.

numberflow did not buy these numbers, so it never releases them on its own: the claim records
in the ledger what each number could do before, and the undo gives the numbers back as they
were (capabilities restored, claim given up), leaving them in the resource.

A manual order waits, possibly for weeks, for deliveries (the ``deliver`` signal). The signal
only queues a delivery; the saga takes queued deliveries in order once it waits for them, so
the outcome does not depend on which activation a delivery arrived in. Each delivery is
checked before it changes anything: a number not in the resource, another ticket's, or beyond
the order is refused and recorded with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities, SipWriterActivities
    from contracts.activities import (
        CapabilityBatchInput,
        NumberOnRecord,
        NumbersInspection,
        ReleaseNumbersInput,
    )
    from contracts.error_types import (
        CAPABILITY_UPDATE_FAILED,
        NUMBER_CLAIMED,
        NUMBERS_NOT_DELIVERED,
        NUMBERS_NOT_IN_RESOURCE,
    )
    from contracts.provision import (
        AttentionTimeoutAction,
        Capabilities,
        Delivery,
        DeliveryRecord,
        ManualOrder,
        NumberSource,
        ProvisionRequest,
        Stage,
    )
    from contracts.sip import NumbersClaim, NumbersOwnership, OnboardedNumber

    from ._compensation import CompensationStack
    from ._failures import error_message, error_type
    from ._journal import Journal
    from ._operations import raise_if_cancelled
    from ._policies import (
        ACS_CALL_TIMEOUT,
        ACS_STEP,
        HEARTBEAT,
        LRO_DEADLINE,
        REMINDER_BEFORE,
        SIDE_EFFECT_STEP,
        UNDO_STEP,
        adjusted,
    )

__all__ = ["Onboarding", "Quote"]

_GIVE_BACK = "give back claimed numbers"


class Quote:
    """What an approver is shown for numbers not bought here: their cost, if known yet."""

    def __init__(self, monthly_cost: Decimal | None) -> None:
        self.monthly_cost = monthly_cost


class Onboarding:
    """The ticket's numbers from outside: what was claimed (with its earlier capabilities)."""

    def __init__(
        self, request: ProvisionRequest, journal: Journal, undo: CompensationStack
    ) -> None:
        self._request = request
        self._journal = journal
        self._undo = undo
        self.claimed: dict[str, OnboardedNumber] = {}
        self.quote: Quote | None = None
        self.currency: str | None = None
        self.order: ManualOrder | None = None
        self.deliveries: list[DeliveryRecord] = []
        self._queued: list[Delivery] = []
        self._closed = False
        """The saga no longer waits for deliveries: a new one is refused at once."""
        self._reconfigured = False
        """Capabilities may have changed (configuring began): the undo restores them."""

    @property
    def numbers(self) -> tuple[str, ...]:
        """The numbers claimed so far, in the order they were claimed."""
        return tuple(self.claimed)

    # -- source: existing ----------------------------------------------------------------------

    async def claim_named(self) -> None:
        """Check every named number, then claim them all, or change nothing and fail."""
        inspection = await self._inspect(self._request.numbers)
        if inspection.missing:
            raise ApplicationError(
                f"{len(inspection.missing)} of the {len(self._request.numbers)} numbers are "
                f"not in the ACS resource: {', '.join(inspection.missing)}",
                type=NUMBERS_NOT_IN_RESOURCE,
                non_retryable=True,
            )
        await self._claim(inspection.owned)
        self.quote = Quote(inspection.monthly_cost)
        self.currency = inspection.currency

    # -- source: manual_order ------------------------------------------------------------------

    def record_order(self) -> None:
        """Write down what was ordered and when; the wait's deadline starts when it begins."""
        request = self._request
        now = workflow.now()
        self.order = ManualOrder(
            quantity=request.quantity,
            country_code=request.country_code,
            phone_number_type=request.phone_number_type,
            capabilities=request.capabilities,
            phone_number_prefixes=request.phone_number_prefixes,
            ordered_at=now,
            deadline=now + request.attention_deadline,
        )
        self.quote = Quote(None)
        self._journal.note(
            f"manual order recorded: {request.quantity} {request.phone_number_type.value} "
            f"number(s) in {request.country_code}"
        )

    async def await_deliveries(self) -> None:
        """Take deliveries until the order is complete, or its deadline says otherwise.

        A reminder goes out before the deadline; at the deadline the attention policy decides:
        ``skip`` goes on with the numbers delivered so far (if any), ``abort`` ends the saga
        ``expired`` (the numbers delivered are given back).
        """
        assert self.order is not None
        deadline = workflow.now() + self._request.attention_deadline
        self.order = self.order.model_copy(update={"deadline": deadline})
        reminder_at = deadline - min(REMINDER_BEFORE, self._request.attention_deadline / 2)
        self._journal.enter(
            Stage.AWAITING_NUMBERS, f"waiting for {self._missing()} number(s) to be delivered"
        )
        reminded = False
        while self._missing() > 0:
            until = deadline if reminded else reminder_at
            if not await self._delivery_by(until):
                if reminded:
                    break
                reminded = True
                self._journal.enter(
                    Stage.AWAITING_NUMBERS,
                    f"reminder: {self._missing()} number(s) still to be delivered; at "
                    f"{deadline.isoformat()} the order will "
                    f"{self._request.attention_timeout_action.value}",
                )
                continue
            await self._take(self._queued.pop(0))
        self._close()
        if self._missing() == 0:
            return
        skip = self._request.attention_timeout_action is AttentionTimeoutAction.SKIP
        if skip and self.claimed:
            self._journal.note(
                f"deadline: going on with {len(self.claimed)} of {self._request.quantity} numbers"
            )
            return
        raise ApplicationError(
            f"{len(self.claimed)} of {self._request.quantity} ordered numbers were delivered "
            f"by the deadline {deadline.isoformat()}",
            type=NUMBERS_NOT_DELIVERED,
            non_retryable=True,
        )

    def hear(self, delivery: Delivery) -> None:
        """A delivery by signal: queued for the wait, or refused once the wait is over."""
        if self._request.source is not NumberSource.MANUAL_ORDER:
            self._refuse_all(delivery, "this ticket is not a manual order")
            return
        if self._closed:
            self._refuse_all(delivery, f"the saga no longer waits for numbers ({self._stage()})")
            return
        self._queued.append(delivery)

    def _missing(self) -> int:
        return self._request.quantity - len(self.claimed)

    def _stage(self) -> str:
        return f"stage is {self._journal.stage.value}"

    async def _delivery_by(self, until: datetime) -> bool:
        timeout = until - workflow.now()
        if timeout.total_seconds() <= 0:
            return bool(self._queued)
        try:
            await workflow.wait_condition(lambda: bool(self._queued), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _take(self, delivery: Delivery) -> None:
        """Check one delivery and claim what passes; record what was accepted and refused."""
        if any(d.delivery_id == delivery.delivery_id for d in self.deliveries):
            return  # the same delivery sent again: already taken
        refused: list[str] = []
        fresh: list[str] = []
        for number in delivery.numbers:
            if number in self.claimed:
                continue  # delivered before: nothing to do
            if len(fresh) >= self._missing():
                refused.append(f"{number}: beyond the order of {self._request.quantity}")
                continue
            fresh.append(number)
        if fresh:
            owners = await workflow.execute_activity_method(
                SipWriterActivities.owners_of, ReleaseNumbersInput(numbers=tuple(fresh)), **ACS_STEP
            )
            taken = {n: t for n, t in owners.items() if t != self._request.ticket_id}
            refused += [f"{n}: belongs to ticket {t}" for n, t in taken.items()]
            inspection = await self._inspect(tuple(n for n in fresh if n not in taken))
            refused += [f"{n}: not in the ACS resource" for n in inspection.missing]
            if inspection.owned:
                try:
                    await self._claim(inspection.owned)
                except ActivityError as error:
                    if error_type(error) != NUMBER_CLAIMED:
                        raise
                    why = error_message(error)  # claimed by another ticket since: all refused
                    refused += [f"{o.phone_number}: {why}" for o in inspection.owned]
        accepted = tuple(n for n in delivery.numbers if n in self.claimed)
        self.deliveries.append(
            DeliveryRecord(
                delivery_id=delivery.delivery_id,
                by=delivery.by,
                at=workflow.now(),
                accepted=accepted,
                refused=tuple(refused),
            )
        )
        self._journal.note(
            f"delivery {delivery.delivery_id} by {delivery.by}: {len(accepted)} accepted, "
            f"{len(refused)} refused; {len(self.claimed)} of {self._request.quantity} delivered"
        )

    def _close(self) -> None:
        """No more deliveries are waited for: those queued and not taken are refused."""
        self._closed = True
        for delivery in self._queued:
            self._refuse_all(delivery, "the order was complete or its deadline had passed")
        self._queued.clear()

    def _refuse_all(self, delivery: Delivery, why: str) -> None:
        if any(d.delivery_id == delivery.delivery_id for d in self.deliveries):
            return
        self.deliveries.append(
            DeliveryRecord(
                delivery_id=delivery.delivery_id,
                by=delivery.by,
                at=workflow.now(),
                refused=tuple(f"{n}: {why}" for n in delivery.numbers),
            )
        )

    # -- claims and their undo -----------------------------------------------------------------

    async def _inspect(self, numbers: tuple[str, ...]) -> NumbersInspection:
        if not numbers:
            return NumbersInspection()
        return await workflow.execute_activity_method(
            PhoneNumberActivities.inspect_numbers,
            ReleaseNumbersInput(numbers=numbers),
            **adjusted(
                ACS_STEP,
                start_to_close_timeout=ACS_CALL_TIMEOUT * 3,
                heartbeat_timeout=HEARTBEAT,
            ),
        )

    async def _claim(self, owned: tuple[NumberOnRecord, ...]) -> None:
        """Claim the numbers in the ledger, with their capabilities now.

        Refused, with nothing changed, if another ticket owns one (``NumberClaimed``, naming it).
        """
        if _GIVE_BACK not in self._undo:
            self._undo.push("numbers", _GIVE_BACK, self._give_back)
        source = self._request.source
        records = tuple(
            OnboardedNumber(
                number=n.phone_number,
                source=source,
                capabilities_before=n.capabilities,
                claimed_at=workflow.now(),
            )
            for n in owned
        )
        await workflow.execute_activity_method(
            SipWriterActivities.claim_numbers,
            NumbersClaim(ticket_id=self._request.ticket_id, numbers=records),
            **SIDE_EFFECT_STEP,
        )
        self.claimed.update({r.number: r for r in records})
        raise_if_cancelled()

    def reconfiguring(self) -> None:
        """Configuring begins: from now on the undo restores what the numbers could do."""
        self._reconfigured = True

    async def _give_back(self) -> None:
        """The undo: the capabilities each number had when claimed, then the claim given up.

        The numbers stay in the resource: numberflow did not buy them and never releases them
        on its own.
        """
        if self._reconfigured and self.claimed:
            await restore_capabilities(tuple(self.claimed.values()))
        asked = {*self._request.numbers, *(n for d in self.deliveries for n in d.accepted)}
        await workflow.execute_activity_method(
            SipWriterActivities.forget_numbers,
            NumbersOwnership(
                ticket_id=self._request.ticket_id, numbers=tuple(sorted(asked | set(self.claimed)))
            ),
            **UNDO_STEP,
        )


async def restore_capabilities(numbers: tuple[OnboardedNumber, ...]) -> None:
    """Give each number the capabilities it had when claimed (one activity per kind)."""
    by_capabilities: dict[Capabilities, list[str]] = defaultdict(list)
    for onboarded in numbers:
        by_capabilities[onboarded.capabilities_before].append(onboarded.number)
    for capabilities, group in by_capabilities.items():
        result = await workflow.execute_activity_method(
            PhoneNumberActivities.update_capabilities,
            CapabilityBatchInput(phone_numbers=tuple(group), capabilities=capabilities),
            **adjusted(UNDO_STEP, start_to_close_timeout=LRO_DEADLINE, heartbeat_timeout=HEARTBEAT),
        )
        if result.failures:
            first = result.failures[0]
            raise ApplicationError(
                f"restoring capabilities failed for {len(result.failures)} numbers: "
                f"{first.error_code}: {first.error_message or 'no message'}",
                type=CAPABILITY_UPDATE_FAILED,
                non_retryable=True,
            )
