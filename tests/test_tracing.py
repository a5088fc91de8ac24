"""One trace from ``POST /webhooks/tickets`` to the ACS purchase it causes, no phone number
in any span attribute, and log lines that name their trace (OpenTelemetry with an in-memory
exporter)."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid

import httpx
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from acs import PhoneNumbersClient, SipRoutingClient
from activities import build_activities
from contracts.ids import workflow_id_for
from contracts.provision import ProvisionResult, Stage
from contracts.signing import SIGNATURE_HEADER, sign
from emulator import EmulatorConfig
from emulator import create_app as create_emulator
from ingress import create_app
from logconfig import LogContextInterceptor, build_formatter
from telemetry import acs_request_hooks
from tests.conftest import EmulatorEnv
from tests.world import CALLBACK_HOSTS, CONVERTER, base_request
from tracing import tracing_requested
from workflows import WORKFLOWS

SECRET = "tracing-webhook-secret"
AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


def test_tracing_is_off_unless_the_environment_asks() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing_requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    )


async def test_one_trace_from_the_webhook_to_the_acs_purchase(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("numberflow-test")
    client = Client(
        time_skipping_env.client.service_client,
        namespace=time_skipping_env.client.namespace,
        data_converter=CONVERTER,
        interceptors=[TracingInterceptor(tracer)],
    )
    app = create_emulator(EmulatorConfig(lro_seconds=0.0))
    emulator = EmulatorEnv(
        "asgi", app, f"http://acs-{uuid.uuid4().hex[:8]}.test", httpx.ASGITransport(app=app)
    )
    queue = f"tracing-{uuid.uuid4().hex[:8]}"
    ingress = create_app(client, [SECRET], callback_hosts=CALLBACK_HOSTS, task_queue=queue)
    FastAPIInstrumentor.instrument_app(ingress, tracer_provider=provider)
    request = base_request(approval=AUTO)
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(build_formatter(json=True))
    logging.getLogger().addHandler(handler)
    client_logger = logging.getLogger("httpx")  # its request lines are debug in production
    client_level = client_logger.level
    client_logger.setLevel(logging.INFO)
    body = json.dumps({"event": "created", "request": request.model_dump(mode="json")}).encode()
    async with (
        httpx.AsyncClient(
            transport=emulator.transport, event_hooks=acs_request_hooks(None, tracer)
        ) as acs_http,
        PhoneNumbersClient.from_connection_string(
            emulator.connection_string, http_client=acs_http
        ) as numbers,
        SipRoutingClient.from_connection_string(
            emulator.connection_string, http_client=acs_http
        ) as sip,
        Worker(
            client,
            task_queue=queue,
            workflows=WORKFLOWS,
            activities=build_activities(numbers, sip, client, queue, http=acs_http),
            interceptors=[LogContextInterceptor()],
        ),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ingress), base_url="http://ingress.test"
        ) as http,
    ):
        response = await http.post(
            "/webhooks/tickets",
            content=body,
            headers={SIGNATURE_HEADER: sign(SECRET, body, int(time.time()))},
        )
        assert response.status_code == 202, response.text
        handle = client.get_workflow_handle(
            workflow_id_for(request.ticket_id), result_type=ProvisionResult
        )
        assert (await handle.result()).outcome is Stage.COMPLETED
    logging.getLogger().removeHandler(handler)
    client_logger.setLevel(client_level)
    spans = exporter.get_finished_spans()
    webhook = next(s for s in spans if s.name == "POST /webhooks/tickets")
    purchase = next(s for s in spans if s.name.startswith("ACS POST") and ":purchase" in s.name)
    assert purchase.context.trace_id == webhook.context.trace_id
    assert purchase.attributes and purchase.attributes["http.response.status_code"] == 202
    assert purchase.attributes.get("acs.client_request_id")
    for span in spans:
        for value in (span.attributes or {}).values():
            assert not re.search(r"(\+|%2B)\d{8,}", str(value)), (span.name, value)

    trace_id = f"{webhook.context.trace_id:032x}"
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    access = next(line for line in lines if line["event"] == "request")
    assert (
        access["trace_id"] == trace_id and access["request_id"] == response.headers["X-Request-Id"]
    )
    bought = [line for line in lines if ":purchase" in line["event"]]
    assert bought and all(line["trace_id"] == trace_id for line in bought), bought
