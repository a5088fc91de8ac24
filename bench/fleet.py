"""Phases run against numberflow as it is deployed: worker processes (``python worker.py``) and
a Temporal dev server process of their own, so each one's memory can be read from ``/proc``.

(3) parks thousands of sagas at the approval and reads the worker's and the server's RSS, then
approves them all; (6) runs the same burst of sagas with one worker process, then two.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from cli._stack import dev_server_command, free_port, wait_for_dev_server
from contracts.ids import DECIDE_SIGNAL, workflow_id_for
from contracts.provision import Decision, DecisionKind, ProvisionRequest, Stage
from contracts.search_attributes import PROVISIONING_STAGE, TICKET_ID
from emulator import DEFAULT_ACCESS_KEY
from workflows import ProvisionNumbersWorkflow

from .tickets import bench_request

__all__ = ["Fleet", "fleet", "parked_sagas", "workers_compared"]

ROOT = Path(__file__).resolve().parents[1]
PHASE_TIMEOUT = 900.0
"""No wait of these phases runs longer than this (seconds)."""
CONCURRENCY = 100
PARKING_WAVE = 500
"""Sagas started together while parking thousands: half the worker's workflow cache, so the
sagas on their way to the approval stay cached (a burst larger than the cache makes the
worker replay evicted sagas over and over, which measures the burst, not the parked fleet)."""
"""Client calls (starts, Updates) in flight at once, as a busy ticket system would make."""


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from ``/proc`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


async def bounded(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int = CONCURRENCY) -> None:
    """Run the calls with at most ``limit`` in flight."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


