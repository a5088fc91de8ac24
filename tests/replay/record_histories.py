"""Record the replay corpus: run real sagas against the emulator and save their histories.

Run after a deliberate, versioned change to the workflow (and commit the new files next to the
old ones; old histories must keep replaying):

    .venv/bin/python -m tests.replay.record_histories [scenario ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts.ids import DELIVER_SIGNAL, release_workflow_id
from contracts.operations import ReleaseRequest
from contracts.provision import Delivery, Intervention, ProvisionStatus, Rejection, Stage
from contracts.quota import QuotaGrant, QuotaLimits, quota_keeper_id
from contracts.sip import DetachRouteRequest, sip_workflow_id
from emulator import EmulatorConfig
from namespace_setup import register_search_attributes
from provisioning import intervene
from tests.loopback import LoopbackServer
from tests.world import TEST_SERVER, Saga, base_request, make_saga
from workflows import (
    ProvisionNumbersWorkflow,
    QuotaKeeperWorkflow,
    ReleaseNumbersWorkflow,
    SipRoutingWorkflow,
)

HISTORIES = Path(__file__).parent / "histories"


async def happy_reservation(saga: Saga) -> str:
    handle = await saga.start(base_request(ticket_id="REPLAY-happy-reservation"))
    await saga.approve(handle)
    await handle.result()
    return handle.id


async def happy_search(saga: Saga) -> str:
    request = base_request(ticket_id="REPLAY-happy-search", hold_strategy="search", quantity=1)
    handle = await saga.start(request)
    await saga.approve(handle)
    await handle.result()
    return handle.id


async def rejected(saga: Saga) -> str:
    handle = await saga.start(base_request(ticket_id="REPLAY-rejected"))
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="not needed")
    )
    await handle.result()
    return handle.id


async def compensated(saga: Saga) -> str:
    request = base_request(
        ticket_id="REPLAY-compensated", routing={"trunks": [{"fqdn": "sbc.unverified.net"}]}
    )
    handle = await saga.start(request)
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.COMPENSATED)
    return handle.id


async def cancelled(saga: Saga) -> str:
    handle = await saga.start(base_request(ticket_id="REPLAY-cancelled"))
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.cancel()
    await saga.wait_stage(handle, Stage.COMPENSATED)
    return handle.id


async def released(saga: Saga) -> str:
    handle = await saga.start(base_request(ticket_id="REPLAY-released"))
    await saga.approve(handle)
    await handle.result()
    release = await saga.client.start_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(ticket_id="REPLAY-released"),
        id=release_workflow_id("REPLAY-released"),
        task_queue=saga.task_queue,
    )
    await release.result()
    return release.id


async def sip_writer(saga: Saga) -> str:
    for ticket in ("REPLAY-sip-1", "REPLAY-sip-2"):
        handle = await saga.start(base_request(ticket_id=ticket, quantity=1))
        await saga.approve(handle)
        await handle.result()
    return sip_workflow_id(saga.emulator.endpoint)


async def batched(saga: Saga) -> str:
    """A routed saga on today's paths: capabilities set in batches (patched), its numbers and
    route submitted to the SIP writer by signal and answered by group commit."""
    handle = await saga.start(base_request(ticket_id="REPLAY-batched"))
    await saga.approve(handle)
    await handle.result()
    return handle.id


async def sip_writer_group_commit(saga: Saga) -> str:
    """The writer's side of group commit: submissions by signal from three sagas at once,
    committed in batches and answered by one activity each batch."""
    handles = [
        await saga.start(base_request(ticket_id=f"REPLAY-group-{i}", quantity=1)) for i in range(3)
    ]
    for handle in handles:
        await saga.approve(handle)
    for handle in handles:
        await handle.result()
    return sip_workflow_id(saga.emulator.endpoint)


async def with_callbacks(saga: Saga) -> str:
    receiver = Starlette(
        routes=[Route("/cb", lambda _: JSONResponse({"ok": True}), methods=["POST"])]
    )
    with LoopbackServer(receiver) as server:
        request = base_request(ticket_id="REPLAY-callbacks", callback_url=f"{server.url}/cb")
        handle = await saga.start(request)
        await saga.approve(handle)
        await handle.result()
    return handle.id


async def cancelled_in_purchase(saga: Saga) -> str:
    """Cancelled while buying: the compensation settles the hold's purchase (patched)."""
    saga.fault(
        {
            "operation": "PhoneNumbers_PurchaseReservation",
            "times": 1,
            "action": {"type": "latency", "seconds": 1.0},
        }
    )
    handle = await saga.start(base_request(ticket_id="REPLAY-cancelled-in-purchase"))
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.PURCHASING)
    await handle.cancel()
    await saga.wait_stage(handle, Stage.COMPENSATED)
    return handle.id


