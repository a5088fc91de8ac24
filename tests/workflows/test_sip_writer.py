"""The SIP single writer: no lost routes, placement, trunk safety, release, reconcile, CAN."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from acs import PollSchedule, SipRoutingClient, SipTrunk, SipTrunkRoute
from activities import SipWriterActivities
from contracts.error_types import SIP_WRITER_ELSEWHERE
from contracts.ids import release_workflow_id, workflow_id_for
from contracts.operations import ReconcileReport, ReconcileRequest, ReleaseRequest
from contracts.provision import Stage, TrunkSpec
from contracts.sip import (
    AttachRouteRequest,
    DetachRouteRequest,
    NumbersOwnership,
    RemoveTrunkRequest,
    RouteWritten,
    SipRoutingInput,
    sip_workflow_id,
)
from emulator import EmulatorConfig
from provisioning import start_release
from tests.world import Saga, base_request, make_saga
from workflows import ReconcileWorkflow, ReleaseNumbersWorkflow, SipRoutingWorkflow

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}
SBC1 = TrunkSpec(fqdn="sbc1.example.com", port=5061)


@pytest_asyncio.fixture
async def saga(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """This module runs on the dev server.

    The time-skipping test server sometimes starts the writer's run afresh, empty, in the
    middle of a test (about one run in four of the route-ownership test): its ledger is then
    lost there, and nowhere else (the dev server and the chaos runs never do).
    """
    async for world in make_saga(dev_env, EmulatorConfig(lro_seconds=0.0)):
        yield world


async def writer(saga: Saga, limit: int = 3000) -> WorkflowHandle[Any, Any]:
    """Start (or reach) the resource's writer."""
    handle = await saga.client.start_workflow(
        SipRoutingWorkflow.run,
        SipRoutingInput(resource=saga.emulator.endpoint, continue_as_new_after=limit),
        id=sip_workflow_id(saga.emulator.endpoint),
        task_queue=saga.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    saga.handles.append(handle)
    return handle


def preview_sip(saga: Saga) -> SipRoutingClient:
    return saga.emulator.sip(preview=True)


async def test_fifty_sagas_attach_fifty_routes(saga: Saga) -> None:
    """50 sagas at once on one trunk: every route present, each receiving its own numbers."""
    requests = [base_request(quantity=1, approval=AUTO, final_capabilities=None) for _ in range(50)]
    handles = await asyncio.gather(*(saga.start(r) for r in requests))
    results = await asyncio.gather(*(h.result() for h in handles))
    assert all(r.outcome is Stage.COMPLETED for r in results)
    routes = saga.routes()
    assert len(routes) == 50
    sip_handle = await writer(saga)
    async with preview_sip(saga) as sip:
        for result in results:
            number = result.numbers[0]
            match = await sip_handle.query(SipRoutingWorkflow.route_for, number)
            assert (match.route, match.trunk) == (result.route_name, "sbc1.example.com")
            first = (await sip.get_routes_for_number(number))[0]
            assert first.name == result.route_name
    ledger = await sip_handle.query(SipRoutingWorkflow.ledger)
    assert len(ledger) == 50
    # group commit: routes waiting together went out in shared PATCHes, not one each
    assert saga.state()["requestCounts"]["SipRouting_Update"] < 50


async def test_a_request_acs_refuses_fails_alone_in_its_batch(saga: Saga) -> None:
    """One saga's trunk is in an unverified domain (422 MissingDomain for the whole PATCH):
    that saga alone gets ACS's error; the sagas submitted with it are routed."""
    good = [base_request(quantity=1, approval=AUTO, final_capabilities=None) for _ in range(8)]
    bad = base_request(
        quantity=1,
        approval=AUTO,
        final_capabilities=None,
        routing={"trunks": [{"fqdn": "sbc.unverified.net", "port": 5061}]},
        on_step_failure="compensate",
    )
    handles = await asyncio.gather(*(saga.start(r) for r in [*good[:4], bad, *good[4:]]))
    bad_handle = handles[4]
    cause = await saga.failure(bad_handle)
    assert "MissingDomain" in str(cause)
    for handle in handles[:4] + handles[5:]:
        assert (await handle.result()).outcome is Stage.COMPLETED
    assert {r["name"] for r in saga.routes()} == {r.route_name for r in good}


async def test_naive_parallel_writers_lose_routes(saga: Saga) -> None:
    """Without the writer, 50 read-modify-write clients racing on /sip lose routes."""
    saga.fault({"operation": "SipRouting_Update", "action": {"type": "latency", "seconds": 0.05}})
    async with saga.emulator.sip() as sip:
        await sip.set_trunk(SipTrunk(fqdn="sbc1.example.com", sip_signaling_port=5061))

        async def naive(i: int) -> None:
            current = await sip.list_routes()
            mine = SipTrunkRoute(
                name=f"naive-{i}",
                number_pattern=rf"^\+1555000{i:04d}$",
                trunks=["sbc1.example.com"],
            )
            await sip.set_routes([*current, mine])

        await asyncio.gather(*(naive(i) for i in range(50)))
        survivors = await sip.list_routes()
    assert len(survivors) < 50  # the lost-update problem the single writer exists for


async def test_new_route_is_placed_before_a_catch_all(saga: Saga) -> None:
    """An existing ^\\+1\\d{10}$ route would take the calls: the new route goes in front of it."""
    async with saga.emulator.sip() as sip:
        await sip.set_trunk(SipTrunk(fqdn="sbc9.example.com", sip_signaling_port=5061))
        await sip.set_routes(
            [
                SipTrunkRoute(
                    name="catch-all", number_pattern=r"^\+1\d{10}$", trunks=["sbc9.example.com"]
                )
            ]
        )
    request = base_request(
        quantity=1, approval=AUTO, final_capabilities=None, phone_number_prefixes=["1800"]
    )
    result = await (await saga.start(request)).result()
    assert [r["name"] for r in saga.routes()] == [result.route_name, "catch-all"]
    async with preview_sip(saga) as sip:
        assert (await sip.get_routes_for_number(result.numbers[0]))[0].name == result.route_name


async def test_pinned_position_honoured_or_refused(saga: Saga) -> None:
    """A pin that keeps the route reachable is honoured; one behind a broader route is refused."""
    async with saga.emulator.sip() as sip:
        await sip.set_trunk(SipTrunk(fqdn="sbc9.example.com", sip_signaling_port=5061))
        await sip.set_routes(
            [
                SipTrunkRoute(name="uk", number_pattern=r"^\+44\d+$", trunks=["sbc9.example.com"]),
                SipTrunkRoute(
                    name="catch-all", number_pattern=r"^\+1\d{10}$", trunks=["sbc9.example.com"]
                ),
            ]
        )
    handle = await writer(saga)
    shadowed = AttachRouteRequest(
        ticket_id="T-pin",
        route_name="pinned",
        numbers=("+14255550100",),
        trunks=(SBC1,),
        position=2,
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(SipRoutingWorkflow.attach_route, shadowed)
    assert "catch-all" in str(caught.value.cause)
    honoured = shadowed.model_copy(update={"position": 0})
    written = await handle.execute_update(SipRoutingWorkflow.attach_route, honoured)
    assert written.position == 0
    assert [r["name"] for r in saga.routes()] == ["pinned", "uk", "catch-all"]


async def test_trunk_in_use_cannot_be_removed_until_detached(saga: Saga) -> None:
    """remove_trunk is refused by the validator while a route uses the trunk; detach first."""
    handle = await writer(saga)
    await handle.execute_update(
        SipRoutingWorkflow.attach_route,
        AttachRouteRequest(
            ticket_id="T-trunk", route_name="r", numbers=("+14255550100",), trunks=(SBC1,)
        ),
    )
    with pytest.raises((WorkflowUpdateFailedError, RPCError)) as caught:
        await handle.execute_update(
            SipRoutingWorkflow.remove_trunk, RemoveTrunkRequest(fqdn="sbc1.example.com")
        )
    assert "detach" in str(caught.value) + str(getattr(caught.value, "cause", ""))
    assert "sbc1.example.com" in saga.state()["sip"]["trunks"]
    await handle.execute_update(
        SipRoutingWorkflow.detach_route, DetachRouteRequest(ticket_id="T-trunk", route_name="r")
    )
    await handle.execute_update(
        SipRoutingWorkflow.remove_trunk, RemoveTrunkRequest(fqdn="sbc1.example.com")
    )
    assert saga.state()["sip"] == {
        "trunks": {},
        "routes": [],
        "domains": {"example.com": {"enabled": True}},
    }


async def test_invalid_requests_are_refused_before_acs(saga: Saga) -> None:
    """A .NET-incompatible pattern or a route name owned by another ticket never reaches ACS."""
    handle = await writer(saga)
    await handle.execute_update(
        SipRoutingWorkflow.attach_route,
        AttachRouteRequest(
            ticket_id="T-a", route_name="shared-name", numbers=("+14255550100",), trunks=(SBC1,)
        ),
    )
    before = saga.state()["requestCounts"].get("SipRouting_Update", 0)
    with pytest.raises((WorkflowUpdateFailedError, RPCError)) as caught:
        await handle.execute_update(
            SipRoutingWorkflow.attach_route,
            AttachRouteRequest(
                ticket_id="T-b", route_name="shared-name", numbers=("+14255550101",), trunks=(SBC1,)
            ),
        )
    assert "belongs to ticket T-a" in str(caught.value) + str(getattr(caught.value, "cause", ""))
    assert saga.state()["requestCounts"].get("SipRouting_Update", 0) == before


async def test_release_detaches_then_releases_and_twice_is_harmless(saga: Saga) -> None:
    """Release removes the route, then the numbers, then the ledger entry; a rerun does nothing."""
    request = base_request(approval=AUTO)
    result = await (await saga.start(request)).result()
    assert len(saga.owned()) == 2 and len(saga.routes()) == 1
    first = await saga.client.execute_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(ticket_id=request.ticket_id),
        id=release_workflow_id(request.ticket_id),
        task_queue=saga.task_queue,
    )
    assert sorted(first.numbers_released) == sorted(result.numbers)
    assert first.routes_removed == (result.route_name,)
    assert saga.owned() == [] and saga.routes() == []
    ledger = await (await writer(saga)).query(SipRoutingWorkflow.ledger)
    assert request.ticket_id not in ledger
    second = await saga.client.execute_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(ticket_id=request.ticket_id),
        id=release_workflow_id(request.ticket_id) + "-again",
        task_queue=saga.task_queue,
    )
    assert second.numbers_released == () and second.routes_removed == ()


