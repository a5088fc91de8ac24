"""A failed step after the purchase waits for an operator: retry, skip or abort (and a failed
compensation: retry or abandon), by signal, Update or deadline. Each test checks the emulator."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import WorkflowHandle

from contracts.ids import DECIDE_SIGNAL, INTERVENE_SIGNAL
from contracts.provision import (
    Intervention,
    InterventionKind,
    Stage,
)
from provisioning import ProvisioningRefused, intervene
from tests.ingress_world import Ingress
from tests.loopback import LoopbackServer
from tests.world import DEV_SERVER, Saga, base_request
from workflows import ProvisionNumbersWorkflow

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}
UNVERIFIED = {"trunks": [{"fqdn": "sbc.unverified.net", "port": 5061}]}
RELEASE_LOCKED = {
    "operation": "PhoneNumbers_ReleasePhoneNumber",
    "action": {"type": "status", "status": 403, "code": "InsufficientPermissions"},
}


def _parked(step: str) -> Any:
    return lambda s: s.stage is Stage.NEEDS_ATTENTION and s.attention and s.attention.step == step


async def _park_on_routing(saga: Saga, **overrides: Any) -> tuple[WorkflowHandle[Any, Any], Any]:
    request = base_request(routing=UNVERIFIED, approval=AUTO, **overrides)
    handle = await saga.start(request)
    status = await saga.wait_for(handle, _parked("routing"))
    assert status.attention is not None and status.attention.error_code == "MissingDomain"
    assert [a.value for a in status.attention.actions] == ["retry", "skip", "abort"]
    assert len(status.numbers) == 2 and set(status.numbers) <= set(saga.owned())  # kept
    assert saga.routes() == []
    return handle, request


def _verify_domain(saga: Saga, domain: str) -> None:
    saga.emulator.app.emulator.sip.domains[domain] = {"enabled": True}


async def test_retry_after_the_domain_is_verified_completes_with_the_same_numbers(
    saga: Saga,
) -> None:
    handle, request = await _park_on_routing(saga)
    owned = sorted(saga.owned())
    _verify_domain(saga, "unverified.net")
    sent = await intervene(
        saga.client, request.ticket_id, Intervention(action=InterventionKind.RETRY, by="ops")
    )
    assert sent.applied and sent.status.attention is None
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and sorted(result.numbers) == owned
    assert sorted(saga.owned()) == owned and len(saga.routes()) == 1
    assert sum(saga.state()["phoneNumbers"]["purchasePosts"].values()) == 1


async def test_retry_with_another_trunk(saga: Saga) -> None:
    handle, request = await _park_on_routing(saga)
    await handle.execute_update(
        ProvisionNumbersWorkflow.intervene,
        Intervention(
            action=InterventionKind.RETRY, by="ops", trunks=({"fqdn": "sbc2.example.com"},)
        ),
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    (route,) = saga.routes()
    assert route["trunks"] == ["sbc2.example.com"]


async def test_skip_keeps_the_numbers_without_a_route(saga: Saga) -> None:
    handle, request = await _park_on_routing(saga)
    await intervene(
        saga.client,
        request.ticket_id,
        Intervention(action=InterventionKind.SKIP, by="ops", reason="no SBC yet"),
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED_WITH_SKIPS and result.skipped == ("routing",)
    assert sorted(saga.owned()) == sorted(result.numbers) and saga.routes() == []
    ledger = saga.state()["phoneNumbers"]["purchasedNumbers"]
    assert len(ledger) == 2
    status = await saga.status(handle)
    assert any(e.note and "skip by ops: no SBC yet" in e.note for e in status.timeline)


async def test_abort_compensates(saga: Saga) -> None:
    handle, request = await _park_on_routing(saga)
    await intervene(
        saga.client,
        request.ticket_id,
        Intervention(action=InterventionKind.ABORT, by="ops", reason="wrong customer"),
    )
    await saga.failure(handle)
    saga.assert_clean()
    assert (await saga.status(handle)).stage is Stage.COMPENSATED


async def test_the_deadline_takes_the_policy_action_after_a_reminder(saga: Saga) -> None:
    received: list[dict[str, Any]] = []

    async def receive(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({})

    app = Starlette(routes=[Route("/cb", receive, methods=["POST"])])
    with LoopbackServer(app) as server:
        request = base_request(
            routing=UNVERIFIED,
            approval=AUTO,
            callback_url=f"{server.url}/cb",
            attention_deadline="PT2H",
            attention_timeout_action="skip",
        )
        handle = await saga.start(request)
        result = await handle.result()  # time skips through the reminder and the deadline
    assert result.outcome is Stage.COMPLETED_WITH_SKIPS and result.skipped == ("routing",)
    assert len(saga.owned()) == 2 and saga.routes() == []
    notes = [e.get("note") or "" for e in received if e["stage"] == "needs_attention"]
    assert len(notes) == 2 and notes[1].startswith("reminder: routing still waits")
    assert received[-1]["stage"] == "completed_with_skips"


async def test_a_failed_compensation_parks_then_retries_clean(saga: Saga) -> None:
    saga.fault({**RELEASE_LOCKED, "times": 1})
    handle, request = await _park_on_routing(saga)
    await intervene(
        saga.client,
        request.ticket_id,
        Intervention(action=InterventionKind.ABORT, by="ops", reason="give up"),
    )
    status = await saga.wait_for(handle, _parked("compensation"))
    assert status.attention is not None
    assert [a.value for a in status.attention.actions] == ["retry", "abandon"]
    assert status.left_for_operator and len(saga.owned()) == 2
    await intervene(
        saga.client, request.ticket_id, Intervention(action=InterventionKind.RETRY, by="ops")
    )
    await saga.failure(handle)
    saga.assert_clean()
    assert (await saga.status(handle)).stage is Stage.COMPENSATED


async def test_abandon_ends_compensation_failed_with_the_list(saga: Saga) -> None:
    saga.fault(RELEASE_LOCKED)
    handle, request = await _park_on_routing(saga)
    await intervene(
        saga.client,
        request.ticket_id,
        Intervention(action=InterventionKind.ABORT, by="ops", reason="give up"),
    )
    await saga.wait_for(handle, _parked("compensation"))
    await intervene(
        saga.client,
        request.ticket_id,
        Intervention(action=InterventionKind.ABANDON, by="ops", reason="by hand"),
    )
    error = await saga.failure(handle)
    assert "compensation incomplete" in str(getattr(error, "message", error))
    status = await saga.status(handle)
    assert status.stage is Stage.COMPENSATION_FAILED and status.left_for_operator
    assert len(saga.owned()) == 2  # left for the operator, as the list says


async def test_a_signal_in_the_wrong_state_is_recorded_and_the_saga_goes_on(saga: Saga) -> None:
    request = base_request(approval={"approvers": ["alice"]})
    handle = await saga.start(request)
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.signal(
        INTERVENE_SIGNAL,
        Intervention(action=InterventionKind.SKIP, by="ops", reason="too early"),
    )
    status = await saga.wait_for(handle, lambda s: bool(s.refused_interventions))
    assert "not waiting for an operator" in status.refused_interventions[0]
    assert any(e.note and e.note.startswith("refused skip by ops") for e in status.timeline)
    with pytest.raises(ProvisioningRefused, match="not waiting for an operator"):
        await intervene(
            saga.client, request.ticket_id, Intervention(action=InterventionKind.RETRY, by="o")
        )
    await saga.approve(handle)
    assert (await handle.result()).outcome is Stage.COMPLETED


async def test_a_malformed_signal_is_recorded_not_dropped(saga: Saga) -> None:
    """Input that is not an intervention or a decision at all: in the status, the saga goes on."""
    request = base_request(approval={"approvers": ["alice"]})
    handle = await saga.start(request)
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.signal(INTERVENE_SIGNAL, {"action": "teleport", "by": "ops"})
    await handle.signal(DECIDE_SIGNAL, {"approver": "alice"})
    status = await saga.wait_for(
        handle, lambda s: bool(s.refused_interventions) and bool(s.ignored_decisions)
    )
    assert status.refused_interventions[0].startswith("malformed intervene signal: action: ")
    assert status.ignored_decisions[0] == "malformed decide signal: decision: Field required"
    assert any(e.note and e.note.startswith("refused malformed") for e in status.timeline)
    await saga.approve(handle)
    assert (await handle.result()).outcome is Stage.COMPLETED
    assert len(saga.owned()) == 2


async def test_the_temporal_cli_can_signal_a_retry(dev_saga: Saga) -> None:
    """``temporal workflow signal`` from the venv, JSON input: the form any tool can send."""
    saga = dev_saga
    handle, request = await _park_on_routing(saga)
    _verify_domain(saga, "unverified.net")
    address = saga.client.service_client.config.target_host
    done = await asyncio.to_thread(
        subprocess.run,
        [
            str(DEV_SERVER),
            "workflow",
            "signal",
            "--address",
            address,
            "--workflow-id",
            handle.id,
            "--name",
            "intervene",
            "--input",
            '{"action": "retry", "by": "temporal-cli"}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Payloads are encrypted in this suite: a plain-JSON signal is still decoded (the codec
    # passes unencrypted payloads through).
    assert done.returncode == 0, done.stderr
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and len(saga.routes()) == 1


async def test_batch_retry_by_query(dev_saga: Saga) -> None:
    saga = dev_saga
    parked = [await _park_on_routing(saga) for _ in range(3)]
    _verify_domain(saga, "unverified.net")
    query = (
        f"WorkflowType = 'ProvisionNumbersWorkflow' AND ProvisioningStage = 'needs_attention' "
        f"AND TaskQueue = '{saga.task_queue}'"
    )
    deadline = time.monotonic() + 20
    found: list[str] = []
    while len(found) < 3 and time.monotonic() < deadline:  # visibility is eventually consistent
        found = [w.id async for w in saga.client.list_workflows(query)]
        await asyncio.sleep(0.2)
    from tests.cli.test_commands import as_json, cli

    code, out, err = await cli(saga, "list", "--stage", "needs_attention", "--json")
    rows = [r for r in as_json(out) if r["workflow_id"] in found]
    assert code == 0 and len(rows) == 3
    assert {(r["step"], r["error_code"]) for r in rows} == {("routing", "MissingDomain")}
    code, out, err = await cli(saga, "retry", "--query", query, "--by", "ops")  # no --yes
    assert code == 1 and "not confirmed; nothing was sent to the 3 tickets" in err
    assert [(await saga.status(h)).stage for h, _ in parked] == [Stage.NEEDS_ATTENTION] * 3
    code, out, err = await cli(saga, "retry", "--query", query, "--by", "ops", "--yes")
    assert code == 0, err
    assert "3 of 3" in out
    for handle, _ in parked:
        assert (await handle.result()).outcome is Stage.COMPLETED
    assert len(saga.routes()) == 3


async def test_the_ingress_takes_interventions(ingress: Ingress) -> None:
    saga = ingress.saga
    handle, request = await _park_on_routing(saga)
    ticket = request.ticket_id
    no_reason = await ingress.post({"event": "skip_requested", "ticket_id": ticket, "by": "t"})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    wrong = await ingress.post({"event": "abandon_requested", "ticket_id": ticket, "by": "t"})
    assert wrong.status_code == 409 and "abandon is not allowed for routing" in wrong.text
    _verify_domain(saga, "unverified.net")
    response = await ingress.post({"event": "retry_requested", "ticket_id": ticket, "by": "t"})
    assert response.status_code == 202, response.text
    assert (await handle.result()).outcome is Stage.COMPLETED and len(saga.routes()) == 1
    late = await ingress.post({"event": "retry_requested", "ticket_id": ticket, "by": "t"})
    assert late.status_code == 409
