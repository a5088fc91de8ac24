"""The two ways tickets reach a saga in a chaos run: the ingress's webhooks, or Temporal directly.

Half the tickets arrive as a ticket system sends them: signed webhooks to the real ingress on
loopback, re-sent after a 5xx as Jira or ServiceNow would (honouring ``Retry-After``). Every
answer is counted; a 500 is a violation, since Temporal restarting is expected and must be a
503. The other half use ``provisioning`` directly, as the CLI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import httpx
import uvicorn
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from contracts.callback_hosts import CallbackHosts
from contracts.provision import Decision, Delivery, ProvisionRequest
from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from provisioning import (
    NoWorkerAnswered,
    ProvisioningRefused,
    cancel_provisioning,
    decide,
    deliver,
    start_provisioning,
)

__all__ = ["DirectTicketSystem", "TicketSystem", "WebhookTicketSystem", "serve_ingress"]

SECRET = "chaos-webhook-secret"
_ATTEMPTS = 120
_LONGEST_WAIT = 5.0
"""Seconds at most between two deliveries of one event."""


class TicketSystem(Protocol):
    """What the chaos driver asks of whoever delivers a ticket's events."""

    async def create(self, request: ProvisionRequest) -> bool:
        """Deliver ``created``; whether a new run started (False: a redelivery)."""

    async def decide(self, ticket_id: str, decision: Decision) -> None:
        """Approve or reject; a refusal (the saga moved on, a cancel won) is a fine answer."""

    async def cancel(self, ticket_id: str) -> None:
        """Cancel; a refusal (already ended) is a fine answer."""

    async def deliver(self, ticket_id: str, delivery: Delivery) -> None:
        """Deliver a manual order's numbers; a refusal (already ended) is a fine answer."""


class DirectTicketSystem:
    """``provisioning`` called directly, as the CLI does, retried through an outage."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def create(self, request: ProvisionRequest) -> bool:
        started = await retrying(
            lambda: start_provisioning(self._client, request, self._task_queue)
        )
        return bool(started.started)

    async def decide(self, ticket_id: str, decision: Decision) -> None:
        for _ in range(_ATTEMPTS):
            try:
                await decide(self._client, ticket_id, decision)
                return
            except ProvisioningRefused:
                return
            except (RPCError, WorkflowQueryFailedError, NoWorkerAnswered):
                await asyncio.sleep(0.5)  # Temporal is restarting, or no worker runs right now

    async def cancel(self, ticket_id: str) -> None:
        with contextlib.suppress(ProvisioningRefused):
            await retrying(lambda: cancel_provisioning(self._client, ticket_id))

    async def deliver(self, ticket_id: str, delivery: Delivery) -> None:
        for _ in range(_ATTEMPTS):
            try:
                await deliver(self._client, ticket_id, delivery)
                return
            except ProvisioningRefused:
                return
            except (RPCError, WorkflowQueryFailedError, NoWorkerAnswered):
                await asyncio.sleep(0.5)  # Temporal is restarting, or no worker runs right now


class WebhookTicketSystem:
    """Signed webhooks to the ingress, re-sent after a 5xx; every answer is counted."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.answers: Counter[int] = Counter()
        self.internal_errors: list[str] = []
        """One line per 500 the ingress answered: each is a violation."""

    async def create(self, request: ProvisionRequest) -> bool:
        answer = await self._deliver(
            {"event": "created", "request": request.model_dump(mode="json")}
        )
        return answer.status_code == 202

    async def decide(self, ticket_id: str, decision: Decision) -> None:
        verdict = decision.decision.value
        event = {"event": verdict, "ticket_id": ticket_id, "approver": decision.approver}
        event["comment" if verdict == "approved" else "reason"] = decision.note or "chaos"
        await self._deliver(event)

    async def cancel(self, ticket_id: str) -> None:
        await self._deliver({"event": "cancelled", "ticket_id": ticket_id})

    async def deliver(self, ticket_id: str, delivery: Delivery) -> None:
        await self._deliver(
            {
                "event": "numbers_delivered",
                "ticket_id": ticket_id,
                "numbers": list(delivery.numbers),
                "by": delivery.by,
                "delivery_id": delivery.delivery_id,
            }
        )

    async def _deliver(self, event: dict[str, Any]) -> httpx.Response:
        body = json.dumps(event).encode()
        for _ in range(_ATTEMPTS):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(SECRET, body, int(time.time())),
            }
            answer = await self._http.post("/webhooks/tickets", content=body, headers=headers)
            self.answers[answer.status_code] += 1
            if answer.status_code == 500:
                self.internal_errors.append(f"{event['event']}: {answer.text}")
            if answer.status_code < 500:
                return answer
            wait = float(answer.headers.get("Retry-After", "1"))
            await asyncio.sleep(min(wait, _LONGEST_WAIT))
        raise AssertionError(f"the ingress answered {event['event']} with 5xx {_ATTEMPTS} times")


@contextlib.asynccontextmanager
async def serve_ingress(client: Client, task_queue: str) -> AsyncIterator[WebhookTicketSystem]:
    """The real ingress app on a loopback port of this event loop, and a ticket system for it."""
    app = create_app(client, [SECRET], callback_hosts=CallbackHosts(), task_queue=task_queue)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises why it could not start
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield WebhookTicketSystem(http)
    finally:
        server.should_exit = True
        await serving
        listener.close()


async def retrying(action: Callable[[], Awaitable[Any]], attempts: int = _ATTEMPTS) -> Any:
    """Call through a Temporal outage (a restart takes a few seconds)."""
    for attempt in range(attempts):
        try:
            return await action()
        except (RPCError, NoWorkerAnswered):  # a ticket system re-sends after a 503
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    return None
