"""The ingress in front of a real saga world (time-skipping server, worker, emulator).

A pytest plugin of the whole suite (``tests/conftest.py``): CLI, ingress and security tests
all drive it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio

from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from tests.world import CALLBACK_HOSTS, Saga

SECRET = "whsec-current"
OLD_SECRET = "whsec-previous"
STATUS_TOKEN = "status-token-for-tests"


@dataclass
class Ingress:
    """An HTTP client bound to the ingress app, and helpers to sign events."""

    http: httpx.AsyncClient
    saga: Saga

    async def post(
        self,
        event: Any,
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = raw if raw is not None else json.dumps(event).encode()
        signature = sign(secret, body, int(time.time()) if timestamp is None else timestamp)
        all_headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            **(headers or {}),
        }
        return await self.http.post("/webhooks/tickets", content=body, headers=all_headers)


@pytest_asyncio.fixture
async def ingress(saga: Saga) -> AsyncIterator[Ingress]:
    app = create_app(
        saga.client,
        [SECRET, OLD_SECRET],
        status_tokens=[STATUS_TOKEN],
        callback_hosts=CALLBACK_HOSTS,
        task_queue=saga.task_queue,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://ingress.test",
        headers={"Authorization": f"Bearer {STATUS_TOKEN}"},
    ) as http:
        yield Ingress(http, saga)
