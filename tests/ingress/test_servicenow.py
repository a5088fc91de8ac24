"""ServiceNow requested items in, as the shipped Business Rule sends them.

The body is the one ``deploy/tickets/servicenow-business-rule.js`` builds; the mapping is the
shipped ``servicenow-mapping.toml``. Basic authentication, a bearer token, the optional HMAC,
a delivery re-sent, and changes that mean nothing each get the answer the README promises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from contracts.ids import workflow_id_for
from contracts.provision import Stage
from contracts.ticket_mapping import ServiceNowInbound, load_mapping
from ingress import create_app
from ingress._servicenow import SIGNATURE_HEADER
from tests.ingress_world import SECRET
from tests.world import CALLBACK_HOSTS, Saga

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "deploy" / "tickets" / "servicenow-mapping.toml"
USER = "numberflow.integration:s3cret-pass"
TOKEN = "snow-api-key"
HMAC_KEY = "snow-hmac-key"


def requested_item(number: str, operation: str = "insert", **changes: str) -> dict[str, Any]:
    """A requested item as the Business Rule posts it, now."""
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": int(time.time() * 1000),
        "operation": operation,
        "table": "sc_req_item",
        "number": number,
        "sys_id": uuid.uuid4().hex,
        "cat_item": "Request phone numbers",
        "updated_by": "alice.approver",
        "changes": changes,
        "variables": {
            "country": "US",
            "number_type": "Toll-free",
            "quantity": "2",
            "trunks": "sbc1.example.com:5061",
            "approvers": "alice.approver",
        },
    }


@pytest_asyncio.fixture
async def servicenow(saga: Saga) -> AsyncIterator[httpx.AsyncClient]:
    """The ingress with the ServiceNow endpoint (Basic, bearer and an HMAC key)."""
    mapping = load_mapping(MAPPING).servicenow
    assert mapping is not None
    inbound = ServiceNowInbound([USER], [TOKEN], [HMAC_KEY], mapping)
    app = create_app(
        saga.client,
        [SECRET],
        callback_hosts=CALLBACK_HOSTS,
        task_queue=saga.task_queue,
        servicenow=inbound,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress.test") as http:
        yield http


async def send(
    http: httpx.AsyncClient,
    payload: dict[str, Any],
    *,
    authorization: str = "Basic " + base64.b64encode(USER.encode()).decode(),
    key: str | None = HMAC_KEY,
) -> httpx.Response:
    """POST as RESTMessageV2 does, signed as the Business Rule signs (base64 HMAC)."""
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Authorization": authorization}
    if key is not None:
        mac = hmac.new(key.encode(), body, hashlib.sha256).digest()
        headers[SIGNATURE_HEADER] = base64.b64encode(mac).decode()
    return await http.post("/v1/tickets/servicenow", content=body, headers=headers)


async def test_a_requested_item_is_provisioned_and_its_approval_approves_it(
    saga: Saga, servicenow: httpx.AsyncClient
) -> None:
    """Insert starts the saga with the item's variables; approval=approved completes it."""
    created = await send(servicenow, requested_item("RITM0010042"))
    assert created.status_code == 202, created.text
    handle = saga.client.get_workflow_handle(workflow_id_for("RITM0010042"))
    waiting = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    assert waiting.approvers == ("alice.approver",) and len(waiting.numbers) == 2
    approved = requested_item("RITM0010042", "update", approval="approved")
    answer = await send(servicenow, approved, authorization=f"Bearer {TOKEN}")
    assert answer.status_code == 202, answer.text
    again = await send(servicenow, approved)  # the ECC queue re-sent it
    assert again.status_code == 200 and again.json() == {"duplicate": approved["event_id"]}
    result = await handle.result()
    assert result["outcome"] == "completed"
    assert sorted(saga.owned()) == sorted(result["numbers"])
    assert len((await saga.status(handle)).approvals) == 1


async def test_who_may_not_call_or_did_not_sign_is_refused_and_starts_nothing(
    saga: Saga, servicenow: httpx.AsyncClient
) -> None:
    """401 for a wrong password, a missing Authorization, a missing or wrong signature."""
    item = requested_item("RITM0010043")
    wrong = "Basic " + base64.b64encode(b"numberflow.integration:guess").decode()
    for answer in (
        await send(servicenow, item, authorization=wrong),
        await send(servicenow, item, authorization=""),
        await send(servicenow, item, key=None),
        await send(servicenow, item, key="another-key"),
    ):
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "BadSignature"
    assert (await send(servicenow, item, key=None)).json()["error"]["message"] == (
        f"missing {SIGNATURE_HEADER} header"
    )
    handle = saga.client.get_workflow_handle(workflow_id_for("RITM0010043"))
    assert (await send(servicenow, item)).status_code == 202  # the same item, signed: taken
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)


async def test_what_means_nothing_is_acknowledged_with_the_reason(
    saga: Saga, servicenow: httpx.AsyncClient
) -> None:
    """Another catalog item, a change no mapping names: 200 with why (not retried)."""
    other = {**requested_item("RITM0010044"), "cat_item": "New laptop"}
    answer = await send(servicenow, other)
    assert answer.json() == {"ignored": "catalog item 'New laptop' is not a number request"}
    edited = requested_item("RITM0010044", "update", state="2")
    answer = await send(servicenow, edited)
    assert answer.status_code == 200
    assert answer.json() == {"ignored": "the change (state=2) means nothing to numberflow"}