async def test_reconcile_reports_orphans_ghosts_and_unknown_routes(dev_saga: Saga) -> None:
    """Numbers bought outside numberflow are orphans, released-outside ones ghosts; release only old orphans.

    On the dev server: reconciliation lists running sagas through visibility, which the
    time-skipping server does not implement.
    """
    saga = dev_saga
    request = base_request(quantity=1, approval=AUTO, final_capabilities=None)
    result = await (await dev_saga.start(request)).result()
    owned = dev_saga.owned()
    inventory = dev_saga.emulator.app.emulator.numbers
    outside = next(
        n
        for n in inventory.inventory
        if n.startswith("+44") and saga.emulator.app.emulator.numbers._is_available(n)
    )
    async with dev_saga.emulator.admin() as admin:
        assert (
            await admin.post("/numbers/purchase", json={"phoneNumber": outside})
        ).status_code == 201
    async with dev_saga.emulator.phone_numbers() as client:  # released outside numberflow
        await client.wait(
            await client.begin_release_phone_number(owned[0]), schedule=PollSchedule(0.01, 0.01)
        )
    async with dev_saga.emulator.sip() as sip:
        ticket_route = (await sip.list_routes())[0]
        await sip.set_routes(
            [
                ticket_route.model_copy(update={"number_pattern": r"^\+1999$"}),  # edited by hand
                SipTrunkRoute(
                    name="by-hand", number_pattern=r"^\+49\d+$", trunks=["sbc1.example.com"]
                ),
            ]
        )

    # A saga of another deployment, on a queue nobody serves here: not ours to ask (asking it
    # would wait for an answer that never comes).
    stranger = base_request(quantity=1)
    stranded = await dev_saga.client.start_workflow(
        "ProvisionNumbersWorkflow",
        stranger,
        id=workflow_id_for(stranger.ticket_id),
        task_queue=f"{dev_saga.task_queue}-elsewhere",
    )
    dev_saga.handles.append(stranded)
    started = time.monotonic()
    report = await dev_saga.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileRequest(),
        id=f"reconcile-{request.ticket_id}",
        task_queue=dev_saga.task_queue,
    )
    assert time.monotonic() - started < 20
    assert report.orphans == (outside,)
    assert report.ghosts == result.numbers
    assert report.unknown_routes == ("by-hand",)
    assert report.drifted_routes == (result.route_name,) and report.missing_routes == ()
    assert report.released == ()
    async with dev_saga.emulator.sip() as sip:  # the ticket's route deleted by hand
        await sip.set_routes([r for r in await sip.list_routes() if r.name == "by-hand"])
    gone = await dev_saga.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileRequest(),
        id=f"reconcile-gone-{request.ticket_id}",
        task_queue=dev_saga.task_queue,
    )
    assert gone.missing_routes == (result.route_name,) and gone.drifted_routes == ()

    young = await dev_saga.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileRequest(release_orphans=True, grace=timedelta(days=7)),
        id=f"reconcile-young-{request.ticket_id}",
        task_queue=dev_saga.task_queue,
    )
    assert young.released == () and outside in dev_saga.owned()
    await asyncio.sleep(1.5)  # real time on the dev server: the orphan is now older than 1 s
    old = await dev_saga.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileRequest(release_orphans=True, grace=timedelta(seconds=1)),
        id=f"reconcile-old-{request.ticket_id}",
        task_queue=dev_saga.task_queue,
    )
    assert old.released == (outside,) and outside not in dev_saga.owned()