async def cancel_after_completion(saga: Saga) -> str:
    """Completed, the last callback pending, then a cancel: noted and ignored (patched)."""
    held = {"open": False}

    async def receive(request: Request) -> JSONResponse:
        event = await request.json()
        if event["stage"] == "completed" and not held["open"]:
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"ok": True})

    with LoopbackServer(Starlette(routes=[Route("/cb", receive, methods=["POST"])])) as server:
        request = base_request(
            ticket_id="REPLAY-cancel-after-completion", callback_url=f"{server.url}/cb"
        )
        handle = await saga.start(request)
        await saga.approve(handle)
        await saga.wait_stage(handle, Stage.COMPLETED)
        await handle.cancel()
        await saga.wait_for(handle, lambda s: any("ignored" in (e.note or "") for e in s.timeline))
        held["open"] = True
        await handle.result()
    return handle.id


async def sip_writer_ownership(saga: Saga) -> str:
    """A route written, a detach by a ticket that does not own it (patched: left alone)."""
    handle = await saga.start(base_request(ticket_id="REPLAY-owner", quantity=1))
    await saga.approve(handle)
    await handle.result()
    writer = saga.client.get_workflow_handle(sip_workflow_id(saga.emulator.endpoint))
    await writer.execute_update(
        SipRoutingWorkflow.detach_route,
        DetachRouteRequest(ticket_id="REPLAY-thief", route_name="ticket-REPLAY-owner"),
    )
    return writer.id


async def _parked_on_routing(saga: Saga, ticket: str) -> str:
    request = base_request(
        ticket_id=ticket,
        routing={"trunks": [{"fqdn": "sbc.unverified.net"}]},
        approval={"mode": "auto_under_cost", "auto_approve_below": "100"},
    )
    handle = await saga.start(request)
    await saga.wait_stage(handle, Stage.NEEDS_ATTENTION)
    return handle.id


async def attention_retried(saga: Saga) -> str:
    """Routing parked on MissingDomain; the domain verified; retried by signal (patched)."""
    workflow_id = await _parked_on_routing(saga, "REPLAY-attention-retried")
    saga.emulator.app.emulator.sip.domains["unverified.net"] = {"enabled": True}
    await intervene(saga.client, "REPLAY-attention-retried", Intervention(action="retry", by="ops"))
    await saga.client.get_workflow_handle(workflow_id).result()
    return workflow_id


async def attention_skipped(saga: Saga) -> str:
    """Routing parked; skipped: completed_with_skips."""
    workflow_id = await _parked_on_routing(saga, "REPLAY-attention-skipped")
    await intervene(
        saga.client,
        "REPLAY-attention-skipped",
        Intervention(action="skip", by="ops", reason="no SBC yet"),
    )
    await saga.client.get_workflow_handle(workflow_id).result()
    return workflow_id


async def compensation_retried(saga: Saga) -> str:
    """Routing parked; aborted; the release fails once, parks, and is retried clean."""
    ticket = "REPLAY-compensation-retried"
    saga.fault(
        {
            "operation": "PhoneNumbers_ReleasePhoneNumber",
            "times": 1,
            "action": {"type": "status", "status": 403, "code": "InsufficientPermissions"},
        }
    )
    workflow_id = await _parked_on_routing(saga, ticket)
    handle = saga.client.get_workflow_handle(workflow_id)
    await intervene(saga.client, ticket, Intervention(action="abort", by="ops", reason="no"))
    await saga.wait_for(handle, lambda s: s.attention is not None)
    await intervene(saga.client, ticket, Intervention(action="retry", by="ops"))
    with contextlib.suppress(WorkflowFailureError):  # aborted: compensated, ends failed
        await handle.result()
    return workflow_id


async def renewed(saga: Saga) -> str:
    """Approved after the hold lapsed: the old hold is let go and a new one bought."""
    handle = await saga.start(base_request(ticket_id="REPLAY-renewed"))
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await saga.env.sleep(timedelta(hours=3))
    saga.emulator.advance(3 * 3600)
    await saga.approve(handle)
    await handle.result()
    return handle.id


async def quota_queued(saga: Saga) -> tuple[str, ...]:
    """One search a week: the second saga waits for budget, a grant admits it, it completes."""
    first = await saga.start(base_request(ticket_id="REPLAY-quota-first"))
    await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
    handle = await saga.start(base_request(ticket_id="REPLAY-quota-queued"))
    await saga.wait_stage(handle, Stage.AWAITING_QUOTA)
    keeper = saga.client.get_workflow_handle(quota_keeper_id(saga.emulator.endpoint))
    await keeper.execute_update(
        QuotaKeeperWorkflow.grant, QuotaGrant(searches=5, purchases=5, by="ops")
    )
    await saga.approve(handle)
    await handle.result()
    return handle.id, keeper.id


