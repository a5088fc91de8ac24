"""The worker's observability endpoint: Prometheus metrics and Kubernetes probes on one port.

The Temporal SDK serves its metrics (and numberflow's, recorded through its meters) on an
internal loopback port; this small server, on ``NUMBERFLOW_METRICS_ADDRESS``, answers
``/metrics`` from it, ``/healthz`` (the process and the worker run) and ``/readyz``
(Temporal answers and the worker runs). ACS calls are counted and timed by operation, with
paths reduced to templates so no phone number becomes a label; the sagas waiting for a person
are counted from Temporal's visibility.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import structlog
import uvicorn
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from acs import parse_retry_after
from contracts import metrics
from contracts.ids import PROVISION_WORKFLOW_TYPE
from contracts.provision import Stage
from contracts.search_attributes import PROVISIONING_STAGE

__all__ = [
    "acs_request_hooks",
    "metrics_runtime",
    "operation_of",
    "probe_app",
    "serve_in_background",
    "stage_gauges",
]

WAITING_STAGES = (
    Stage.AWAITING_QUOTA,
    Stage.AWAITING_APPROVAL,
    Stage.AWAITING_NUMBERS,
    Stage.NEEDS_ATTENTION,
)
"""The stages where a saga waits for a person or for budget: what an operator wants counted."""

_NUMBER = re.compile(r"/(?:%2[Bb]|\+)\d+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_READY_TIMEOUT = timedelta(seconds=3)

log = structlog.get_logger("numberflow.telemetry")


def metrics_runtime(prefix: str | None = None) -> tuple[Runtime, str]:
    """A Temporal runtime exporting Prometheus metrics on a free loopback port (its URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=address, durations_as_seconds=True),
            metric_prefix=prefix,
        )
    )
    return runtime, f"http://{address}/metrics"


def operation_of(request: httpx.Request) -> str:
    """``GET /phoneNumbers/{number}``-style: the method and the path without ids or numbers."""
    path = _UUID.sub("{id}", _NUMBER.sub("/{number}", request.url.path))
    return f"{request.method} {path}"


def acs_request_hooks(
    runtime: Runtime | None, tracer: Tracer | None = None
) -> dict[str, list[Callable[[Any], Any]]]:
    """Httpx event hooks that count and time every ACS request, and trace it when asked.

    A span is named after the operation's template and carries the status and the ids a
    support case quotes (``x-ms-client-request-id``, ``MS-CV``), never the URL itself.
    """
    hooks = _AcsRequestHooks(runtime.metric_meter if runtime else None, tracer)
    return {"request": [hooks.started], "response": [hooks.answered]}


class _AcsRequestHooks:
    """The instruments of ``acs_request_hooks`` and the two hooks that feed them."""

    def __init__(self, meter: MetricMeter | None, tracer: Tracer | None) -> None:
        self._tracer = tracer
        self._meter = meter
        if meter is None:
            return
        self._requests = meter.create_counter(metrics.ACS_REQUESTS, "ACS requests")
        self._seconds = meter.create_histogram_float(
            metrics.ACS_REQUEST_SECONDS, "ACS request latency", "seconds"
        )
        self._throttled = meter.create_counter(metrics.ACS_THROTTLED, "ACS answers 429")
        self._retry_after = meter.create_histogram_float(
            metrics.ACS_RETRY_AFTER_SECONDS, "Wait asked by a 429's Retry-After", "seconds"
        )

    async def started(self, request: httpx.Request) -> None:
        request.extensions["numberflow_started"] = time.monotonic()
        if self._tracer is not None:
            operation = operation_of(request)
            span = self._tracer.start_span(f"ACS {operation}", kind=SpanKind.CLIENT)
            span.set_attribute("acs.operation", operation)
            span.set_attribute("http.request.method", request.method)
            client_id = request.headers.get("x-ms-client-request-id")
            if client_id:
                span.set_attribute("acs.client_request_id", client_id)
            request.extensions["numberflow_span"] = span

    async def answered(self, response: httpx.Response) -> None:
        self._count(response)
        span = response.request.extensions.get("numberflow_span")
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            ms_cv = response.headers.get("MS-CV")
            if ms_cv:
                span.set_attribute("acs.ms_cv", ms_cv)
            if response.status_code >= 400:
                span.set_status(Status(StatusCode.ERROR))
            span.end()

    def _count(self, response: httpx.Response) -> None:
        if self._meter is None:
            return
        request = response.request
        labels = {
            "operation": operation_of(request),
            "status_class": f"{response.status_code // 100}xx",
        }
        self._requests.add(1, labels)
        begun = request.extensions.get("numberflow_started")
        if begun is not None:
            self._seconds.record(time.monotonic() - begun, labels)
        if response.status_code == 429:
            operation = {"operation": labels["operation"]}
            self._throttled.add(1, operation)
            wait = parse_retry_after(response.headers)
            if wait is not None:
                self._retry_after.record(wait, operation)


def probe_app(
    sdk_metrics_url: str, client: Client, worker_running: Callable[[], bool]
) -> Starlette:
    """``/metrics``, ``/healthz`` and ``/readyz`` for one worker."""

    async def metrics_text(_: Request) -> Response:
        async with httpx.AsyncClient(timeout=5) as scrape:
            response = await scrape.get(sdk_metrics_url)
        return PlainTextResponse(response.text, media_type="text/plain; version=0.0.4")

    async def healthz(_: Request) -> Response:
        if not worker_running():
            return JSONResponse({"status": "worker stopped"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if not worker_running():
            return JSONResponse({"status": "worker stopped"}, status_code=503)
        try:
            await client.service_client.check_health(timeout=_READY_TIMEOUT)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": "Temporal is not reachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            Route("/metrics", metrics_text),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


@contextlib.asynccontextmanager
async def stage_gauges(
    client: Client, runtime: Runtime, task_queue: str, every: timedelta
) -> AsyncIterator[None]:
    """While the block runs, count the running sagas in each waiting stage, ``every`` so often.

    A workflow cannot keep a gauge across runs, and counters of parkings and decisions drift
    with every worker restart: the count comes from Temporal's visibility, which is the truth
    the Web UI and ``numberflow list`` show.
    """
    gauge = runtime.metric_meter.create_gauge(
        metrics.PROVISIONINGS_IN_STAGE, "Running provisionings waiting in a stage"
    )

    async def count_forever() -> None:
        while True:
            for stage in WAITING_STAGES:
                query = (
                    f"WorkflowType = '{PROVISION_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
                    f" AND TaskQueue = '{task_queue}'"
                    f" AND {PROVISIONING_STAGE.name} = '{stage.value}'"
                )
                try:
                    counted = await client.count_workflows(query)
                except RPCError as error:
                    log.warning(
                        "could not count provisionings", stage=stage.value, error=str(error)
                    )
                    continue
                gauge.set(counted.count, {"stage": stage.value, "task_queue": task_queue})
            await asyncio.sleep(every.total_seconds())

    counting = asyncio.create_task(count_forever())
    try:
        yield
    finally:
        counting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counting


@contextlib.asynccontextmanager
async def serve_in_background(app: Any, address: str) -> AsyncIterator[None]:
    """Serve an ASGI app on ``host:port`` while the block runs."""
    host, _, port = address.rpartition(":")
    config = uvicorn.Config(
        app, host=host.strip("[]"), port=int(port), log_config=None, lifespan="off"
    )
    config.install_signal_handlers = False  # type: ignore[attr-defined]
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises why it could not start
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 10)
