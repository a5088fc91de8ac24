"""Jira webhooks in, as Jira Cloud sends them: signed, retried, and mapped by the shipped file.

The payloads are recorded shapes of Jira's documented ``jira:issue_created`` and
``jira:issue_updated`` events (``fixtures/jira``); the mapping is ``deploy/tickets``'s, so the
file an admin pastes is the file tested.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.service import RPCError, RPCStatusCode

from contracts.ids import workflow_id_for
from contracts.provision import Stage
from contracts.ticket_mapping import JiraInbound, MappingError, load_mapping
from ingress import create_app
from ingress._jira import DELIVERY_HEADER, HUB_SIGNATURE_HEADER
from tests.ingress_world import SECRET
from tests.world import CALLBACK_HOSTS, Saga

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "deploy" / "tickets" / "jira-mapping.toml"
FIXTURES = Path(__file__).parent / "fixtures" / "jira"
JIRA_SECRET = "jira-webhook-secret"


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded payload, sent now (its ``timestamp`` is when the event happened)."""
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    payload["timestamp"] = int(time.time() * 1000)
    payload.update(changes)
    return payload


@pytest_asyncio.fixture
async def jira(saga: Saga) -> AsyncIterator[httpx.AsyncClient]:
    """The ingress with the Jira endpoint, in front of the time-skipping saga world."""
    mapping = load_mapping(MAPPING).jira
    assert mapping is not None
    app = create_app(
        saga.client,
        [SECRET],
        callback_hosts=CALLBACK_HOSTS,
        task_queue=saga.task_queue,
        jira=JiraInbound(secrets=[JIRA_SECRET], mapping=mapping),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress.test") as http:
        yield http


async def send(
    http: httpx.AsyncClient,
    payload: dict[str, Any],
    *,
    delivery: str = "",
    secret: str = JIRA_SECRET,
) -> httpx.Response:
    """POST as Jira does: the raw body signed ``sha256=<hex>``, a delivery identifier."""
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        HUB_SIGNATURE_HEADER: f"sha256={signature}",
        DELIVERY_HEADER: delivery or f"d-{time.monotonic_ns()}",
    }
    return await http.post("/v1/tickets/jira", content=body, headers=headers)


async def test_a_jira_request_is_provisioned_and_its_approval_transition_approves_it(
    saga: Saga, jira: httpx.AsyncClient
) -> None:
    """issue_created starts the saga with the mapped fields; moving to Approved approves it."""
    created = await send(jira, event("issue_created"))
    assert created.status_code == 202, created.text
    handle = saga.client.get_workflow_handle(workflow_id_for("TEL-42"))
    waiting = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    assert waiting.approvers == ("5b10ac8d82e05b22cc7d4ef5",) and len(waiting.numbers) == 2
    approved = await send(jira, event("issue_approved"))
    assert approved.status_code == 202, approved.text
    result = await handle.result()
    assert result["outcome"] == "completed"
    assert sorted(saga.owned()) == sorted(result["numbers"])
    assert [r["name"] for r in saga.routes()] == ["ticket-TEL-42"]


async def test_a_replayed_delivery_is_acknowledged_and_does_nothing(
    saga: Saga, jira: httpx.AsyncClient
) -> None:
    """Jira re-sends with the same identifier: answered "duplicate", nothing happens twice."""
    payload = event("issue_created")
    first = await send(jira, payload, delivery="same-delivery")
    again = await send(jira, payload, delivery="same-delivery")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["duplicate"] == "same-delivery"
    handle = saga.client.get_workflow_handle(workflow_id_for("TEL-42"))
    await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    approval = event("issue_approved")
    assert (await send(jira, approval, delivery="approval")).status_code == 202
    assert (await send(jira, approval, delivery="approval")).status_code == 200
    status = await saga.status(handle)
    assert len(status.approvals) == 1 and status.ignored_decisions == ()


def _unmapped(case: str) -> dict[str, Any]:
    """Events a Jira webhook sends that mean nothing to numberflow (built when sent)."""
    if case == "comment_created":
        return event("issue_created", webhookEvent="comment_created")
    if case == "other_status":
        items = [{"field": "status", "toString": "In Progress"}]
        return {**event("issue_approved"), "changelog": {"items": items}}
    return event("issue_commented")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("assignee_changed", "an update without a status change"),
        ("comment_created", "'comment_created' is not an event numberflow acts on"),
        ("other_status", "status 'In Progress' means nothing to numberflow"),
    ],
)
async def test_an_event_that_maps_to_nothing_is_acknowledged_with_a_reason(
    saga: Saga, jira: httpx.AsyncClient, case: str, reason: str
) -> None:
    """200 with the reason (Jira must not retry it), and nothing is started."""
    answer = await send(jira, _unmapped(case))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ignored": reason}
    assert not await _started(saga)


