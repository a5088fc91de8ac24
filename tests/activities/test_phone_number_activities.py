"""The phone-number activities alone (``ActivityEnvironment``) against the in-process emulator:
each branch a retry, an expiry or a fault sends them down, and what ACS holds afterwards."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities import PhoneNumberActivities
from contracts.activities import (
    CapabilityBatchInput,
    HoldInput,
    HoldResult,
    PurchaseInput,
    ReleaseNumbersInput,
)
from contracts.error_types import (
    ACS_NOT_FOUND,
    ACS_SERVER,
    ACS_VALIDATION,
    HOLD_EXPIRED,
    OPERATION_PENDING,
)
from contracts.provision import Capabilities, HoldStrategy, ProvisionRequest
from tests.conftest import EmulatorEnv

REQUEST = ProvisionRequest.model_validate(
    {
        "ticket_id": "T-activities",
        "country_code": "US",
        "phone_number_type": "tollFree",
        "assignment_type": "application",
        "capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
        "quantity": 2,
    }
)


def environment() -> ActivityEnvironment:
    """An activity environment whose first attempt was scheduled just now (the poll anchor)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, scheduled_time=datetime.now(UTC))
    return env


async def add_fault(env: EmulatorEnv, rule: dict[str, object]) -> None:
    async with env.admin() as admin:
        assert (await admin.post("/faults", json=rule)).status_code == 201


async def reserve(activities: PhoneNumberActivities) -> HoldResult:
    hold = HoldInput(request=REQUEST, hold_id=str(uuid.uuid4()))
    return await environment().run(activities.acquire_reservation, hold)


def purchase_of(hold: HoldResult) -> PurchaseInput:
    return PurchaseInput(
        strategy=HoldStrategy.RESERVATION,
        hold_id=hold.hold_id,
        numbers=hold.numbers,
        agree_to_not_resell=True,
    )


async def test_a_retried_reservation_returns_the_first_one(asgi_env: EmulatorEnv) -> None:
    """The retry of an attempt that reserved (and lost its answer) finds its reservation."""
    hold_id = str(uuid.uuid4())
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        first = await environment().run(
            activities.acquire_reservation, HoldInput(request=REQUEST, hold_id=hold_id)
        )
        again = await environment().run(
            activities.acquire_reservation, HoldInput(request=REQUEST, hold_id=hold_id)
        )
    assert again == first and len(first.numbers) == 2
    reservations = asgi_env.state["phoneNumbers"]["reservations"]
    assert [r["id"] for r in reservations] == [hold_id]


async def test_buying_an_expired_reservation_is_hold_expired(asgi_env: EmulatorEnv) -> None:
    """A reservation that lapsed during the approval is HoldExpired, for good (not retried)."""
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        hold = await reserve(activities)
        asgi_env.advance(16 * 60)
        with pytest.raises(ApplicationError) as caught:
            await environment().run(activities.begin_purchase, purchase_of(hold))
    assert caught.value.type == HOLD_EXPIRED and caught.value.non_retryable
    assert asgi_env.state["phoneNumbers"]["purchasedNumbers"] == []


async def test_a_second_purchase_attempt_follows_the_first(asgi_env: EmulatorEnv) -> None:
    """A retried purchase (the first answer was lost) returns the first one's operation: one
    purchase of the hold reaches ACS, and the numbers are bought once."""
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        hold = await reserve(activities)
        first = await environment().run(activities.begin_purchase, purchase_of(hold))
        again = await environment().run(activities.begin_purchase, purchase_of(hold))
        assert again.operation_id == first.operation_id
        asgi_env.advance(1)
        outcome = await environment().run(activities.poll_operation, first)
    assert outcome.succeeded
    state = asgi_env.state["phoneNumbers"]
    assert state["purchasePosts"] == {hold.hold_id: 1}
    assert sorted(p["phoneNumber"] for p in state["purchasedNumbers"]) == sorted(hold.numbers)


