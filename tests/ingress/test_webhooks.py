"""Ticket webhooks: signed events start, approve, reject, cancel and release; bad ones are refused."""

from __future__ import annotations

import time
from typing import Any

import pytest

from contracts.provision import ProvisionResult, Stage
from tests.ingress_world import OLD_SECRET, Ingress
from tests.world import base_request


def created(**overrides: Any) -> dict[str, Any]:
    return {"event": "created", "request": base_request(**overrides).model_dump(mode="json")}


async def test_created_is_idempotent_and_approval_moves_it_on(ingress: Ingress) -> None:
    """created starts one saga; a redelivery returns the same id; approved moves it; a second approval is refused (409)."""
    event = created()
    ticket = event["request"]["ticket_id"]
    first = await ingress.post(event)
    assert first.status_code == 202
    assert first.json()["workflow_id"] == f"provision-{ticket}"
    assert first.json()["status_url"] == f"/provisionings/{ticket}"
    again = await ingress.post(event)
    assert again.status_code == 200 and again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["status"] == "RUNNING" and again.json()["note"] == "already provisioned"
    handle = ingress.saga.client.get_workflow_handle(
        f"provision-{ticket}", result_type=ProvisionResult
    )
    await ingress.saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    approved = await ingress.post({"event": "approved", "ticket_id": ticket, "approver": "alice"})
    assert approved.status_code == 202
    second = await ingress.post(
        {"event": "approved", "ticket_id": ticket, "approver": "bob"}, secret=OLD_SECRET
    )
    assert second.status_code == 409
    assert (
        "already approved" in second.json()["error"]["message"]
        or "not awaiting approval" in second.json()["error"]["message"]
    )
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    status = await ingress.http.get(f"/provisionings/{ticket}")
    assert status.status_code == 200 and status.json()["stage"] == "completed"
    after = await ingress.post(event)  # a late redelivery of a finished ticket buys nothing
    assert after.status_code == 200 and after.json()["note"] == "already provisioned"
    assert after.json()["status"] == "COMPLETED"
    late_cancel = await ingress.post({"event": "cancelled", "ticket_id": ticket})
    assert late_cancel.status_code == 409
    assert "already ended completed" in late_cancel.json()["error"]["message"]
    assert ingress.saga.state()["requestCounts"]["PhoneNumbers_PurchaseReservation"] == 1


async def test_rejected_cancelled_and_release(ingress: Ingress) -> None:
    """rejected and cancelled end sagas cleanly; release_requested releases a completed ticket."""
    rejected = created()
    ticket = rejected["request"]["ticket_id"]
    await ingress.post(rejected)
    await ingress.saga.wait_stage(
        ingress.saga.client.get_workflow_handle(f"provision-{ticket}"), Stage.AWAITING_APPROVAL
    )
    answer = await ingress.post(
        {"event": "rejected", "ticket_id": ticket, "approver": "alice", "reason": "no budget"}
    )
    assert answer.status_code == 202
    ended = await ingress.saga.client.get_workflow_handle(
        f"provision-{ticket}", result_type=ProvisionResult
    ).result()
    assert (
        ended.outcome is Stage.REJECTED
        and ended.note == "Rejected: no budget"
        and ended.numbers == ()
    )

    cancelled = created()
    other = cancelled["request"]["ticket_id"]
    await ingress.post(cancelled)
    handle = ingress.saga.client.get_workflow_handle(f"provision-{other}")
    await ingress.saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    assert (await ingress.post({"event": "cancelled", "ticket_id": other})).status_code == 202
    await ingress.saga.wait_stage(handle, Stage.COMPENSATED)

    done = created(approval={"mode": "auto_under_cost", "auto_approve_below": "100"})
    third = done["request"]["ticket_id"]
    await ingress.post(done)
    await ingress.saga.client.get_workflow_handle(f"provision-{third}").result()
    assert len(ingress.saga.owned()) == 2
    release = await ingress.post({"event": "release_requested", "ticket_id": third})
    assert release.status_code == 202 and release.json()["workflow_id"] == f"release-{third}"
    await ingress.saga.client.get_workflow_handle(f"release-{third}").result()
    ingress.saga.assert_clean()


@pytest.mark.parametrize(
    "how", ["bad signature", "missing header", "stale timestamp", "unknown secret"]
)
async def test_signature_failures_are_401(ingress: Ingress, how: str) -> None:
    """Anything but a fresh signature by a current secret is 401, and nothing starts."""
    event = created()
    if how == "bad signature":
        response = await ingress.post(event, headers={"X-Numberflow-Signature": "t=1,v1=00"})
    elif how == "missing header":
        response = await ingress.http.post("/webhooks/tickets", json=event)
    elif how == "stale timestamp":
        response = await ingress.post(event, timestamp=int(time.time()) - 301)
    else:
        response = await ingress.post(event, secret="not-a-secret")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "BadSignature"
    assert "Traceback" not in response.text
    ticket = event["request"]["ticket_id"]
    assert (
        await ingress.http.get(f"/provisionings/{ticket}")
    ).status_code == 404  # nothing started


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        ({"event": "exploded", "ticket_id": "T-1"}, "event"),
        (
            {
                "event": "created",
                "request": {**base_request().model_dump(mode="json"), "country_code": "usa"},
            },
            "country_code",
        ),
        (
            {
                "event": "created",
                "request": {**base_request().model_dump(mode="json"), "quantity": 0},
            },
            "quantity",
        ),
        (
            {
                "event": "created",
                "request": {
                    **base_request().model_dump(mode="json"),
                    "routing": {"trunks": [{"fqdn": "no host"}]},
                },
            },
            "fqdn",
        ),
    ],
)
async def test_invalid_events_are_422_naming_the_field(
    ingress: Ingress, body: Any, field: str | None
) -> None:
    """Malformed JSON, unknown events and invalid requests: 422 with the field; nothing starts."""
    response = await (
        ingress.post(None, raw=body) if isinstance(body, bytes) else ingress.post(body)
    )
    assert response.status_code == 422
    if field:
        assert field in response.json()["error"]["message"]
    listing = ingress.saga.state()["requestCounts"]
    assert listing == {}


async def test_size_limit_status_and_health(ingress: Ingress) -> None:
    """Oversized bodies are 413; unknown tickets 404; health and readiness answer."""
    huge = await ingress.post(None, raw=b"{" + b" " * 70_000 + b"}")
    assert huge.status_code == 413
    assert (await ingress.http.get("/provisionings/T-none")).status_code == 404
    assert (await ingress.http.get("/provisionings/bad%20id")).status_code == 422
    unknown = await ingress.post({"event": "approved", "ticket_id": "T-none", "approver": "a"})
    assert unknown.status_code == 404
    assert (await ingress.http.get("/healthz")).json() == {"status": "ok"}
    assert (await ingress.http.get("/readyz")).status_code == 200
    document = (await ingress.http.get("/openapi.json")).json()
    assert "TicketEvent" in document["components"]["schemas"]
    assert "/webhooks/tickets" in document["paths"]
