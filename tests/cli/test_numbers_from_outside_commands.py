"""Numbers from outside, driven as people and ticket systems do: the CLI and signed webhooks.

A manual order is created, approved and partly delivered through the ingress, completed by
``numberflow deliver``; a ported ticket is provisioned and released by the CLI, which keeps
its numbers; ``confirm-released`` ends a release parked for Microsoft's service desk.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts.ids import workflow_id_for
from contracts.provision import Stage
from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from tests.cli.test_commands import as_json, cli
from tests.workflows.test_numbers_from_outside import AFTER, BEFORE, capabilities, onboard
from tests.world import CALLBACK_HOSTS, Saga, base_request

pytestmark = pytest.mark.slow

SECRET = "whsec-outside"


@pytest_asyncio.fixture
async def webhooks(dev_saga: Saga) -> AsyncIterator[httpx.AsyncClient]:
    """The ingress in front of the dev-server saga world (the CLI needs a real server)."""
    app = create_app(
        dev_saga.client, [SECRET], callback_hosts=CALLBACK_HOSTS, task_queue=dev_saga.task_queue
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress.test") as http:
        yield http


async def _post(http: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(SECRET, body, int(time.time())),
    }
    return await http.post("/webhooks/tickets", content=body, headers=headers)


async def test_a_manual_order_is_delivered_by_webhook_then_by_the_cli(
    dev_saga: Saga, webhooks: httpx.AsyncClient
) -> None:
    """created → approved → a partial delivery (one refused) → the rest by ``deliver``."""
    saga = dev_saga
    request = base_request(source="manual_order", quantity=2)
    ticket = request.ticket_id
    created = await _post(
        webhooks, {"event": "created", "request": request.model_dump(mode="json")}
    )
    assert created.status_code == 202, created.text
    handle = saga.client.get_workflow_handle(workflow_id_for(ticket))
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    approved = await _post(webhooks, {"event": "approved", "ticket_id": ticket, "approver": "al"})
    assert approved.status_code == 202, approved.text
    await saga.wait_stage(handle, Stage.AWAITING_NUMBERS)

    first, second = onboard(saga, 2, via="specialOrder")
    delivered = await _post(
        webhooks,
        {
            "event": "numbers_delivered",
            "ticket_id": ticket,
            "numbers": [first, "+18775550000"],
            "by": "porting-desk",
        },
    )
    assert delivered.status_code == 202, delivered.text
    record = delivered.json()["delivery"]
    assert record["accepted"] == [first]
    assert record["refused"] == ["+18775550000: not in the ACS resource"]

    code, out, err = await cli(saga, "status", ticket)
    assert code == 0 and "manual order: 2 tollFree number(s) in US" in out and "1 delivered" in out

    code, out, err = await cli(saga, "deliver", ticket, second, "--by", "ops", "--json")
    assert code == 0, err
    assert as_json(out)["accepted"] == [second] and as_json(out)["refused"] == []
    result = await handle.result()
    assert result["outcome"] == "completed" and result["numbers"] == [first, second]
    assert capabilities(saga, (first, second)) == dict.fromkeys((first, second), AFTER)

    code, _, err = await cli(saga, "deliver", ticket, first, "--by", "ops")
    assert code == 1 and f"ticket {ticket}'s provisioning already ended" in err


async def test_a_ported_ticket_by_the_cli_and_a_delivery_to_it_is_refused(dev_saga: Saga) -> None:
    """``provision --source existing --number``; ``deliver`` is refused; release keeps them."""
    saga = dev_saga
    numbers = onboard(saga, 1)
    ticket = base_request().ticket_id
    code, out, err = await cli(
        saga,
        "provision",
        "--ticket",
        ticket,
        "--source",
        "existing",
        "--number",
        numbers[0],
        "--country",
        "US",
        "--auto-approve-below",
        "100",
        "--trunk",
        "sbc1.example.com",
        "--wait",
        "--json",
    )
    assert code == 0, err
    assert as_json(out)["outcome"] == "completed"
    code, _, err = await cli(saga, "release", ticket, "--release-numbers")
    assert code == 2 and "--release-numbers needs --by" in err
    code, out, err = await cli(saga, "release", ticket)
    assert code == 0, err
    assert "1 numbers from outside kept in the resource" in out
    assert saga.owned() == list(numbers) and capabilities(saga, numbers) == {numbers[0]: BEFORE}
    code, out, err = await cli(saga, "release", ticket, "--release-numbers", "--by", "olivia")
    assert code == 0, err
    assert "released 1 numbers" in out and saga.owned() == []


async def test_a_release_parked_for_the_service_desk_is_confirmed_by_the_cli(
    service_desk: Saga,
) -> None:
    """``release`` says the numbers are not released yet and what to send; then confirm."""
    saga = service_desk
    request = base_request(approval={"mode": "auto_under_cost", "auto_approve_below": "100"})
    result = await (await saga.start(request)).result()
    ticket = request.ticket_id
    code, _, err = await cli(saga, "confirm-released", ticket, "--by", "ops")
    assert code == 1 and "has no release waiting for the service desk" in err
    code, out, err = await cli(saga, "release", ticket)
    assert code == 0, err
    assert "NOT released yet" in out and "ask Microsoft's service desk" in out
    assert sorted(saga.owned()) == sorted(result.numbers)
    code, out, err = await cli(saga, "confirm-released", ticket, "--by", "ops", "--note", "c-1")
    assert code == 0 and "confirmed to" in out, err
    code, out, err = await cli(saga, "reconcile", "--json")
    assert code == 0, err
    assert as_json(out)["release_pending_manual"] == []
