"""Temporal restarting under the ingress: 503 with ``Retry-After`` and one WARNING, never a 500.

A real dev server is stopped (SIGTERM, then SIGKILL) while the ingress is asked each kind of
request a ticket system sends: created, a decision, a cancel and a status read. Temporal
being briefly away is expected, so the answer is "try again" (503) and the log says so in one
line without a traceback; once Temporal is back the same deliveries go through and nothing
sent before the outage was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from connection import RETRY_AFTER_OUTAGE
from contracts.callback_hosts import CallbackHosts
from contracts.ids import PROVISION_WORKFLOW_TYPE, workflow_id_for
from contracts.provision import ProvisionRequest
from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from tests.chaos.processes import DevServer
from tests.world import CONVERTER, base_request
from workflows import ProvisionNumbersWorkflow

from .conftest import Logged

pytestmark = pytest.mark.slow

SECRET = "outage-webhook-secret"
TOKEN = "outage-status-token"
QUEUE = "outage"
DOWN = 12.0
"""Seconds the server stays down: longer than the client's own retries of an unreachable server."""


@pytest_asyncio.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    server = DevServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.close()


@contextlib.asynccontextmanager
async def _ingress(client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """The ingress app in front of ``client``, and an HTTP client holding a status token."""
    app = create_app(
        client, [SECRET], status_tokens=[TOKEN], callback_hosts=CallbackHosts(), task_queue=QUEUE
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://ingress.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    ) as http:
        yield http


def _signed(event: Mapping[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(SECRET, body, int(time.time())),
    }


async def _deliver(http: httpx.AsyncClient, event: Mapping[str, object]) -> httpx.Response:
    body, headers = _signed(event)
    return await http.post("/webhooks/tickets", content=body, headers=headers)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_every_request_kind_is_503_while_temporal_is_down(
    dev_server: DevServer, logged: Logged, how: signal.Signals
) -> None:
    client = await dev_server.connect(CONVERTER)
    first, second = base_request(), base_request()
    created_first = {"event": "created", "request": first.model_dump(mode="json")}
    created_second = {"event": "created", "request": second.model_dump(mode="json")}
    async with _ingress(client) as http:
        # A worker runs the saga's first step (its activities are left to nobody), and stops.
        async with Worker(client, task_queue=QUEUE, workflows=[ProvisionNumbersWorkflow]):
            assert (await _deliver(http, created_first)).status_code == 202
            assert (await http.get(f"/provisionings/{first.ticket_id}")).status_code == 200

        dev_server.stop(how)
        answers = await asyncio.gather(
            _deliver(http, created_second),
            _deliver(http, {"event": "approved", "ticket_id": first.ticket_id, "approver": "ops"}),
            _deliver(http, {"event": "cancelled", "ticket_id": first.ticket_id}),
            http.get(f"/provisionings/{first.ticket_id}"),
        )
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == str(RETRY_AFTER_OUTAGE)
            assert answer.json()["error"]["code"] == "TemporalUnavailable"
        lines = logged()
        outages = [line for line in lines if line["event"] == "temporal unavailable"]
        assert sorted(line["request_id"] for line in outages) == sorted(
            a.headers["X-Request-Id"] for a in answers
        )
        assert all(line["level"] == "warning" for line in outages)
        assert not [line for line in lines if "exception" in line or "exc_info" in line]
        assert not [line for line in lines if line["level"] in ("error", "critical")]

        dev_server.start()  # same database: what was accepted before the outage is still there
        # A server just restarted has seen no worker poll since, and refuses a query outright ("no
        # poller seen for task queue recently"): that is "no worker answered", not a bug.
        unanswered = await http.get(f"/provisionings/{first.ticket_id}")
        assert unanswered.status_code == 503, unanswered.text
        assert unanswered.json()["error"]["code"] == "NoWorker"
        again = await _deliver(http, created_first)
        assert again.status_code == 200 and again.json()["note"] == "already provisioned"
        assert (await _deliver(http, created_second)).status_code == 202  # the retry starts it


@pytest.mark.timeout(240)
async def test_requests_in_flight_when_temporal_dies_are_never_500(
    dev_server: DevServer, logged: Logged
) -> None:
    """Requests of every kind keep arriving while the server is SIGKILLed and restarted."""
    client = await dev_server.connect(CONVERTER)
    waiting = base_request()
    answers: list[httpx.Response] = []
    async with (
        _ingress(client) as http,
        Worker(client, task_queue=QUEUE, workflows=[ProvisionNumbersWorkflow]),
    ):
        created = {"event": "created", "request": waiting.model_dump(mode="json")}
        assert (await _deliver(http, created)).status_code == 202

        async def ticket_system(until: float) -> None:
            while asyncio.get_running_loop().time() < until:
                fresh = {"event": "created", "request": base_request().model_dump(mode="json")}
                answers.extend(
                    await asyncio.gather(
                        _deliver(http, fresh),
                        _deliver(http, {"event": "cancelled", "ticket_id": "T-nobody"}),
                        _deliver(
                            http,
                            {
                                "event": "rejected",
                                "ticket_id": "T-nobody",
                                "approver": "ops",
                                "reason": "no",
                            },
                        ),  # fmt: skip
                        http.get(f"/provisionings/{waiting.ticket_id}"),
                    )
                )

        until = asyncio.get_running_loop().time() + DOWN + 5
        sending = asyncio.create_task(ticket_system(until))
        await asyncio.sleep(1.5)
        dev_server.stop(signal.SIGKILL)
        await asyncio.sleep(DOWN)
        dev_server.start()
        await sending
    codes = {answer.status_code for answer in answers}
    assert 500 not in codes, [a.text for a in answers if a.status_code == 500][:3]
    assert 503 in codes and 202 in codes, codes
    assert not [line for line in logged() if line["level"] in ("error", "critical")]


@workflow.defn(name=PROVISION_WORKFLOW_TYPE, sandboxed=False)
class _FailingTask:
    """A saga whose workflow task fails every time (as one does after a worker died in it)."""

    @workflow.run
    async def run(self, request: ProvisionRequest) -> None:  # noqa: ARG002
        raise RuntimeError("this workflow task fails")


@pytest.mark.timeout(120)
async def test_a_saga_whose_workflow_task_is_retried_is_503_not_500(
    dev_server: DevServer, logged: Logged
) -> None:
    """The server refuses its status query ("Workflow Task in failed state"): the ingress
    answers 503 NoWorker for a status read and a cancel, and logs no error."""
    client = await dev_server.connect(CONVERTER)
    request = base_request()
    async with _ingress(client) as http, Worker(client, task_queue=QUEUE, workflows=[_FailingTask]):
        await client.start_workflow(
            PROVISION_WORKFLOW_TYPE,
            request,
            id=workflow_id_for(request.ticket_id),
            task_queue=QUEUE,
        )
        deadline = time.monotonic() + 60
        while True:  # the first attempt may still be answered by the worker (as a failed query)
            status = await http.get(f"/provisionings/{request.ticket_id}")
            assert status.status_code != 500, status.text
            if status.status_code == 503 and "being retried" in status.text:
                break
            assert time.monotonic() < deadline, status.text
            await asyncio.sleep(0.5)
        assert status.json()["error"]["code"] == "NoWorker"
        cancel = await _deliver(http, {"event": "cancelled", "ticket_id": request.ticket_id})
        assert cancel.status_code == 503 and "being retried" in cancel.text, cancel.text
    assert not [line for line in logged() if line["level"] in ("error", "critical")]
