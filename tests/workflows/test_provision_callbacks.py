"""Ticket callbacks: every stage change, signed, delivered even after the receiver was down."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contracts.provision import Stage
from contracts.signing import SIGNATURE_HEADER, verify
from tests.loopback import LoopbackServer
from tests.world import CALLBACK_SECRET, Saga, base_request


class Receiver:
    """A ticket system's callback endpoint that fails its first ``failures`` deliveries."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.received: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/callbacks", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> JSONResponse:
        self.attempts += 1
        body = await request.body()
        verify(request.headers.get(SIGNATURE_HEADER), body, [CALLBACK_SECRET], now=time.time())
        if self.attempts <= self.failures:
            return JSONResponse({"error": "down"}, status_code=500)
        self.received.append(await request.json())
        return JSONResponse({"ok": True})


async def test_callbacks_survive_a_failing_receiver(saga: Saga) -> None:
    """The receiver answers 500 at first; the saga completes and every stage arrives, in order."""
    receiver = Receiver(failures=4)
    with LoopbackServer(receiver.app) as server:
        request = base_request(
            callback_url=f"{server.url}/callbacks",
            approval={"mode": "auto_under_cost", "auto_approve_below": "100"},
        )
        handle = await saga.start(request)
        result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert sorted(saga.owned()) == sorted(result.numbers) and len(saga.routes()) == 1
    stages = [event["stage"] for event in receiver.received]
    assert stages == ["reserving", "purchasing", "configuring", "routing", "completed"]
    assert all(event["ticket_id"] == request.ticket_id for event in receiver.received)
    assert receiver.attempts == 4 + 5
    assert "url" not in receiver.received[0]


async def test_unreachable_callback_never_fails_the_saga(saga: Saga) -> None:
    """A callback URL nobody listens on: the saga still completes; the status records it."""
    request = base_request(
        callback_url="http://127.0.0.1:9/callbacks",
        approval={"mode": "auto_under_cost", "auto_approve_below": "100"},
    )
    handle = await saga.start(request)
    result = await handle.result()  # time skipping runs the retries out to the deadline
    assert result.outcome is Stage.COMPLETED
    assert sorted(saga.owned()) == sorted(result.numbers)
    status = await saga.status(handle)
    assert any("not delivered" in e or "never delivered" in e for e in status.errors)
