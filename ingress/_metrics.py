"""The ingress's Prometheus metrics: requests by route, event and status, and their latency.

Kept in a registry of their own and served on a listener of their own (never on the public
webhook port): ``NUMBERFLOW_INGRESS_METRICS_ADDRESS``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["INGRESS_REQUESTS", "INGRESS_REQUEST_SECONDS", "instrument"]

INGRESS_REQUESTS = "numberflow_ingress_requests"
INGRESS_REQUEST_SECONDS = "numberflow_ingress_request_duration_seconds"


def instrument(app: FastAPI, registry: CollectorRegistry) -> None:
    """Count and time every request; the webhook's event type is a label (set by its handler)."""
    requests = Counter(
        INGRESS_REQUESTS,
        "Ingress requests",
        ["route", "event", "status"],
        registry=registry,
    )
    seconds = Histogram(
        INGRESS_REQUEST_SECONDS, "Ingress request latency", ["route"], registry=registry
    )

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        begun = time.monotonic()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        event = getattr(request.state, "event", "") or "-"
        requests.labels(route=route, event=event, status=str(response.status_code)).inc()
        seconds.labels(route=route).observe(time.monotonic() - begun)
        return response
