"""The tenant's ACS limits as part of the saga: one budget, a visible queue, nothing burnt.

Each test runs the saga against an emulator that keeps the tenant's limits (5 searches and 1
purchase a week for a new tenant) and checks the emulator's own journal of requests
afterwards: the limit never exceeded, no refusal repeated within its ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts.provision import ProvisionResult, Rejection, Stage
from contracts.quota import (
    QuotaGrant,
    QuotaKeeperInput,
    QuotaKind,
    QuotaLimits,
    QuotaView,
    quota_keeper_id,
)
from emulator import EmulatorConfig, TenantLimits
from tests.cli.test_commands import as_json, cli
from tests.limits import limit_violations
from tests.loopback import LoopbackServer
from tests.workflows.test_provision_callbacks import Receiver
from tests.world import Saga, base_request, make_saga
from workflows import ProvisionNumbersWorkflow, QuotaKeeperWorkflow

pytestmark = pytest.mark.slow

NEW_TENANT = QuotaLimits(searches=5, purchases=1)
"""numberflow configured with the service-limits page's figures for a new tenant."""
RAISED = {"searches": 20, "purchases": 20}
"""What Microsoft grants in these tests (the emulator's and the keeper's limits alike)."""


def _world(
    env: WorkflowEnvironment, emulator: TenantLimits, keeper: QuotaLimits | None
) -> AsyncIterator[Saga]:
    return make_saga(env, EmulatorConfig(lro_seconds=0.0, limits=emulator), keeper)


@pytest_asyncio.fixture
async def new_tenant(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """A new tenant's limits in the emulator, and numberflow configured with them."""
    async for world in _world(dev_env, TenantLimits.new_tenant(), NEW_TENANT):
        yield world


@pytest_asyncio.fixture
async def unconfigured(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """One search a week in the emulator; numberflow told nothing about it."""
    async for world in _world(dev_env, TenantLimits(searches=1), None):
        yield world


@pytest_asyncio.fixture
async def one_search(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """One search a week, known to numberflow."""
    async for world in _world(dev_env, TenantLimits(searches=1), QuotaLimits(searches=1)):
        yield world


@pytest_asyncio.fixture
async def one_search_skipping(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """One search a week, known to numberflow, on the time-skipping server."""
    async for world in _world(time_skipping_env, TenantLimits(searches=1), QuotaLimits(searches=1)):
        yield world


async def _stages(saga: Saga, handles: list[WorkflowHandle[Any, Any]]) -> list[Stage]:
    return [(await saga.status(h)).stage for h in handles]


async def _until_stages(
    saga: Saga, handles: list[WorkflowHandle[Any, Any]], wanted: dict[Stage, int]
) -> None:
    """Wait (real time) until exactly ``wanted`` of the sagas are in each stage."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        stages = await _stages(saga, handles)
        if all(stages.count(stage) == n for stage, n in wanted.items()):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"stages {stages}, wanted {wanted}")
        await asyncio.sleep(0.1)


def _keeper(saga: Saga) -> WorkflowHandle[Any, Any]:
    return saga.client.get_workflow_handle(quota_keeper_id(saga.emulator.endpoint))


async def _view(saga: Saga) -> QuotaView:
    view: QuotaView = await _keeper(saga).query(QuotaKeeperWorkflow.view)
    return view


async def _grant(saga: Saga) -> None:
    """Microsoft raises the limits (the emulator) and an operator tells numberflow."""
    granted = saga.emulator.app.emulator.numbers.limits
    granted.grant(RAISED, saga.emulator.app.emulator.clock.now())
    await _keeper(saga).execute_update(QuotaKeeperWorkflow.grant, QuotaGrant(**RAISED, by="ops"))


def assert_well_mannered(saga: Saga) -> None:
    """The emulator's journal: no limit exceeded, no refused request repeated too soon."""
    assert limit_violations(saga.limits()["journal"]) == []


async def test_ten_tickets_on_a_new_tenant_wait_their_turn_and_all_complete(
    new_tenant: Saga,
) -> None:
    """5 searches and 1 purchase a week: 5 sagas hold numbers, 5 wait in the queue; one buys,
    the others wait for a purchase; after Microsoft raises the limits, all ten complete."""
    saga = new_tenant
    handles = [await saga.start(base_request(quantity=1)) for _ in range(10)]
    await _until_stages(saga, handles, {Stage.AWAITING_APPROVAL: 5, Stage.AWAITING_QUOTA: 5})

    waiting = [s for h in handles if (s := await saga.status(h)).stage is Stage.AWAITING_QUOTA]
    assert sorted(w.quota_wait.place or 0 for w in waiting if w.quota_wait) == [1, 2, 3, 4, 5]
    assert all(w.quota_wait and w.quota_wait.kind is QuotaKind.SEARCHES for w in waiting)
    assert all(w.quota_wait and w.quota_wait.room_at for w in waiting), "room comes in a week"
    view = await _view(saga)
    searches = next(line for line in view.lines if line.kind is QuotaKind.SEARCHES)
    assert (searches.limit, searches.used, searches.remaining) == (5, 5, 0)
    assert sorted(searches.queue) == sorted(w.ticket_id for w in waiting)

    held = [h for h in handles if (await saga.status(h)).stage is Stage.AWAITING_APPROVAL]
    for handle in held:
        await saga.approve(handle)
    await _until_stages(saga, held, {Stage.COMPLETED: 1, Stage.AWAITING_QUOTA: 4})
    assert len(saga.owned()) == 1, "one purchase a week"

    await _grant(saga)
    for handle in [h for h in handles if h not in held]:
        await saga.approve(handle)
    results: list[ProvisionResult] = [await h.result() for h in handles]
    assert [r.outcome for r in results] == [Stage.COMPLETED] * 10
    assert len(saga.owned()) == 10
    limits = saga.limits()
    assert limits["searches"]["refused"] == 0 and limits["purchases"]["refused"] == 0
    assert limits["searches"]["used"] == 10 and limits["purchases"]["used"] == 10
    assert_well_mannered(saga)
    assert all(not line.queue for line in (await _view(saga)).lines)


async def test_a_saga_waiting_for_budget_is_rejected_or_cancelled_cleanly(
    one_search: Saga,
) -> None:
    """Rejected or cancelled in the queue: it ends so, spends nothing, leaves the queue."""
    saga = one_search
    handles = [await saga.start(base_request()) for _ in range(3)]
    await _until_stages(saga, handles, {Stage.AWAITING_APPROVAL: 1, Stage.AWAITING_QUOTA: 2})
    stages = await _stages(saga, handles)
    first = handles[stages.index(Stage.AWAITING_APPROVAL)]
    rejected, cancelled = [h for h in handles if h is not first]
    status = await rejected.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="not needed")
    )
    assert status.approvals[-1].decision == "rejected"
    assert (await rejected.result()).outcome is Stage.REJECTED
    await cancelled.cancel()
    await saga.wait_stage(cancelled, Stage.COMPENSATED)

    view = await _view(saga)
    assert all(not line.queue for line in view.lines), "both left the queue"
    assert saga.limits()["searches"]["used"] == 1, "only the first saga searched"
    assert len(saga.active_reservations()) == 1, "only the first saga holds numbers"
    await first.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="done")
    )
    await first.result()
    saga.assert_clean()