async def test_reconcile_deletes_only_the_holds_no_running_saga_has(dev_saga: Saga) -> None:
    """A reservation nobody's saga holds is reported, and deleted when asked; a saga's is kept."""
    handle = await dev_saga.start(base_request(quantity=1))
    waiting = await dev_saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    stale = "0f6e0b8c-5d1e-4a0e-9f3b-4c2d1e0a9b8c"  # left by a run that could not delete it
    async with dev_saga.emulator.admin() as admin:
        assert (await admin.post("/reservations", json={"id": stale})).status_code == 201

    async def reconcile(request: ReconcileRequest, name: str) -> ReconcileReport:
        return await dev_saga.client.execute_workflow(
            ReconcileWorkflow.run,
            request,
            id=f"reconcile-{name}-{waiting.ticket_id}",
            task_queue=dev_saga.task_queue,
        )

    looked = await reconcile(ReconcileRequest(), "look")
    assert waiting.hold_id is not None
    assert sorted(looked.active_reservations) == sorted((stale, waiting.hold_id))
    assert (looked.stale_holds, looked.deleted_holds) == ((stale,), ())
    assert len(dev_saga.active_reservations()) == 2  # reported only: nothing was asked
    cleaned = await reconcile(ReconcileRequest(delete_stale_holds=True), "clean")
    assert (cleaned.stale_holds, cleaned.deleted_holds) == ((stale,), (stale,))
    assert [r["id"] for r in dev_saga.active_reservations()] == [waiting.hold_id]
    await handle.cancel()