async def _started(saga: Saga) -> bool:
    """Whether the fixture's ticket has a provisioning run."""
    try:
        await saga.client.get_workflow_handle(workflow_id_for("TEL-42")).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_another_issue_type_is_ignored(saga: Saga, jira: httpx.AsyncClient) -> None:
    """A bug filed in the same project is not a number request."""
    payload = event("issue_created")
    payload["issue"]["fields"]["issuetype"]["name"] = "Bug"
    answer = await send(jira, payload)
    assert answer.json() == {"ignored": "issue type 'Bug' is not a number request"}


async def test_a_bad_signature_or_a_stale_event_is_refused_and_starts_nothing(
    saga: Saga, jira: httpx.AsyncClient
) -> None:
    """401 for a wrong secret, a missing signature, or an event older than the window."""
    wrong = await send(jira, event("issue_created"), secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "BadSignature"
    unsigned = await jira.post("/v1/tickets/jira", content=b"{}")
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["message"] == f"missing {HUB_SIGNATURE_HEADER} header"
    stale = await send(jira, event("issue_created", timestamp=int(time.time() - 3600) * 1000))
    assert stale.status_code == 401
    assert "s ago; more than 600 s either way is refused" in stale.json()["error"]["message"]
    assert not await _started(saga)


async def test_a_number_request_with_a_field_the_mapping_cannot_read_is_refused(
    saga: Saga, jira: httpx.AsyncClient
) -> None:
    """422 naming the request field (here the country left empty); nothing is started."""
    payload = event("issue_created")
    payload["issue"]["fields"]["customfield_10050"] = None
    answer = await send(jira, payload)
    assert answer.status_code == 422
    assert answer.json()["error"]["message"].startswith("request.country_code: ")


def test_a_mapping_file_with_mistakes_names_each_in_one_line(tmp_path: Path) -> None:
    """A typo in a field name, an unknown action, a bad path: one line each, with the place."""
    text = MAPPING.read_text()
    text = text.replace('country_code = "customfield_10050.value"', 'contry_code = "x"')
    text = text.replace('"Declined" = "rejected"', '"Declined" = "reject"')
    text = text.replace('quantity = "customfield_10052"', 'quantity = "custom field"')
    broken = tmp_path / "mapping.toml"
    broken.write_text(text)
    with pytest.raises(MappingError) as caught:
        load_mapping(broken)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3, lines
    assert any("jira.request.fields.contry_code.[key]" in line for line in lines), lines
    assert any("jira.statuses.Declined" in line for line in lines), lines
    assert any("'custom field' is not a field path" in line for line in lines), lines


def test_the_ingress_does_not_start_with_a_broken_mapping(tmp_path: Path) -> None:
    """``numberflow ingress`` stops (exit 2) with the mistake in one line, before any listening."""
    broken = tmp_path / "mapping.toml"
    broken.write_text(MAPPING.read_text().replace('"Declined" = "rejected"', '"Declined" = "no"'))
    env = {
        "NUMBERFLOW_WEBHOOK_SECRETS": "s1",
        "NUMBERFLOW_JIRA_WEBHOOK_SECRETS": JIRA_SECRET,
        "NUMBERFLOW_TICKET_MAPPING": str(broken),
    }
    done = _cli("ingress", "--port", "0", env=env)
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "jira.statuses.Declined: Input should be 'approved', 'rejected', 'cancelled' or "
            "'release_requested'"
        )
    ), done.stderr


def test_tickets_check_names_each_mistake_on_its_own_line(tmp_path: Path) -> None:
    """``numberflow tickets check``: the shipped file passes; a broken one, a line per mistake."""
    good = _cli("tickets", "check", "--mapping", str(MAPPING))
    assert good.returncode == 0, good.stderr
    assert "moving to 'Approved' means approved" in good.stdout
    broken = tmp_path / "mapping.toml"
    text = MAPPING.read_text().replace('"Declined" = "rejected"', '"Declined" = "no"')
    broken.write_text(text.replace("country_code =", "contry_code ="))
    bad = _cli("tickets", "check", "--mapping", str(broken))
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"error: {broken}: jira.request.fields.contry_code.[key]: ")
    assert lines[1].startswith(f"error: {broken}: jira.statuses.Declined: ")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
