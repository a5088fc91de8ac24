"""Approval: rejection, deadline, validators, late approvals after the hold lapsed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from acs import AvailablePhoneNumber, PhoneNumbersClient
from contracts.ids import DECIDE_SIGNAL
from contracts.provision import ApprovalDecision, Decision, DecisionKind, Rejection, Stage
from provisioning import ProvisioningRefused, decide
from tests.world import Saga, base_request
from workflows import ProvisionNumbersWorkflow


async def test_reject_releases_everything(saga: Saga) -> None:
    """A rejection deletes the reservation and buys nothing; the run completes as rejected."""
    handle = await saga.start(base_request())
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    assert len(saga.active_reservations()) == 1
    await handle.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="carol", reason="wrong country")
    )
    result = await handle.result()
    assert result.outcome is Stage.REJECTED and result.numbers == ()
    saga.assert_clean()
    assert "PhoneNumbers_PurchaseReservation" not in saga.state()["requestCounts"]
    status = await saga.status(handle)
    assert status.stage is Stage.COMPENSATED and status.outcome is Stage.REJECTED
    assert status.approvals[0].decision == "rejected"


async def test_deadline_expires(saga: Saga) -> None:
    """No decision before the deadline (time skipped) → expired, compensated, nothing bought."""
    handle = await saga.start(base_request(approval={"deadline": timedelta(hours=72)}))
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    result = await handle.result()  # the time-skipping server jumps the 72 h
    assert result.outcome is Stage.EXPIRED
    saga.assert_clean()


async def test_validators_refuse_before_history(saga: Saga) -> None:
    """Unknown approver, second decision and wrong stage are refused with a reason."""
    request = base_request(approval={"approvers": ["alice"]})
    handle = await saga.start(request)
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="mallory")
        )
    assert "not an approver" in str(caught.value.cause)
    await handle.execute_update(
        ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="oops")
        )
    assert "already approved" in str(caught.value.cause) or "not awaiting approval" in str(
        caught.value.cause
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert sorted(saga.owned()) == sorted(result.numbers)
    assert saga.state()["requestCounts"]["PhoneNumbers_PurchaseReservation"] == 1
    with pytest.raises(RPCError) as closed:  # the run has ended: the server refuses
        await handle.execute_update(
            ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
        )
    assert closed.value.status is RPCStatusCode.NOT_FOUND  # no run left to take an Update
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED


async def test_auto_approval_under_cost(saga: Saga) -> None:
    """With auto_under_cost and a cheap hold, no human is asked."""
    request = base_request(approval={"mode": "auto_under_cost", "auto_approve_below": "10"})
    result = await (await saga.start(request)).result()
    assert result.outcome is Stage.COMPLETED
    assert len(saga.owned()) == 2


async def test_late_approval_acquires_a_new_hold_without_reapproval(saga: Saga) -> None:
    """Approved 3 h later: the old reservation lapsed; a new one is bought at the approved cost."""
    handle = await saga.start(base_request())
    first = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await saga.env.sleep(timedelta(hours=3))
    saga.emulator.advance(3 * 3600)
    assert saga.active_reservations() == []  # the hold lapsed in the service too
    await handle.execute_update(
        ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    status = await saga.status(handle)
    assert status.hold_id != first.hold_id
    assert len(status.approvals) == 1
    assert sorted(saga.owned()) == sorted(result.numbers)
    assert any(e.note and "hold lapsed" in e.note for e in status.timeline)
    reservations = saga.state()["phoneNumbers"]["reservations"]
    assert sorted(r["status"] for r in reservations) == ["completed", "expired"]


async def test_late_approval_with_higher_cost_asks_again(saga: Saga) -> None:
    """The new hold costs more than approved (more stock now): approval is asked again."""
    async with saga.emulator.phone_numbers() as client:  # leave one 1-844 number in stock
        browse = await client.browse_available_phone_numbers(
            country_code="US", phone_number_type="tollFree", phone_number_prefixes=["1844"]
        )
        await client.create_or_update_reservation(
            reservation_id=uuid.uuid4(), numbers_to_add=browse.phone_numbers[:19]
        )
        left = [n async for n in _available(client)]
        blocker = uuid.uuid4()
        await client.create_or_update_reservation(reservation_id=blocker, numbers_to_add=left[1:])
    request = base_request(phone_number_prefixes=["1844"], partial="accept")
    handle = await saga.start(request)
    first = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    assert len(first.numbers) == 1
    await saga.env.sleep(timedelta(hours=3))
    saga.emulator.advance(3 * 3600)  # every hold lapses, the blocker's too: stock is back
    await handle.execute_update(
        ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
    )
    again = await saga.wait_for(
        handle,
        lambda s: (
            s.stage is Stage.AWAITING_APPROVAL
            and len(s.approvals) == 1
            and s.hold_id != first.hold_id
        ),
    )
    assert again.monthly_cost is not None and first.monthly_cost is not None
    assert again.monthly_cost > first.monthly_cost == again.approved_cost
    await handle.execute_update(
        ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and len(result.numbers) == 2
    assert sorted(saga.owned()) == sorted(result.numbers)


async def _available(client: PhoneNumbersClient) -> AsyncIterator[AvailablePhoneNumber]:
    browse = await client.browse_available_phone_numbers(
        country_code="US", phone_number_type="tollFree", phone_number_prefixes=["1844"]
    )
    for number in browse.phone_numbers:
        yield number


async def test_decisions_by_signal_follow_the_same_rule(dev_saga: Saga) -> None:
    """The CLI's path: checked against the status, signalled, confirmed. A decision that
    cannot be taken is refused before the signal, or ignored (and recorded) by the saga."""
    saga = dev_saga
    request = base_request(approval={"approvers": ["alice", "bob"]})
    handle = await saga.start(request)
    with pytest.raises(ProvisioningRefused, match="not awaiting approval"):
        await decide(
            saga.client,
            request.ticket_id,
            Decision(decision=DecisionKind.APPROVED, approver="alice"),
        )
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    with pytest.raises(ProvisioningRefused, match="not an approver"):
        await decide(
            saga.client, request.ticket_id, Decision(decision=DecisionKind.APPROVED, approver="eve")
        )
    await handle.signal(  # a tool that only signals, without checking first
        DECIDE_SIGNAL, Decision(decision=DecisionKind.APPROVED, approver="eve")
    )
    sent = await decide(
        saga.client,
        request.ticket_id,
        Decision(decision=DecisionKind.APPROVED, approver="bob", note="ok"),
    )
    assert sent.applied and sent.status.approvals[-1].by == "bob"
    await handle.signal(  # a second decision that raced the first
        DECIDE_SIGNAL,
        Decision(decision=DecisionKind.REJECTED, approver="alice", note="too late"),
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and sorted(saga.owned()) == sorted(result.numbers)
    status = await saga.status(handle)
    assert [a.by for a in status.approvals] == ["bob"]
    assert status.ignored_decisions[0] == "approved by eve: 'eve' is not an approver of this ticket"
    assert status.ignored_decisions[1].startswith("rejected by alice: ")


async def test_a_cancel_while_a_renewal_releases_the_old_hold_still_releases_it(
    saga: Saga,
) -> None:
    """The hold is about to lapse when approval comes: the saga lets it go to take a new one.

    A cancel that lands while that release runs abandons it (its attempt fails, and a cancelled
    activity is not retried); the old hold's undo must still be on the stack for the
    compensation, or the reservation stays active, holding its numbers for nobody.
    """
    handle = await saga.start(base_request())
    first = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await saga.env.sleep(timedelta(minutes=14, seconds=30))  # ours lapsed; ACS still holds it
    assert [r["id"] for r in saga.active_reservations()] == [first.hold_id]
    old = f"/reservations/{first.hold_id}"
    slow_read = saga.emulator.app.emulator.faults.add(
        {"method": "GET", "path": old, "times": 1, "action": {"type": "latency", "seconds": 1.0}}
    )
    saga.fault(
        {"method": "DELETE", "path": old, "times": 1, "action": {"type": "status", "status": 503}}
    )
    await handle.signal(DECIDE_SIGNAL, Decision(decision=DecisionKind.APPROVED, approver="alice"))
    async with asyncio.timeout(30):
        while slow_read.fired == 0:  # the renewal's release is reading the old hold
            await asyncio.sleep(0.01)
    await handle.cancel()
    status = await saga.wait_for(handle, lambda s: s.stage is Stage.COMPENSATED)
    assert any(e.note and "hold lapsed" in e.note for e in status.timeline)
    assert saga.active_reservations() == []