async def test_a_saga_waiting_past_its_approval_deadline_expires_without_spending(
    one_search_skipping: Saga,
) -> None:
    """The queue is bounded by the approval deadline: the saga ends ``expired``, unspent."""
    saga = one_search_skipping
    first = await saga.start(base_request())
    await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
    late = await saga.start(base_request(approval={"deadline": "PT1H"}))
    await saga.wait_stage(late, Stage.AWAITING_QUOTA)

    result = await late.result()  # the server skips the hour
    assert result.outcome is Stage.EXPIRED
    assert result.note and "budget" in result.note
    assert saga.limits()["searches"]["used"] == 1
    view = await _view(saga)
    assert all(not line.queue for line in view.lines)
    assert [e["kind"] for e in saga.limits()["journal"]] == ["searches"], "the first's only"


async def test_a_limit_acs_answers_is_learned_and_never_asked_again_at_once(
    unconfigured: Saga,
) -> None:
    """numberflow was told no limit; ACS refuses the second search: the saga waits in the
    queue (until the window, or a grant), and ACS is not asked again meanwhile."""
    saga = unconfigured
    first = await saga.start(base_request())
    await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
    second = await saga.start(base_request())
    waiting = await saga.wait_stage(second, Stage.AWAITING_QUOTA)
    assert waiting.quota_wait and waiting.quota_wait.room_at
    assert waiting.quota_wait.room_at > waiting.quota_wait.since + timedelta(days=6)
    await asyncio.sleep(2)  # a saga that retried would have asked again by now
    assert saga.limits()["searches"]["refused"] == 1

    await _grant(saga)
    await saga.wait_stage(second, Stage.AWAITING_APPROVAL)
    assert saga.limits()["searches"]["refused"] == 1
    assert_well_mannered(saga)
    for handle in (first, second):
        await handle.execute_update(
            ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="done")
        )
        await handle.result()
    saga.assert_clean()


