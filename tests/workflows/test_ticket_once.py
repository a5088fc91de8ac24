"""A ticket is provisioned once: late cancels and redeliveries never buy twice or undo a ticket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import WorkflowExecutionStatus

from contracts.provision import ProvisionResult, Stage
from contracts.signing import SIGNATURE_HEADER, verify
from provisioning import ProvisioningRefused, cancel_provisioning, start_provisioning
from tests.loopback import LoopbackServer
from tests.world import CALLBACK_SECRET, Saga, base_request

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}
PURCHASE = "PhoneNumbers_PurchaseReservation"


class HeldBackReceiver:
    """A callback receiver that refuses the ``completed`` callback until released."""

    def __init__(self) -> None:
        self.open = False
        self.refused_completed = 0
        self.app = Starlette(routes=[Route("/callbacks", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        verify(request.headers.get(SIGNATURE_HEADER), body, [CALLBACK_SECRET], now=time.time())
        event: dict[str, Any] = await request.json()
        if event["stage"] == "completed" and not self.open:
            self.refused_completed += 1
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"ok": True})


async def test_a_cancel_while_callbacks_drain_leaves_the_ticket_completed(dev_saga: Saga) -> None:
    """Completed, callbacks pending, then a raw cancel (as from the Web UI) and a redelivery.

    The run still ends COMPLETED with its numbers and route, and the redelivered ``created``
    answers with that run instead of starting a second one: the numbers are bought once.
    """
    saga = dev_saga
    receiver = HeldBackReceiver()
    with LoopbackServer(receiver.app) as server:
        request = base_request(callback_url=f"{server.url}/callbacks", approval=AUTO)
        handle = await saga.start(request)
        await saga.wait_for(
            handle, lambda s: s.stage is Stage.COMPLETED and receiver.refused_completed > 0
        )
        with pytest.raises(ProvisioningRefused, match="already ended completed.*release it"):
            await cancel_provisioning(saga.client, request.ticket_id)
        await handle.cancel()  # what a refusal at the edge cannot stop: a cancel from elsewhere
        status = await saga.wait_for(
            handle, lambda s: any("ignored" in (e.note or "") for e in s.timeline)
        )
        assert status.outcome is Stage.COMPLETED
        receiver.open = True
        result: ProvisionResult = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
    assert sorted(saga.owned()) == sorted(result.numbers) and len(result.numbers) == 2
    assert len(saga.routes()) == 1

    again = await start_provisioning(saga.client, request, saga.task_queue)
    assert not again.started and again.status == "COMPLETED"
    assert again.run_id == handle.result_run_id
    assert saga.state()["requestCounts"][PURCHASE] == 1
    assert sorted(saga.owned()) == sorted(result.numbers)


async def test_a_cancelled_ticket_is_not_revived_by_a_redelivery(dev_saga: Saga) -> None:
    """Cancelled while awaiting approval, then ``created`` again: no new hold, no new run."""
    saga = dev_saga
    request = base_request()
    first = await start_provisioning(saga.client, request, saga.task_queue)
    assert first.started
    handle = saga.client.get_workflow_handle(first.workflow_id)
    saga.handles.append(handle)
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await cancel_provisioning(saga.client, request.ticket_id)
    await saga.wait_stage(handle, Stage.COMPENSATED)
    await asyncio.wait_for(_closed(handle), timeout=20)

    again = await start_provisioning(saga.client, request, saga.task_queue)
    assert not again.started and again.status == "CANCELED"
    assert again.run_id == first.run_id
    with pytest.raises(ProvisioningRefused, match="only a failed provisioning can be retried"):
        await start_provisioning(saga.client, request, saga.task_queue, retry=True)
    with pytest.raises(ProvisioningRefused, match="already ended cancelled"):
        await cancel_provisioning(saga.client, request.ticket_id)
    assert saga.state()["requestCounts"]["PhoneNumbers_CreateOrUpdateReservation"] >= 1
    assert len(saga.state()["phoneNumbers"]["reservations"]) == 0  # no new hold taken
    saga.assert_clean()


async def test_only_a_failed_ticket_can_be_re_driven(dev_saga: Saga) -> None:
    """A failed, compensated ticket may be retried by an operator; the retry starts a new run."""
    saga = dev_saga
    request = base_request(
        routing={"trunks": [{"fqdn": "sbc.unverified.net"}]},
        approval=AUTO,
        on_step_failure="compensate",
    )
    first = await start_provisioning(saga.client, request, saga.task_queue)
    handle = saga.client.get_workflow_handle(first.workflow_id)
    saga.handles.append(handle)
    await saga.failure(handle)
    saga.assert_clean()
    retried = await start_provisioning(saga.client, request, saga.task_queue, retry=True)
    assert retried.started and retried.run_id != first.run_id
    with pytest.raises(ProvisioningRefused, match="is running"):
        await start_provisioning(saga.client, request, saga.task_queue, retry=True)
    from tests.cli.test_commands import as_json, cli

    earlier: list[dict[str, Any]] = []
    for _ in range(50):  # visibility is eventually consistent
        code, out, err = await cli(saga, "status", request.ticket_id, "--json")
        assert code == 0, err
        earlier = as_json(out)["earlier_runs"]
        if earlier:
            break
        await asyncio.sleep(0.2)
    assert [(r["run_id"], r["status"]) for r in earlier] == [(first.run_id, "FAILED")]
    code, out, _ = await cli(saga, "status", request.ticket_id)
    assert f"earlier run {first.run_id}: failed" in out


async def _closed(handle: Any) -> None:
    while (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
        await asyncio.sleep(0.05)
