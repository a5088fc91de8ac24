"""The long-running processes: ``worker``, ``ingress`` and ``codec-server``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
from typing import Annotated

import structlog
import typer
import uvicorn
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CollectorRegistry, make_asgi_app
from temporalio.contrib.opentelemetry import TracingInterceptor

from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import TOKENS_ENV_VAR, EncryptionCodec, create_codec_app
from connection import TemporalConfigError, wait_for_temporal
from contracts.ticket_mapping import MappingError
from ingress import create_app
from logconfig import LOG_LEVEL_VAR, configure_logging
from namespace_setup import SearchAttributesMissing, require_search_attributes
from settings import IngressSettings, SettingsError, load, variable
from telemetry import serve_in_background
from tracing import TRACER_NAME, configure_tracing

from ._common import fail, fail_each, payload_keys

__all__ = ["codec_server", "ingress", "worker"]

log = structlog.get_logger("numberflow.ingress")


def worker() -> None:
    """Run a worker (the same as python worker.py); configured by the environment."""
    import worker as worker_module

    try:
        asyncio.run(worker_module.main())
    except (SettingsError, TemporalConfigError) as error:
        fail(f"configuration: {error}", 2)
    except SearchAttributesMissing as error:
        fail(str(error), 2)


def ingress(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8080,
) -> None:
    """Serve the webhook ingress (NUMBERFLOW_WEBHOOK_SECRETS, NUMBERFLOW_STATUS_TOKENS...)."""
    try:
        settings = load(IngressSettings)
    except SettingsError as error:
        fail(f"configuration: {error}", 2)
    if not settings.secrets():
        fail("set NUMBERFLOW_WEBHOOK_SECRETS (comma-separated shared secrets)", 2)
    try:
        jira = settings.jira()
        servicenow = settings.servicenow()
    except MappingError as error:
        fail_each([f"configuration: {line}" for line in str(error).splitlines()], 2)
    configure_logging(settings.log_level, json=settings.log_json)

    provider = configure_tracing("numberflow-ingress")

    async def serve() -> None:
        tracer = provider.get_tracer(TRACER_NAME) if provider else None
        interceptors = [TracingInterceptor(tracer)] if tracer else []
        client = await wait_for_temporal(settings.keys(), log, interceptors=interceptors)
        await require_search_attributes(client)
        registry = CollectorRegistry() if settings.metrics_address else None
        app = create_app(
            client,
            settings.secrets(),
            status_tokens=settings.tokens(),
            callback_hosts=settings.callback_hosts(),
            task_queue=settings.task_queue,
            metrics_registry=registry,
            jira=jira,
            servicenow=servicenow,
        )
        if provider is not None:
            FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
        async with contextlib.AsyncExitStack() as stack:
            if registry is not None and settings.metrics_address:
                metrics_app = make_asgi_app(registry)
                await stack.enter_async_context(
                    serve_in_background(metrics_app, settings.metrics_address)
                )
            # The ingress writes one access line per request itself, with its request id.
            server = uvicorn.Server(
                uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
            )
            await server.serve()

    try:
        asyncio.run(serve())
    except (TemporalConfigError, SearchAttributesMissing) as error:
        fail(str(error), 2)
    except KeyboardInterrupt:
        pass
    finally:
        if provider is not None:
            provider.shutdown()  # flush the last spans


def codec_server(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8081,
    ui_origin: Annotated[
        list[str] | None,
        typer.Option(help="Origin of the Temporal Web UI allowed by CORS (repeatable)."),
    ] = None,
) -> None:
    """Serve /encode and /decode for the Temporal Web UI (keys from NUMBERFLOW_PAYLOAD_KEYS).

    Requests need "Authorization: Bearer TOKEN" with a token of NUMBERFLOW_CODEC_TOKENS;
    without tokens the server only binds to a loopback address.
    """
    keys = payload_keys()
    if keys is None:
        fail(f"set {PAYLOAD_KEYS_VAR}: the codec server decrypts with those keys", 2)
    try:
        configured = variable(TOKENS_ENV_VAR) or ""
    except SettingsError as error:
        fail(f"configuration: {error}", 2)
    tokens = [t.strip() for t in configured.split(",") if t.strip()]
    if not tokens and not _is_loopback(host):
        fail(f"set {TOKENS_ENV_VAR} to serve on {host}; without tokens only loopback", 2)
    origins = ui_origin or ["http://localhost:8233", "http://127.0.0.1:8233"]
    configure_logging(os.environ.get(LOG_LEVEL_VAR, "info"))
    app = create_codec_app(EncryptionCodec(keys), tokens=tokens, ui_origins=origins)
    uvicorn.run(app, host=host, port=port, log_config=None)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