async def test_a_retried_reservation_does_not_browse_again(one_search: Saga) -> None:
    """The reservation fails after the browse; the retry reuses the browse's offer."""
    saga = one_search
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
        lambda _: saga.state()["requestCounts"].get("PhoneNumbers_BrowseAvailableNumbers", 0) > 0,
    )
    saga.fault(  # the PATCH that adds the browsed numbers fails; the activity is retried
        {
            "operation": "PhoneNumbers_CreateOrUpdateReservation",
            "times": 1,
            "action": {"type": "status", "status": 503, "code": "ServiceUnavailable"},
        }
    )
    status = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL, timeout=30)
    assert len(status.numbers) == 2
    assert saga.state()["faults"][-1]["fired"] == 1, "the reservation failed once"
    assert saga.state()["requestCounts"]["PhoneNumbers_BrowseAvailableNumbers"] == 1
    assert saga.limits()["searches"]["refused"] == 0
    await handle.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="done")
    )
    await handle.result()
    saga.assert_clean()


async def test_the_window_rolling_admits_the_next_saga(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """No grant: the keeper's timer admits the queued saga once the window has room."""
    hourly = QuotaLimits(searches=1, window=timedelta(hours=1))
    async for saga in _world(time_skipping_env, TenantLimits(), hourly):
        first = await saga.start(base_request())
        await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
        second = await saga.start(base_request())
        waiting = await saga.wait_stage(second, Stage.AWAITING_QUOTA)
        assert waiting.quota_wait and waiting.quota_wait.room_at
        assert waiting.quota_wait.room_at - waiting.quota_wait.since <= timedelta(minutes=66)
        await saga.env.sleep(timedelta(minutes=70))
        await saga.wait_stage(second, Stage.AWAITING_APPROVAL)
        searches = next(line for line in (await _view(saga)).lines if line.kind.value == "searches")
        assert (searches.used, searches.queue) == (1, ()), "the first's search left the window"


async def test_the_keeper_carries_its_budget_and_queue_across_continue_as_new(
    dev_env: WorkflowEnvironment,
) -> None:
    """A keeper whose history is long continues as new with what was spent and who waits."""
    limits = QuotaLimits(searches=2)
    async for saga in _world(dev_env, TenantLimits(), limits):
        keeper = await saga.client.start_workflow(
            QuotaKeeperWorkflow.run,
            QuotaKeeperInput(
                resource=saga.emulator.endpoint, limits=limits, continue_as_new_after=12
            ),
            id=quota_keeper_id(saga.emulator.endpoint),
            task_queue=saga.task_queue,
        )
        handles = [await saga.start(base_request()) for _ in range(4)]
        await _until_stages(saga, handles, {Stage.AWAITING_APPROVAL: 2, Stage.AWAITING_QUOTA: 2})
        described = await _keeper(saga).describe()
        assert described.run_id != keeper.first_execution_run_id, "it continued as new"
        view = await _view(saga)
        searches = next(line for line in view.lines if line.kind is QuotaKind.SEARCHES)
        assert (searches.used, len(searches.queue)) == (2, 2)
        await _keeper(saga).execute_update(
            QuotaKeeperWorkflow.grant, QuotaGrant(searches=4, by="ops")
        )
        await _until_stages(saga, handles, {Stage.AWAITING_APPROVAL: 4})
        for handle in handles:
            await handle.execute_update(
                ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="done")
            )
            await handle.result()
        saga.assert_clean()


async def test_the_operator_sees_the_queue_and_grants_from_the_cli(one_search: Saga) -> None:
    """numberflow quota, status, list and approve tell the truth about a saga in the queue;
    numberflow quota grant lets it go on."""
    saga = one_search
    resource = ("--resource", saga.emulator.endpoint)
    code, out, err = await cli(saga, "quota", *resource)
    assert code == 0 and "no saga has asked" in out, err
    code, _, err = await cli(saga, "quota", "grant", "--by", "ops", *resource)
    assert code == 2 and "--searches" in err

    first = await saga.start(base_request())
    await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
    queued = await saga.start(base_request())
    ticket = (await saga.wait_stage(queued, Stage.AWAITING_QUOTA)).ticket_id
    code, out, err = await cli(saga, "quota", *resource, "--json")
    assert code == 0, err
    searches = next(line for line in as_json(out)["lines"] if line["kind"] == "searches")
    assert (searches["limit"], searches["used"], searches["queue"]) == (1, 1, [ticket])
    code, out, err = await cli(saga, "quota", *resource)
    assert code == 0 and ticket in out and "searches" in out, err
    code, out, err = await cli(saga, "status", ticket)
    assert code == 0 and "waiting for ACS budget" in out and "place 1" in out, err
    code, out, err = await cli(saga, "list", "--stage", "awaiting_quota", "--json")
    assert code == 0 and ticket in out, err
    code, _, err = await cli(saga, "approve", ticket, "--approver", "alice")
    assert code == 1 and "only a rejection" in err

    emulator = saga.emulator.app.emulator  # Microsoft granted the support request
    emulator.numbers.limits.grant({"searches": 2}, emulator.clock.now())
    code, out, err = await cli(saga, "quota", "grant", "--searches", "2", "--by", "ops", *resource)
    assert code == 0 and "(granted)" in out, err
    await saga.wait_stage(queued, Stage.AWAITING_APPROVAL)
    for handle in (first, queued):
        await handle.execute_update(
            ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="done")
        )
        await handle.result()
    saga.assert_clean()