async def quota_rejected_waiting(saga: Saga) -> str:
    """Rejected while it waits for budget: it gives its place back and ends rejected."""
    first = await saga.start(base_request(ticket_id="REPLAY-quota-holder"))
    await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
    handle = await saga.start(base_request(ticket_id="REPLAY-quota-rejected"))
    await saga.wait_stage(handle, Stage.AWAITING_QUOTA)
    await handle.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="not needed")
    )
    await handle.result()
    return handle.id


def _onboard(saga: Saga, numbers: tuple[str, ...]) -> None:
    emulator = saga.emulator.app.emulator
    for number in numbers:
        emulator.numbers.onboard(
            {
                "phoneNumber": number,
                "countryCode": "US",
                "phoneNumberType": "tollFree",
                "assignmentType": "application",
                "capabilities": {"calling": "outbound", "sms": "none"},
            },
            emulator.clock.now(),
        )


async def ported_released(saga: Saga) -> tuple[str, ...]:
    """Numbers from outside claimed, configured, routed; the release gives them back."""
    numbers = ("+18775550101", "+18775550102")
    _onboard(saga, numbers)
    request = base_request(
        ticket_id="REPLAY-ported",
        source="existing",
        numbers=numbers,
        quantity=1,
        approval={"mode": "auto_under_cost", "auto_approve_below": "100"},
    )
    handle = await saga.start(request)
    await handle.result()
    release = await saga.client.execute_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(ticket_id=request.ticket_id),
        id=release_workflow_id(request.ticket_id),
        task_queue=saga.task_queue,
    )
    assert release.numbers_kept == numbers
    return (
        handle.id,
        release_workflow_id(request.ticket_id),
        sip_workflow_id(saga.emulator.endpoint),
    )


async def manual_order_delivered(saga: Saga) -> str:
    """A manual order approved, delivered in two parts (one number refused), completed."""
    handle = await saga.start(
        base_request(ticket_id="REPLAY-manual-order", source="manual_order", quantity=2)
    )
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.AWAITING_NUMBERS)
    numbers = ("+18775550201", "+18775550202")
    _onboard(saga, numbers)
    for index, delivered in enumerate([(numbers[0], "+18775550299"), numbers]):
        delivery = Delivery(numbers=delivered, by="desk", delivery_id=f"d-{index}")
        await handle.signal(DELIVER_SIGNAL, delivery)
        await saga.wait_for(handle, _has_deliveries(index + 1))
    await handle.result()
    return handle.id


def _has_deliveries(count: int) -> Callable[[ProvisionStatus], bool]:
    return lambda status: len(status.deliveries) >= count


_QUOTA_LIMITS = {
    "quota_queued": QuotaLimits(searches=1, purchases=1),
    "quota_rejected_waiting": QuotaLimits(searches=1),
}
"""The limits numberflow is configured with, for the scenarios that need some."""

SCENARIOS = [
    with_callbacks,
    happy_reservation,
    happy_search,
    rejected,
    compensated,
    cancelled,
    released,
    sip_writer,
    cancelled_in_purchase,
    cancel_after_completion,
    sip_writer_ownership,
    attention_retried,
    attention_skipped,
    compensation_retried,
    batched,
    sip_writer_group_commit,
    renewed,
    quota_queued,
    quota_rejected_waiting,
    ported_released,
    manual_order_delivered,
]


async def main(names: list[str]) -> None:
    """Run the named scenarios (all by default) on fresh time-skipping servers; save histories.

    Histories recorded before a patch must stay as they are: name only the new scenarios.
    """
    HISTORIES.mkdir(exist_ok=True)
    unknown = set(names) - {s.__name__ for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
    for scenario in [s for s in SCENARIOS if not names or s.__name__ in names]:
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER)
        )
        try:
            await register_search_attributes(env.client)
            limits = _QUOTA_LIMITS.get(scenario.__name__)
            async for saga in make_saga(env, EmulatorConfig(lro_seconds=0.0), limits):
                recorded = await scenario(saga)
                ids = (recorded,) if isinstance(recorded, str) else recorded
                for workflow_id in ids:
                    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
                    path = HISTORIES / f"{_prefix(scenario, workflow_id)}-{scenario.__name__}.json"
                    path.write_text(history.to_json())
                    print(f"wrote {path}")  # noqa: T201
        finally:
            await env.shutdown()


def _prefix(scenario: Callable[..., Any], workflow_id: str) -> str:
    """The history file's prefix: the workflow's module."""
    if workflow_id.startswith(quota_keeper_id("")):
        return "quota_keeper"
    if workflow_id.startswith(sip_workflow_id("")):
        return "sip_routing"
    if workflow_id.startswith(release_workflow_id("")):
        return "release"
    if scenario in (sip_writer, sip_writer_ownership, sip_writer_group_commit):
        return "sip_routing"
    return "release" if scenario is released else "provision"


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