class Fleet:
    """A dev server process, an emulator, and worker processes started on demand."""

    def __init__(self, client: Client, server_pid: int, address: str, acs_endpoint: str):
        self.client = client
        self.server_pid = server_pid
        self.address = address
        self.acs_endpoint = acs_endpoint
        self.queue = f"bench-fleet-{uuid.uuid4().hex[:6]}"
        """One task queue for every phase, as a deployment has: the resource's SIP writer runs on
        the queue of the worker that first started it, so a queue of its own per phase would
        leave the writer with no worker after the first phase."""

    @contextlib.asynccontextmanager
    async def workers(self, count: int) -> AsyncIterator[tuple[str, list[int]]]:
        """``count`` worker processes on the fleet's task queue; the queue and their pids."""
        queue = self.queue
        environment = {
            **os.environ,
            "TEMPORAL_ADDRESS": self.address,
            "ACS_CONNECTION_STRING": f"endpoint={self.acs_endpoint};accesskey={DEFAULT_ACCESS_KEY}",
            "NUMBERFLOW_TASK_QUEUE": queue,
            "NUMBERFLOW_LOG_LEVEL": "WARNING",
        }
        environment.pop("NUMBERFLOW_PAYLOAD_KEYS", None)  # the bench's client encodes nothing
        processes = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        try:
            await self._until_polled(queue, count)
            yield queue, [process.pid for process in processes]
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)

    async def _until_polled(self, queue: str, count: int) -> None:
        """Return once ``count`` workers poll the queue's workflow tasks (bounded)."""
        request = DescribeTaskQueueRequest(
            namespace=self.client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        for _ in range(600):
            answer = await self.client.workflow_service.describe_task_queue(request)
            if len({poller.identity for poller in answer.pollers}) >= count:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{count} workers did not poll {queue} within 60 s")

    async def start(self, requests: list[ProvisionRequest], queue: str) -> list[str]:
        """Start a saga per request; their workflow ids."""
        ids = [workflow_id_for(request.ticket_id) for request in requests]

        def starter(request: ProvisionRequest, workflow_id: str) -> Callable[[], Awaitable[Any]]:
            return lambda: self.client.start_workflow(
                ProvisionNumbersWorkflow.run, request, id=workflow_id, task_queue=queue
            )

        await bounded(starter(r, i) for r, i in zip(requests, ids, strict=True))
        return ids

    async def count(self, query: str) -> int:
        """Workflows matching a visibility query."""
        return (await self.client.count_workflows(query)).count

    async def until_count(self, query: str, wanted: int, timeout: float) -> float:
        """Seconds until ``wanted`` workflows match ``query``; raises after ``timeout``."""
        begun = time.perf_counter()
        while await self.count(query) < wanted:
            if time.perf_counter() - begun > timeout:
                raise TimeoutError(f"fewer than {wanted} workflows match {query!r}")
            await asyncio.sleep(0.5)
        return time.perf_counter() - begun

    async def approve(self, ids: list[str]) -> None:
        """Approve each saga by the ``decide`` signal, as the CLI and the ingress do.

        Not by Update: an Update's call waits for a worker to run it, and thousands of
        approvals of sagas evicted from the cache (each replayed first) outlast its deadline.
        """
        approval = Decision(decision=DecisionKind.APPROVED, approver="bench")

        def approver(workflow_id: str) -> Callable[[], Awaitable[Any]]:
            handle: WorkflowHandle[Any, Any] = self.client.get_workflow_handle(workflow_id)
            return lambda: handle.signal(DECIDE_SIGNAL, approval)

        await bounded(approver(i) for i in ids)

    async def until_none(self, query: str, timeout: float) -> None:
        """Return once no workflow matches ``query``; raise after ``timeout``."""
        begun = time.perf_counter()
        while await self.count(query):
            if time.perf_counter() - begun > timeout:
                raise TimeoutError(f"workflows still match {query!r}")
            await asyncio.sleep(0.5)


def awaiting_approval(batch: str) -> str:
    """The visibility query for a batch's sagas parked at the approval."""
    return (
        f"{TICKET_ID.name} STARTS_WITH '{batch}-' AND ExecutionStatus = 'Running' "
        f"AND {PROVISIONING_STAGE.name} = '{Stage.AWAITING_APPROVAL.value}'"
    )


def closed(batch: str) -> str:
    """The visibility query for a batch's sagas that ended."""
    return f"{TICKET_ID.name} STARTS_WITH '{batch}-' AND ExecutionStatus != 'Running'"


@contextlib.asynccontextmanager
async def fleet(acs_endpoint: str) -> AsyncIterator[Fleet]:
    """A dev server process (in memory) for worker processes; stopped when the block ends."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="numberflow-bench-") as folder:
        server = subprocess.Popen(
            dev_server_command(port, Path(folder) / "temporal.db", "--headless"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            address = f"127.0.0.1:{port}"
            client = await wait_for_dev_server(address, server, None)
            yield Fleet(client, server.pid, address, acs_endpoint)
        finally:
            server.terminate()
            server.wait(timeout=60)


async def parked_sagas(fleet: Fleet, n: int) -> dict[str, Any]:
    """(3) ``n`` sagas parked at the approval in one worker process: RSS, then approve them all.

    Run it last on a fleet: the approved sagas are still running when it returns.
    """
    async with fleet.workers(1) as (queue, (worker,)):
        await asyncio.sleep(2)  # connected and polling: the idle worker's memory
        worker_idle, server_idle = rss_mib(worker), rss_mib(fleet.server_pid)
        begun = time.perf_counter()
        batch = f"P{uuid.uuid4().hex[:4]}"
        ids: list[str] = []
        for wave in range(0, n, PARKING_WAVE):  # tickets arrive over time, not all at once
            size = min(PARKING_WAVE, n - wave)
            requests = [
                bench_request(1, routed=False, auto=False, batch=batch) for _ in range(size)
            ]
            ids += await fleet.start(requests, queue)
            await fleet.until_count(awaiting_approval(batch), len(ids), PHASE_TIMEOUT)
        parked_seconds = time.perf_counter() - begun
        worker_parked, server_parked = rss_mib(worker), rss_mib(fleet.server_pid)
        begun = time.perf_counter()
        await fleet.approve(ids)
        await fleet.until_none(awaiting_approval(batch), PHASE_TIMEOUT)  # all taken by the sagas
        approve_seconds = time.perf_counter() - begun
        # the approved sagas are not waited for: this is the run's last phase, and the
        # fleet's server goes with it
    row = {
        "parked": n,
        "parked_per_s": round(n / parked_seconds, 2),
        "worker_rss_idle_mib": worker_idle,
        "worker_rss_parked_mib": worker_parked,
        "worker_rss_growth_mib": round(worker_parked - worker_idle, 1),
        "server_rss_idle_mib": server_idle,
        "server_rss_parked_mib": server_parked,
        "approvals_per_s": round(n / approve_seconds, 2),
    }
    print(f"  parked: {row}", flush=True)
    return row


async def workers_compared(fleet: Fleet, n: int) -> list[dict[str, Any]]:
    """(6) The same burst of ``n`` auto-approved routed sagas on one worker process, then two."""
    rows = []
    for count in (1, 2):
        async with fleet.workers(count) as (queue, _):
            batch = f"W{uuid.uuid4().hex[:4]}"
            requests = [bench_request(1, routed=True, auto=True, batch=batch) for _ in range(n)]
            begun = time.perf_counter()
            await fleet.start(requests, queue)
            await fleet.until_count(closed(batch), n, PHASE_TIMEOUT)
            rows.append(
                {
                    "workers": count,
                    "n": n,
                    "sagas_per_s": round(n / (time.perf_counter() - begun), 2),
                }
            )
        print(f"  workers: {rows[-1]}", flush=True)
    return rows
