"""Every ingress request has an id: echoed to the caller, on its log lines, in a 500's body."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts.callback_hosts import CallbackHosts
from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from tests.helpers import client_with_a_bug
from tests.world import CONVERTER, base_request

SECRET = "request-id-webhook-secret"


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An ingress whose Temporal client has a bug on the start path: a created fails (500)."""
    app = create_app(await client_with_a_bug(CONVERTER), [SECRET], callback_hosts=CallbackHosts())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://i.test") as client:
        yield client


async def test_a_fresh_id_is_echoed_and_logged(
    http: httpx.AsyncClient, logged: Callable[[], list[dict[str, Any]]]
) -> None:
    response = await http.post("/webhooks/tickets", content=b"{}")
    assert response.status_code == 401
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32
    access = next(line for line in logged() if line["event"] == "request")
    assert {
        "request_id": request_id,
        "method": "POST",
        "route": "/webhooks/tickets",
        "status": 401,
    }.items() <= access.items()


@pytest.mark.parametrize(
    ("offered", "kept"),
    [("ticket-system:delivery-8812", True), ("x injected=1", False), ("a" * 129, False)],
)
async def test_a_callers_plain_id_is_kept_and_anything_else_replaced(
    http: httpx.AsyncClient, offered: str, kept: bool
) -> None:
    response = await http.get("/healthz", headers={"X-Request-Id": offered})
    assert response.status_code == 200
    assert (response.headers["X-Request-Id"] == offered) is kept


async def test_an_unhandled_error_names_the_request_to_look_up(
    http: httpx.AsyncClient, logged: Callable[[], list[dict[str, Any]]]
) -> None:
    """A bug: the 500 says which request id the logs file it under."""
    request = base_request()
    body = json.dumps({"event": "created", "request": request.model_dump(mode="json")}).encode()
    response = await http.post(
        "/webhooks/tickets",
        content=body,
        headers={SIGNATURE_HEADER: sign(SECRET, body, int(time.time()))},
    )
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    assert request_id in response.json()["error"]["message"]
    lines = logged()
    error = next(line for line in lines if line["event"] == "unhandled error")
    access = next(line for line in lines if line["event"] == "request")
    assert error["request_id"] == access["request_id"] == request_id
    assert access["status"] == 500