async def test_writer_continues_as_new_with_its_state(saga: Saga) -> None:
    """With a low threshold the writer continues as new; ledger and document survive."""
    handle = await writer(saga, limit=20)
    first_run = (await handle.describe()).run_id
    for i in range(6):
        await handle.execute_update(
            SipRoutingWorkflow.attach_route,
            AttachRouteRequest(
                ticket_id=f"T-can-{i}",
                route_name=f"can-{i}",
                numbers=(f"+1425555010{i}",),
                trunks=(SBC1,),
            ),
        )
    latest = saga.client.get_workflow_handle(handle.id)
    for _ in range(100):
        if (await latest.describe()).run_id != first_run:
            break
        await asyncio.sleep(0.05)
    assert (await latest.describe()).run_id != first_run
    ledger = await latest.query(SipRoutingWorkflow.ledger)
    assert sorted(ledger) == [f"T-can-{i}" for i in range(6)]
    config = await latest.query(SipRoutingWorkflow.config)
    assert [r.name for r in config.routes] == [f"can-{i}" for i in range(6)]
    match = await latest.query(SipRoutingWorkflow.route_for, "+14255550103")
    assert match.route == "can-3"


def us_numbers(count: int) -> tuple[str, ...]:
    return tuple(f"+1425555{i:04d}" for i in range(count))


