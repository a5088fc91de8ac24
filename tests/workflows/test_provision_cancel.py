"""Cancellation at every stage: compensation always completes and leaves the emulator clean."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError

from contracts.provision import ProvisionStatus, Stage
from emulator import EmulatorConfig
from tests.world import SLOW_LRO_SECONDS, Saga, base_request


@contextlib.asynccontextmanager
async def clock_running(saga: Saga, step: float) -> AsyncIterator[None]:
    """Advance the emulator's clock in the background so long LROs finish (bounded)."""

    async def tick() -> None:
        for _ in range(600):
            saga.emulator.advance(step)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def cancel_and_settle(saga: Saga, handle: WorkflowHandle[Any, Any]) -> ProvisionStatus:
    """Cancel, wait (without skipping time) until compensation ended, check the run's end."""
    await handle.cancel()
    status = await saga.wait_for(
        handle, lambda s: s.stage in (Stage.COMPENSATED, Stage.COMPENSATION_FAILED), timeout=60
    )
    cause = await saga.failure(handle)
    assert isinstance(cause, CancelledError | ApplicationError)
    return status


async def test_cancel_while_reserving(saga: Saga) -> None:
    """Cancelled while the reservation is being made: the reservation is deleted after it."""
    saga.fault(
        {
            "operation": "PhoneNumbers_BrowseAvailableNumbers",
            "times": 1,
            "action": {"type": "latency", "seconds": 1.0},
        }
    )
    handle = await saga.start(base_request())
    await saga.wait_for(
        handle,
        lambda s: saga.state()["requestCounts"].get("PhoneNumbers_BrowseAvailableNumbers", 0) > 0,
    )
    status = await cancel_and_settle(saga, handle)
    assert status.outcome is Stage.CANCELLED
    saga.assert_clean()
    assert saga.held() == 0


async def test_cancel_while_awaiting_approval(saga: Saga) -> None:
    """Cancelled while waiting for a human: the hold is released."""
    handle = await saga.start(base_request())
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    status = await cancel_and_settle(saga, handle)
    assert status.outcome is Stage.CANCELLED and saga.held() == 0
    saga.assert_clean()


@pytest.fixture
def emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """A slow LRO (emulated minutes) for the tests that cancel mid-operation."""
    if request.node.get_closest_marker("slow_lro") is not None:
        return EmulatorConfig(lro_seconds=600.0)
    return EmulatorConfig(lro_seconds=0.0)


@pytest.mark.slow_lro
async def test_cancel_mid_purchase(saga: Saga) -> None:
    """Cancelled while the purchase LRO runs: it is waited out, then the numbers are released."""
    handle = await saga.start(base_request())
    await saga.approve(handle)
    await saga.wait_for(
        handle,
        lambda s: saga.state()["requestCounts"].get("PhoneNumbers_PurchaseReservation", 0) > 0,
    )
    assert saga.owned() == []  # still running
    async with clock_running(saga, 300):
        status = await cancel_and_settle(saga, handle)
    assert status.outcome is Stage.CANCELLED
    saga.assert_clean()
    assert saga.state()["requestCounts"]["PhoneNumbers_ReleasePhoneNumber"] >= 2


async def test_cancel_while_configuring(saga: Saga) -> None:
    """Cancelled during capability updates: they finish, then the numbers are released."""
    saga.fault(
        {
            "operation": "PhoneNumbers_UpdateCapabilities",
            "action": {"type": "latency", "seconds": 0.5},
        }
    )
    handle = await saga.start(base_request())
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.CONFIGURING)
    status = await cancel_and_settle(saga, handle)
    assert status.outcome is Stage.CANCELLED
    saga.assert_clean()


async def test_cancel_while_routing(saga: Saga) -> None:
    """Cancelled while the route is written: the write completes, then it is removed."""
    saga.fault({"operation": "SipRouting_Update", "action": {"type": "latency", "seconds": 0.5}})
    handle = await saga.start(base_request())
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.ROUTING)
    status = await cancel_and_settle(saga, handle)
    assert status.outcome is Stage.CANCELLED
    saga.assert_clean()
    assert saga.state()["sip"]["trunks"] == {}  # the trunk the saga added is gone too


async def test_cancel_while_compensating(saga: Saga) -> None:
    """A cancel during compensation does not cut it short; the run ends with its failure."""
    saga.fault(
        {
            "operation": "PhoneNumbers_ReleasePhoneNumber",
            "action": {"type": "latency", "seconds": 0.5},
        }
    )
    handle = await saga.start(
        base_request(
            routing={"trunks": [{"fqdn": "sbc.unverified.net"}]}, on_step_failure="compensate"
        )
    )
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.COMPENSATING)
    await handle.cancel()
    status = await saga.wait_for(handle, lambda s: s.stage is Stage.COMPENSATED, timeout=60)
    assert status.outcome is Stage.FAILED
    cause = await saga.failure(handle)
    assert isinstance(cause, ApplicationError) and "MissingDomain" in cause.message
    saga.assert_clean()


async def test_cancel_while_a_lost_purchase_answer_is_retried(slow_lro_saga: Saga) -> None:
    """The purchase POST is accepted but its answer is lost; a cancel stops the retries.

    No handle ever reached the workflow, yet ACS is buying. The compensation must find that
    purchase by the hold's id, wait for it, and release what it bought: nothing is orphaned.
    """
    saga = slow_lro_saga
    purchase = "PhoneNumbers_PurchaseReservation"
    saga.fault({"operation": purchase, "times": 1, "action": {"type": "latency", "seconds": 2}})
    saga.fault({"operation": purchase, "times": 1, "action": {"type": "drop", "when": "after"}})
    handle = await saga.start(base_request())
    await saga.approve(handle)
    await saga.wait_for(handle, lambda s: saga.state()["requestCounts"].get(purchase, 0) > 0)
    await asyncio.sleep(1)
    status = await cancel_and_settle(saga, handle)
    assert status.outcome is Stage.CANCELLED
    assert saga.state()["requestCounts"][purchase] == 1  # the cancel stopped the retries
    saga.emulator.advance(SLOW_LRO_SECONDS)  # any purchase still running finishes now
    saga.assert_clean()