async def test_a_running_operation_is_pending_with_its_next_poll(asgi_env: EmulatorEnv) -> None:
    """While ACS works, the poll raises the benign OperationPending with the next poll's
    delay on the schedule (the retries are the polling loop); once done it returns."""
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        hold = await reserve(activities)
        handle = await environment().run(activities.begin_purchase, purchase_of(hold))
        pending = environment()
        pending.info = dataclasses.replace(pending.info, attempt=2)  # no first-poll wait
        with pytest.raises(ApplicationError) as caught:
            await pending.run(activities.settle_purchase, purchase_of(hold))
        assert caught.value.type == OPERATION_PENDING
        assert caught.value.category is ApplicationErrorCategory.BENIGN
        with pytest.raises(ApplicationError) as polled:
            await pending.run(activities.poll_operation, handle)
        assert polled.value.type == OPERATION_PENDING
        delay = polled.value.next_retry_delay
        assert delay is not None and 0 < delay.total_seconds() <= 2.0
        asgi_env.advance(1)
        settled = await pending.run(activities.settle_purchase, purchase_of(hold))
    assert sorted(settled.purchased_at) == sorted(hold.numbers)


async def test_a_failed_operation_is_an_outcome_not_an_error(asgi_env: EmulatorEnv) -> None:
    """ACS ending the purchase ``failed`` is reported with its code, for the saga to decide."""
    await add_fault(
        asgi_env,
        {
            "operation": "PhoneNumbers_PurchaseReservation",
            "times": 1,
            "action": {"type": "lroFail"},
        },
    )
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        hold = await reserve(activities)
        handle = await environment().run(activities.begin_purchase, purchase_of(hold))
        asgi_env.advance(1)
        outcome = await environment().run(activities.poll_operation, handle)
    assert not outcome.succeeded and outcome.error_code
    assert asgi_env.state["phoneNumbers"]["purchasedNumbers"] == []


@pytest.mark.parametrize(
    ("status", "code", "error_type", "retryable"),
    [
        (503, "ServiceUnavailable", ACS_SERVER, True),
        (400, "BadRequest", ACS_VALIDATION, False),
        (404, "NotFound", ACS_NOT_FOUND, False),
    ],
)
async def test_acs_errors_are_retryable_or_not_by_kind(
    asgi_env: EmulatorEnv, status: int, code: str, error_type: str, retryable: bool
) -> None:
    """A 5xx is retried by Temporal; a 4xx fails the step at once, with ACS's type."""
    await add_fault(
        asgi_env,
        {
            "operation": "PhoneNumbers_BrowseAvailableNumbers",
            "times": 1,
            "action": {"type": "status", "status": status, "code": code},
        },
    )
    async with asgi_env.phone_numbers() as client:
        with pytest.raises(ApplicationError) as caught:
            await reserve(PhoneNumberActivities(client))
    assert caught.value.type == error_type
    assert caught.value.non_retryable is not retryable
    reservations = asgi_env.state["phoneNumbers"]["reservations"]
    assert all(not r["phoneNumbers"] for r in reservations)  # nothing held


async def test_a_capability_batch_heartbeats_and_skips_what_is_done(
    asgi_env: EmulatorEnv,
) -> None:
    """One activity updates a batch, heartbeating as it goes; run again, it changes nothing."""
    wanted = Capabilities.model_validate({"calling": "inbound", "sms": "inbound+outbound"})
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        hold = await reserve(activities)
        handle = await environment().run(activities.begin_purchase, purchase_of(hold))
        asgi_env.advance(1)
        assert (await environment().run(activities.poll_operation, handle)).succeeded
        batch = CapabilityBatchInput(phone_numbers=hold.numbers, capabilities=wanted)
        beats: list[object] = []
        env = environment()
        env.on_heartbeat = lambda *details: beats.append(details)
        result = await env.run(activities.update_capabilities, batch)
        again = await environment().run(activities.update_capabilities, batch)
        owned = await environment().run(
            activities.ownership, ReleaseNumbersInput(numbers=hold.numbers)
        )
    assert result.failures == () and again.failures == ()
    assert beats[:2] == [(0,), (1,)]  # one per number looked at, then while waiting
    assert sorted(owned.purchased_at) == sorted(hold.numbers)
    numbers = asgi_env.state["phoneNumbers"]["purchasedNumbers"]
    assert {n["capabilities"]["calling"] for n in numbers} == {"inbound"}
    updates = [
        o for o in asgi_env.state["phoneNumbers"]["operations"] if o["kind"] == "capabilities"
    ]
    assert len(updates) == 2  # the second run found them done
