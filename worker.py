"""The worker: settings → logging → ACS clients → activities → Temporal worker.

``python worker.py`` connects with the standard ``TEMPORAL_*`` configuration and serves every
workflow and activity on the ``numberflow`` task queue until SIGINT/SIGTERM, then drains.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import structlog
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Worker

from acs import Credential, HmacAuth, PhoneNumbersClient, SipRoutingClient, parse_connection_string
from activities import build_activities
from connection import TemporalConfigError, wait_for_temporal
from logconfig import LogContextInterceptor, configure_logging
from namespace_setup import (
    SearchAttributesMissing,
    Step,
    ensure_reconcile_schedule,
    require_search_attributes,
)
from settings import Settings, SettingsError, load
from telemetry import (
    acs_request_hooks,
    metrics_runtime,
    probe_app,
    serve_in_background,
    stage_gauges,
)
from tracing import TRACER_NAME, configure_tracing
from workflows import WORKFLOWS

__all__ = ["build_worker", "main", "open_acs_clients"]

log = structlog.get_logger("numberflow.worker")


async def open_acs_clients(
    settings: Settings, http: httpx.AsyncClient, stack: AsyncExitStack
) -> tuple[PhoneNumbersClient, SipRoutingClient]:
    """Both ACS clients over one pooled HTTP client."""
    if settings.acs_connection_string is not None:
        endpoint, key = parse_connection_string(settings.acs_connection_string.get_secret_value())
        credential: Credential = HmacAuth(key)
    else:
        from azure.identity.aio import DefaultAzureCredential

        endpoint = str(settings.acs_endpoint)
        credential = await stack.enter_async_context(DefaultAzureCredential())
    numbers = PhoneNumbersClient(endpoint, credential, http_client=http)
    sip = SipRoutingClient(endpoint, credential, http_client=http)
    return numbers, sip


def build_worker(
    client: Client,
    numbers: PhoneNumbersClient,
    sip: SipRoutingClient,
    http: httpx.AsyncClient,
    settings: Settings,
) -> Worker:
    """The worker for every workflow and activity of numberflow."""
    secret = settings.callback_secret.get_secret_value() if settings.callback_secret else None
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(
            numbers,
            sip,
            client,
            settings.task_queue,
            http=http,
            callback_secret=secret,
            callback_hosts=settings.callback_hosts(),
            quota_limits=settings.quota_limits(),
            service_desk_countries=settings.service_desk_countries(),
        ),
        interceptors=[LogContextInterceptor()],
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_cached_workflows=settings.max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )


async def main() -> None:
    """Run a worker until SIGINT or SIGTERM."""
    settings = load(Settings)
    configure_logging(settings.log_level, json=settings.log_json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime, sdk_metrics_url = (
        metrics_runtime(settings.metrics_prefix) if settings.metrics_address else (None, "")
    )
    tracer_provider = configure_tracing("numberflow-worker")
    tracer = tracer_provider.get_tracer(TRACER_NAME) if tracer_provider else None
    async with AsyncExitStack() as stack:
        if tracer_provider is not None:
            stack.callback(tracer_provider.shutdown)  # flush the last spans on the way out
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                timeout=httpx.Timeout(30, connect=10),
                event_hooks=acs_request_hooks(runtime, tracer) if runtime or tracer else None,
            )
        )
        numbers, sip = await open_acs_clients(settings, http, stack)
        connecting = wait_for_temporal(
            settings.keys(),
            log,
            runtime=runtime,
            interceptors=[TracingInterceptor(tracer)] if tracer else [],
        )
        client = await _until_stopped(connecting, stop)
        if client is None:
            log.info("worker stopped before Temporal was reachable")
            return
        await require_search_attributes(client)
        schedule = await ensure_reconcile_schedule(client, settings.task_queue, update=False)
        if schedule.step is Step.CREATED:
            log.info("reconciliation schedule created", schedule=schedule.item)
        worker = build_worker(client, numbers, sip, http, settings)
        if runtime is not None and settings.metrics_address:
            app = probe_app(sdk_metrics_url, client, lambda: worker.is_running)
            await stack.enter_async_context(serve_in_background(app, settings.metrics_address))
            every = timedelta(seconds=settings.stage_count_seconds)
            await stack.enter_async_context(
                stage_gauges(client, runtime, settings.task_queue, every)
            )
            log.info("metrics and probes served", address=settings.metrics_address)
        log.info("worker started", task_queue=settings.task_queue, acs=numbers.endpoint)
        async with worker:
            await stop.wait()
        log.info("worker stopped")


async def _until_stopped(connecting: Awaitable[Client], stop: asyncio.Event) -> Client | None:
    """The connection, or None when a stop signal comes first."""
    connect = asyncio.ensure_future(connecting)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if connect.done():
        return connect.result()
    connect.cancel()
    return None


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (SettingsError, TemporalConfigError) as error:
        sys.stderr.write(f"numberflow worker: configuration: {error}\n")
        sys.exit(2)
    except SearchAttributesMissing as error:
        sys.stderr.write(f"numberflow worker: {error}\n")
        sys.exit(2)
