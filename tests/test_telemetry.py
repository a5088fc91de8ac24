"""The worker's metrics and probes: a real ``python -m worker`` with NUMBERFLOW_METRICS_ADDRESS,
a saga through it, and a scrape of what an operator's Prometheus would read."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from acs import PhoneNumbersClient
from contracts import metrics
from contracts.provision import Rejection, Stage, workflow_id_for
from emulator import EmulatorServer
from provisioning import start_release
from telemetry import acs_request_hooks, metrics_runtime, probe_app
from tests.conftest import EmulatorEnv
from tests.leaks import SCANNER
from tests.world import CONVERTER, base_request
from workflows import ProvisionNumbersWorkflow

ROOT = Path(__file__).resolve().parents[1]
AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:_total)?(\{{.*\}})?\s+([0-9.e+-]+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def test_a_saga_shows_in_the_worker_metrics(
    dev_env: WorkflowEnvironment, loopback_server: EmulatorServer
) -> None:
    port, queue = _free_port(), f"metrics-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ACS_")},
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "ACS_CONNECTION_STRING": loopback_server.connection_string,
        "NUMBERFLOW_TASK_QUEUE": queue,
        "NUMBERFLOW_METRICS_ADDRESS": f"127.0.0.1:{port}",
        "NUMBERFLOW_LOG_JSON": "true",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            request = base_request(approval=AUTO)
            handle = await dev_env.client.start_workflow(
                ProvisionNumbersWorkflow.run,
                request,
                id=workflow_id_for(request.ticket_id),
                task_queue=queue,
            )
            assert (await handle.result()).outcome is Stage.COMPLETED
            release = await start_release(dev_env.client, request.ticket_id, queue)
            assert len((await release.result()).numbers_released) == 2
            rejected = await dev_env.client.start_workflow(
                ProvisionNumbersWorkflow.run,
                base_request(),
                id=f"provision-T-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
            )
            while (await rejected.query(ProvisionNumbersWorkflow.status)).stage is not (
                Stage.AWAITING_APPROVAL
            ):
                await asyncio.sleep(0.1)
            await rejected.execute_update(
                ProvisionNumbersWorkflow.reject, Rejection(approver="carol", reason="no")
            )
            assert (await rejected.result()).outcome is Stage.REJECTED
            text = (await http.get("/metrics")).text
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
        SCANNER.scan_log_file("metrics worker", err)
    ours = {"task_queue": queue}
    assert _value(text, metrics.PROVISIONINGS_STARTED, **ours) == 2
    assert _value(text, metrics.PROVISIONINGS_ENDED, outcome="completed", **ours) == 1
    assert _value(text, metrics.NUMBERS_PURCHASED, **ours) == 2
    assert _value(text, metrics.MONTHLY_COST_COMMITTED, currency="USD", **ours) == 400
    assert _value(text, metrics.NUMBERS_RELEASED, **ours) == 2
    assert _value(text, metrics.PROVISIONINGS_ENDED, outcome="rejected", **ours) == 1
    assert _value(text, metrics.COMPENSATIONS, step="hold", result="succeeded", **ours) == 1
    assert _value(text, metrics.COMPENSATION_FAILED, **ours) == 0
    assert _value(text, metrics.ACS_LRO_POLLS, operation="reservationPurchase", **ours) >= 1
    assert _value(text, metrics.ACS_LRO_POLLS, operation="release", **ours) >= 2
    assert _value(text, metrics.STAGE_SECONDS + "_count", stage="purchasing", **ours) == 1
    assert "temporal_workflow_completed" in text  # the SDK's own metrics, same endpoint
    assert _value(text, metrics.ACS_REQUESTS, status_class="2xx") > 5
    assert 'operation="GET /phoneNumbers/{number}"' in text
    assert not re.search(r"(%2B|\+)\d{8,}", text), "a phone number became a label"


async def test_readyz_fails_while_temporal_is_down() -> None:
    unreachable = await Client.connect(
        f"127.0.0.1:{_free_port()}",
        lazy=True,
        data_converter=CONVERTER,
        retry_config=RetryConfig(max_retries=0),
    )
    running = True
    app = probe_app("http://127.0.0.1:1/metrics", unreachable, lambda: running)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://w"
    ) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503
        running = False
        assert (await http.get("/healthz")).status_code == 503


async def test_throttled_answers_and_their_retry_after_are_measured(asgi_env: EmulatorEnv) -> None:
    runtime, scrape_url = metrics_runtime()
    async with asgi_env.admin() as admin:
        await admin.post(
            "/faults",
            json={
                "path": "^/phoneNumbers$",
                "times": 1,
                "action": {"type": "status", "status": 429, "retryAfter": 1},
            },
        )
    async with (
        httpx.AsyncClient(
            transport=asgi_env.transport, event_hooks=acs_request_hooks(runtime)
        ) as http,
        PhoneNumbersClient.from_connection_string(
            asgi_env.connection_string, http_client=http
        ) as numbers,
    ):
        assert [n async for n in numbers.list_purchased_phone_numbers()] == []
        async with httpx.AsyncClient() as scrape:
            text = (await scrape.get(scrape_url)).text
    listing = {"operation": "GET /phoneNumbers"}
    assert _value(text, metrics.ACS_THROTTLED, **listing) == 1
    assert _value(text, metrics.ACS_RETRY_AFTER_SECONDS + "_sum", **listing) == 1
    assert _value(text, metrics.ACS_REQUESTS, status_class="2xx", **listing) == 1
