"""Findings 1, 4 and 5 at the ingress: status reads need a token, bodies are bounded while
they stream, and an unhandled error's log line carries no secret."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.callback_hosts import CallbackHosts
from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from logconfig import build_formatter
from tests.helpers import client_with_a_bug
from tests.ingress_world import SECRET, STATUS_TOKEN, Ingress
from tests.world import CONVERTER, Saga, base_request

LIMIT = 64 * 1024


async def _created(ingress: Ingress) -> str:
    request = base_request()
    response = await ingress.post({"event": "created", "request": request.model_dump(mode="json")})
    assert response.status_code == 202
    return request.ticket_id


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Basic {STATUS_TOKEN}", f"Bearer {STATUS_TOKEN}x"],
)
async def test_status_needs_a_valid_bearer_token(
    ingress: Ingress, authorization: str | None
) -> None:
    ticket = await _created(ingress)
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(
        transport=ingress.http._transport, base_url="http://i.test"
    ) as bare:
        refused = await bare.get(f"/provisionings/{ticket}", headers=headers)
    assert refused.status_code == 401
    assert "numbers" not in refused.text and ticket not in refused.text
    allowed = await ingress.http.get(f"/provisionings/{ticket}")  # carries the token
    assert allowed.status_code == 200 and allowed.json()["ticket_id"] == ticket


async def test_without_status_tokens_nobody_reads_a_status(saga: Saga) -> None:
    app = create_app(saga.client, [SECRET], task_queue=saga.task_queue)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://i.test") as http:
        response = await http.get(
            "/provisionings/T-any", headers={"Authorization": f"Bearer {STATUS_TOKEN}"}
        )
    assert response.status_code == 401


async def test_a_chunked_body_is_refused_while_it_streams(ingress: Ingress) -> None:
    """48 MiB without Content-Length: refused after about the limit, not read whole."""
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(48):
            sent += 1
            yield b"x" * (1024 * 1024)

    response = await ingress.http.post(
        "/webhooks/tickets", content=body(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert sent <= 2  # one chunk is over the limit; the rest was never pulled


async def test_an_unhandled_error_logs_no_secret_and_stays_small(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug on the start path: a 500, and a log line without frame locals."""
    broken = await client_with_a_bug(CONVERTER)
    app = create_app(
        broken,
        ["webhook-secret-in-a-frame"],
        status_tokens=["status-token-in-a-frame"],
        callback_hosts=CallbackHosts(),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    request = base_request()
    body = json.dumps({"event": "created", "request": request.model_dump(mode="json")}).encode()
    headers = {SIGNATURE_HEADER: sign("webhook-secret-in-a-frame", body, int(time.time()))}
    with caplog.at_level(logging.ERROR, logger="numberflow.ingress"):
        async with httpx.AsyncClient(transport=transport, base_url="http://i.test") as http:
            response = await http.post("/webhooks/tickets", content=body, headers=headers)
    assert response.status_code == 500
    assert "secret" not in response.text
    records = [r for r in caplog.records if r.name == "numberflow.ingress"]
    assert records, "the unhandled error was not logged"
    for formatter in (build_formatter(json=True), build_formatter(json=False)):
        line = formatter.format(records[0])
        assert "webhook-secret-in-a-frame" not in line
        assert "status-token-in-a-frame" not in line
        assert len(line) < 8 * 1024, f"{len(line)} bytes"
    assert "Error" in build_formatter(json=True).format(records[0])
