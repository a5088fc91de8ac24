"""(4) The ingress's cost: signed webhook starts vs the client's own starts, side by side.

Through ``numberflow ingress`` in its own process, and straight from the client, on the same
server, interleaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from cli._stack import free_port
from contracts.ids import workflow_id_for
from contracts.signing import SIGNATURE_HEADER, sign
from workflows import ProvisionNumbersWorkflow

from .tickets import bench_request

__all__ = ["ingress_vs_raw", "ms", "quantile"]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret"


async def ingress_vs_raw(client: Client, requests: int) -> dict[str, Any]:
    """p50/p99 of a signed webhook start through the ingress vs the client's own start.

    The ingress runs as it is deployed, in a process of its own (``numberflow ingress``).
    Both start sagas on a task queue no worker polls, so what is timed is the start path
    alone, not the CPU of sagas running meanwhile; the runs are terminated afterwards.
    """
    queue = f"bench-idle-{uuid.uuid4().hex[:6]}"
    via_ingress: list[float] = []
    raw: list[float] = []
    started: list[str] = []
    async with ingress_process(client, queue, SECRET) as http:
        for _ in range(requests):
            request = bench_request(1, routed=False, auto=True)
            body = json.dumps(
                {"event": "created", "request": request.model_dump(mode="json")}
            ).encode()
            begun = time.perf_counter()
            answer = await http.post(
                "/webhooks/tickets",
                content=body,
                headers={SIGNATURE_HEADER: sign(SECRET, body, int(time.time()))},
            )
            via_ingress.append(time.perf_counter() - begun)
            assert answer.status_code == 202, answer.text
            other = bench_request(1, routed=False, auto=True)
            begun = time.perf_counter()
            await client.start_workflow(
                ProvisionNumbersWorkflow.run,
                other,
                id=workflow_id_for(other.ticket_id),
                task_queue=queue,
            )
            raw.append(time.perf_counter() - begun)
            started += [workflow_id_for(t.ticket_id) for t in (request, other)]
    await asyncio.gather(*(client.get_workflow_handle(i).terminate() for i in started))
    result = {
        "requests": requests,
        "ingress_p50_ms": ms(quantile(via_ingress, 0.5)),
        "ingress_p99_ms": ms(quantile(via_ingress, 0.99)),
        "raw_p50_ms": ms(quantile(raw, 0.5)),
        "raw_p99_ms": ms(quantile(raw, 0.99)),
    }
    result["p99_ratio"] = round(result["ingress_p99_ms"] / result["raw_p99_ms"], 3)
    return result


@contextlib.asynccontextmanager
async def ingress_process(
    client: Client, task_queue: str, secret: str
) -> AsyncIterator[httpx.AsyncClient]:
    """``numberflow ingress`` in its own process, ready; an HTTP client for it."""
    port = free_port()
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "NUMBERFLOW_WEBHOOK_SECRETS": secret,
        "NUMBERFLOW_TASK_QUEUE": task_queue,
        "NUMBERFLOW_LOG_LEVEL": "warning",
    }
    ingress = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingress", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            yield http
    finally:
        ingress.terminate()
        ingress.wait(timeout=30)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