async def test_a_large_ticket_is_topped_up_one_admitted_browse_at_a_time(
    new_tenant: Saga,
) -> None:
    """25 numbers: a browse offers 20, so the reservation takes exactly two admitted browses."""
    saga = new_tenant
    handle = await saga.start(base_request(quantity=25))
    status = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL, timeout=40)
    assert len(status.numbers) == 25
    assert saga.state()["requestCounts"]["PhoneNumbers_BrowseAvailableNumbers"] == 2
    assert any(e.note and "browsing again" in e.note for e in status.timeline)
    searches = next(line for line in (await _view(saga)).lines if line.kind is QuotaKind.SEARCHES)
    assert searches.used == 2 and saga.limits()["searches"]["refused"] == 0
    await handle.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="done")
    )
    await handle.result()
    saga.assert_clean()


async def test_a_purchase_acs_refuses_for_the_limit_waits_and_is_bought_once_after_a_grant(
    dev_env: WorkflowEnvironment,
) -> None:
    """numberflow told no limit; ACS refuses the second purchase of the week: the saga waits
    with its hold (nothing bought, nothing to undo), then buys once after the grant."""
    async for saga in _world(dev_env, TenantLimits(purchases=1), None):
        first = await saga.start(base_request(quantity=1))
        await saga.approve(first)
        assert (await first.result()).outcome is Stage.COMPLETED
        second = await saga.start(base_request(quantity=1))
        await saga.approve(second)
        waiting = await saga.wait_stage(second, Stage.AWAITING_QUOTA)
        assert waiting.quota_wait and waiting.quota_wait.kind is QuotaKind.PURCHASES
        assert any(e.note and "refused the purchases" in e.note for e in waiting.timeline)
        assert saga.limits()["purchases"]["refused"] == 1 and len(saga.owned()) == 1

        await _grant(saga)
        result = await second.result()
        assert result.outcome is Stage.COMPLETED and len(saga.owned()) == 2
        assert saga.limits()["purchases"]["refused"] == 1, "not asked again before the grant"
        assert_well_mannered(saga)


async def test_a_saga_rejected_after_acs_refused_its_purchase_undoes_only_its_hold(
    dev_env: WorkflowEnvironment,
) -> None:
    """Nothing was bought by the refused purchase: the compensation lets the hold go and does
    not look for a purchase to release."""
    async for saga in _world(dev_env, TenantLimits(purchases=0), None):
        handle = await saga.start(base_request(quantity=1))
        await saga.approve(handle)
        await saga.wait_stage(handle, Stage.AWAITING_QUOTA)
        await handle.execute_update(
            ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="too slow")
        )
        assert (await handle.result()).outcome is Stage.REJECTED
        history = await handle.fetch_history()
        activities = {
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
        }
        assert "release_hold" in activities and "withdraw_quota" in activities
        assert not activities & {"settle_purchase", "release_numbers"}, activities
        saga.assert_clean()


async def test_the_ticket_hears_that_its_saga_waits_for_budget(one_search: Saga) -> None:
    """The callback of ``awaiting_quota`` tells the ticket system the place and the room time."""
    saga = one_search
    receiver = Receiver(failures=0)
    first = await saga.start(base_request())
    await saga.wait_stage(first, Stage.AWAITING_APPROVAL)
    with LoopbackServer(receiver.app) as server:
        queued = await saga.start(base_request(callback_url=f"{server.url}/callbacks"))
        await saga.wait_stage(queued, Stage.AWAITING_QUOTA)
        await queued.execute_update(
            ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="not now")
        )
        await queued.result()
    stages = [event["stage"] for event in receiver.received]
    assert stages[:2] == ["reserving", "awaiting_quota"] and "rejected" in stages, stages
    note = receiver.received[1]["note"]
    assert "searches budget: place 1" in note and "room at" in note, note