async def refused(handle: WorkflowHandle[Any, Any], update: str, payload: Any) -> str:
    """Send an Update that must be refused; return the reason."""
    with pytest.raises((WorkflowUpdateFailedError, RPCError)) as caught:
        await handle.execute_update(update, payload)
    return str(caught.value) + str(getattr(caught.value, "cause", ""))


async def failed_tasks(handle: WorkflowHandle[Any, Any]) -> int:
    events = [e async for e in handle.fetch_history_events()]
    return sum(1 for e in events if e.HasField("workflow_task_failed_event_attributes"))


async def test_no_request_fails_the_writer_while_others_keep_routing(saga: Saga) -> None:
    """Oversized and malformed requests are refused one by one; routing goes on for everyone."""
    handle = await writer(saga)
    good = AttachRouteRequest(
        ticket_id="T-good", route_name="good", numbers=("+14255559999",), trunks=(SBC1,)
    ).model_dump(mode="json")
    # 80 numbers need two routes; with a 251-character name the second's would pass ACS's 256
    oversized = {**good, "ticket_id": "T-big", "route_name": "b" * 251, "numbers": us_numbers(80)}
    reason = await refused(handle, "attach_route", oversized)
    assert "256" in reason
    malformed: list[tuple[str, Any]] = [
        ("attach_route", {"ticket_id": "T-x"}),
        ("attach_route", {**good, "numbers": []}),
        ("attach_route", {**good, "trunks": [{"fqdn": "not a host", "port": 5061}]}),
        ("attach_route", {**good, "route_name": "r" * 300}),
        ("attach_route", {**good, "position": -1}),
        ("attach_route", {**good, "surprise": True}),
        ("attach_route", "not an object"),
        ("detach_route", {"ticket_id": "T-x"}),
        ("ensure_trunks", {"trunks": []}),
        ("remove_trunk", {"fqdn": "-bad-"}),
        ("record_numbers", {"ticket_id": "T-x", "numbers": "+1"}),
    ]
    others = [
        saga.start(base_request(quantity=1, approval=AUTO, final_capabilities=None))
        for _ in range(3)
    ]
    started = await asyncio.gather(*others)
    for update, payload in malformed:
        await refused(handle, update, payload)
    results = await asyncio.gather(*(h.result() for h in started))
    assert all(r.outcome is Stage.COMPLETED for r in results)
    written = await handle.execute_update("attach_route", good, result_type=RouteWritten)
    assert written.route_name == "good"
    assert {r["name"] for r in saga.routes()} == {"good", *(r.route_name for r in results)}
    assert await failed_tasks(handle) == 0


