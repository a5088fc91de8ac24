"""Scale-out on one machine: two worker processes share a task queue, one is killed mid-run,
and every saga still completes with the single SIP writer correct. The guarantees with N
workers are the ones with one: Temporal hands the dead worker's tasks to the other."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts.ids import workflow_id_for
from contracts.provision import ProvisionRequest, Stage
from contracts.sip import exact_number_pattern, sip_workflow_id
from emulator import EmulatorConfig, EmulatorServer
from tests.chaos.processes import WorkerProcess
from tests.leaks import SCANNER
from tests.world import base_request
from workflows import ProvisionNumbersWorkflow

SAGAS = 20
AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


async def _until_both_poll(env: WorkflowEnvironment, queue: str) -> None:
    """Both workers poll the queue: work is spread from the first saga on."""
    request = DescribeTaskQueueRequest(
        namespace=env.client.namespace,
        task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    for _ in range(600):
        response = await env.client.workflow_service.describe_task_queue(request)
        if len({poller.identity for poller in response.pollers}) >= 2:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the two workers never both polled")


async def _identities(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """The workers that completed this run's workflow tasks."""
    history = await handle.fetch_history()
    return {
        event.workflow_task_completed_event_attributes.identity
        for event in history.events
        if event.event_type is EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    }


@pytest.mark.timeout(240)
async def test_two_workers_one_killed_every_saga_completes(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    config = EmulatorConfig(lro_seconds=0.2, numbers_per_area_code=60)
    with EmulatorServer(config) as acs:
        env = {
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "ACS_CONNECTION_STRING": acs.connection_string,
            "NUMBERFLOW_TASK_QUEUE": queue,
            "NUMBERFLOW_LOG_LEVEL": "WARNING",
            "NUMBERFLOW_LOG_JSON": "true",
        }
        workers = [WorkerProcess(f"worker-{i}", tmp_path, env) for i in range(2)]
        requests: list[ProvisionRequest] = [base_request(approval=AUTO) for _ in range(SAGAS)]
        try:
            for worker in workers:
                worker.start()
            await _until_both_poll(dev_env, queue)
            handles = [
                await dev_env.client.start_workflow(
                    ProvisionNumbersWorkflow.run,
                    request,
                    id=workflow_id_for(request.ticket_id),
                    task_queue=queue,
                )
                for request in requests
            ]
            results = [asyncio.ensure_future(handle.result()) for handle in handles]
            while sum(result.done() for result in results) < SAGAS // 4:
                await asyncio.sleep(0.05)
            busy = set()
            for handle in handles:
                busy |= await _identities(handle)
            victim = next(w for w in workers if f"{w.pid}@" in " ".join(busy))
            survivor = next(w for w in workers if w is not victim)
            victim_identity = next(i for i in busy if i.startswith(f"{victim.pid}@"))
            victim.kill()  # SIGKILL mid-run: its tasks and activities die in flight
            finished = await asyncio.wait_for(asyncio.gather(*results), 180)
        finally:
            for worker in workers:
                worker.close()
        state = acs.app.emulator.state()
    for log in tmp_path.glob("worker-*.log"):
        SCANNER.scan_log_file(f"scale-out {log.name}", log.read_text())

    assert [result.outcome for result in finished] == [Stage.COMPLETED] * SAGAS
    owned = {p["phoneNumber"] for p in state["phoneNumbers"]["purchasedNumbers"]}
    bought = [number for result in finished for number in result.numbers]
    assert len(bought) == len(set(bought)) == 2 * SAGAS  # no number twice, none missing
    assert set(bought) == owned  # and no orphan
    purchases = state["phoneNumbers"]["purchaseLog"]
    assert len(purchases) == len({(p["phoneNumber"], p["hold"]) for p in purchases})

    routes = {route["name"]: route["numberPattern"] for route in state["sip"]["routes"]}
    assert len(routes) == len(state["sip"]["routes"]) == SAGAS
    for request, result in zip(requests, finished, strict=True):
        assert routes[request.route_name] == exact_number_pattern(result.numbers)

    writers = [
        run
        async for run in dev_env.client.list_workflows(
            f"WorkflowType = 'SipRoutingWorkflow' AND TaskQueue = '{queue}'"
        )
    ]
    assert [run.id for run in writers] == [sip_workflow_id(acs.endpoint)]  # one writer

    served: set[str] = set()
    for handle in handles:
        served |= await _identities(handle)
    assert victim_identity in served  # the killed worker had taken part
    assert any(i.startswith(f"{survivor.pid}@") for i in served), served  # the other finished
