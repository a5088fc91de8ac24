"""OpenTelemetry tracing: off by default, on by the standard ``OTEL_*`` environment.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, the
worker and the ingress export spans over OTLP/HTTP: the ingress's requests (FastAPI), the
Temporal client and worker (``TracingInterceptor``: start, run, activities, signals) and every
ACS request (``telemetry.acs_request_hooks``: the operation's template, status and support ids,
never a phone number), one trace from a webhook to the ACS call it caused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = ["TRACER_NAME", "configure_tracing", "tracing_requested"]


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard environment asks for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


TRACER_NAME = "numberflow"
"""The instrumentation scope of numberflow's own spans (ACS requests, Temporal calls)."""


def configure_tracing(service: str) -> TracerProvider | None:
    """Install the global tracer provider with the OTLP exporter, when asked; else None."""
    if not tracing_requested():
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME", service)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
