"""The ingress's own metrics: requests by route, event and status, in a registry of its own."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry

from ingress import create_app
from tests.ingress_world import SECRET, STATUS_TOKEN, Ingress
from tests.world import CALLBACK_HOSTS, Saga, base_request


async def test_requests_are_counted_by_event_and_status(saga: Saga) -> None:
    registry = CollectorRegistry()
    app = create_app(
        saga.client,
        [SECRET],
        status_tokens=[STATUS_TOKEN],
        callback_hosts=CALLBACK_HOSTS,
        task_queue=saga.task_queue,
        metrics_registry=registry,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://ingress.test",
        headers={"Authorization": f"Bearer {STATUS_TOKEN}"},
    ) as http:
        ingress = Ingress(http, saga)
        request = base_request()
        created = {"event": "created", "request": request.model_dump(mode="json")}
        assert (await ingress.post(created)).status_code == 202
        assert (await ingress.post(created)).status_code == 200
        assert (await ingress.post(created, secret="wrong")).status_code == 401
        assert (await http.get("/provisionings/T-nobody")).status_code == 404

    def count(route: str, event: str, status: str) -> float:
        labels = {"route": route, "event": event, "status": status}
        return registry.get_sample_value("numberflow_ingress_requests_total", labels) or 0.0

    assert count("/webhooks/tickets", "created", "202") == 1
    assert count("/webhooks/tickets", "created", "200") == 1
    assert count("/webhooks/tickets", "-", "401") == 1
    assert count("/provisionings/{ticket_id}", "-", "404") == 1
    latency = registry.get_sample_value(
        "numberflow_ingress_request_duration_seconds_count", {"route": "/webhooks/tickets"}
    )
    assert latency == 3