async def test_a_ticket_too_large_for_one_route_is_routed_over_several(saga: Saga) -> None:
    """80 numbers need two routes (1,024-character patterns); both are written in one PATCH
    beside another ticket's route, and its release removes both and only them."""
    big = base_request(
        quantity=80,
        hold_strategy="search",
        phone_number_type="geographic",
        capabilities={"calling": "inbound+outbound", "sms": "none"},
        approval=AUTO,
        final_capabilities=None,
    )
    small = base_request(quantity=1, approval=AUTO, final_capabilities=None)
    big_handle, small_handle = await saga.start(big), await saga.start(small)
    big_result = await big_handle.result()
    assert big_result.outcome is Stage.COMPLETED
    assert (await small_handle.result()).outcome is Stage.COMPLETED
    names = {r["name"] for r in saga.routes()}
    assert names == {big.route_name, f"{big.route_name}-part2", small.route_name}
    routes = [r for r in saga.routes() if r["name"] != small.route_name]
    routed = [n for n in big_result.numbers for r in routes if re.match(r["numberPattern"], n)]
    assert sorted(routed) == sorted(big_result.numbers)
    await (await start_release(saga.client, big.ticket_id, saga.task_queue)).handle.result()
    assert [r["name"] for r in saga.routes()] == [small.route_name]
    assert await failed_tasks(await writer(saga)) == 0


async def test_a_ticket_cannot_take_or_remove_another_tickets_route(saga: Saga) -> None:
    """A route name of another ticket, or of a route written by hand, is refused; the
    refused saga's compensation leaves the victim's route in place."""
    first = base_request(
        approval=AUTO, routing={"trunks": [SBC1.model_dump()], "route_name": "shared"}
    )
    await (await saga.start(first)).result()
    async with saga.emulator.sip() as sip:
        await sip.set_routes(
            [
                *await sip.list_routes(),
                SipTrunkRoute(
                    name="by-hand", number_pattern=r"^\+49\d+$", trunks=["sbc1.example.com"]
                ),
            ]
        )
    before = saga.routes()
    for name in ("shared", "by-hand"):
        thief = base_request(
            approval=AUTO,
            routing={"trunks": [SBC1.model_dump()], "route_name": name},
            on_step_failure="compensate",
        )
        cause = await saga.failure(await saga.start(thief))
        assert "belongs to ticket" in str(cause) or "did not write" in str(cause)
    assert saga.routes() == before
    handle = await writer(saga)
    for name in ("shared", "by-hand"):  # a direct detach by a non-owner changes nothing
        await handle.execute_update(
            SipRoutingWorkflow.detach_route,
            DetachRouteRequest(ticket_id="T-thief", route_name=name),
        )
    assert saga.routes() == before
    ledger = await handle.query(SipRoutingWorkflow.ledger)
    assert ledger[first.ticket_id].routes == ("shared",)
    assert sorted(saga.owned()) == sorted(ledger[first.ticket_id].numbers)


async def test_a_writer_on_another_task_queue_is_refused_not_waited_for(saga: Saga) -> None:
    """The writer's id is per resource: one left running on a queue nobody serves here would
    take every submission and never answer. The submission is refused at once, saying why."""
    elsewhere = f"{saga.task_queue}-elsewhere"
    stranded = await saga.client.start_workflow(
        SipRoutingWorkflow.run,
        SipRoutingInput(resource=saga.emulator.endpoint),
        id=sip_workflow_id(saga.emulator.endpoint),
        task_queue=elsewhere,
    )
    saga.handles.append(stranded)
    activities = SipWriterActivities(saga.client, saga.emulator.endpoint, saga.task_queue)
    ownership = NumbersOwnership(ticket_id="T-1", numbers=("+14255550100",))
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.record_numbers, ownership)
    assert refused.value.type == SIP_WRITER_ELSEWHERE and refused.value.non_retryable
    assert f"runs on task queue {elsewhere!r}" in refused.value.message
