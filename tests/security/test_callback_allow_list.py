"""Finding 2: a ticket's ``callback_url`` cannot make numberflow POST wherever it likes (SSRF).

The rule (``contracts.callback_hosts``) is checked on the URL alone, then on the address the
worker actually connects to; the tests drive real HTTP on loopback.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import CallbackActivities
from contracts.activities import CallbackInput
from contracts.callback_hosts import CallbackHosts, CallbackRefused
from contracts.error_types import CALLBACK_FAILED, CALLBACK_REFUSED
from contracts.provision import Stage
from emulator import EmulatorServer
from tests.ingress_world import Ingress
from tests.loopback import LoopbackServer
from tests.world import Saga, base_request

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


@pytest.mark.parametrize(
    ("entries", "url"),
    [
        ("hooks.example.com", "https://hooks.example.com/cb"),
        ("hooks.example.com", "https://HOOKS.example.com:8443/cb"),
        ("*.example.com", "https://a.b.example.com/cb"),
        ("https://hooks.example.com:443", "https://hooks.example.com/cb"),
        ("http://hooks.example.com", "http://hooks.example.com/cb"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/cb"),
        ("http://[::1]", "http://[::1]:9/cb"),
        ("203.0.113.7, hooks.example.com", "https://203.0.113.7/cb"),
    ],
)
def test_allowed(entries: str, url: str) -> None:
    CallbackHosts.parse(entries).check_url(url)


@pytest.mark.parametrize(
    ("entries", "url", "why"),
    [
        ("", "https://hooks.example.com/cb", "disabled"),
        ("hooks.example.com", "http://hooks.example.com/cb", "not in"),  # http needs http://
        ("hooks.example.com", "https://evil.example.com/cb", "not in"),
        ("*.example.com", "https://example.com/cb", "not in"),  # the apex is not a subdomain
        ("*.example.com", "https://example.com.evil.test/cb", "not in"),
        ("https://hooks.example.com:443", "https://hooks.example.com:444/cb", "not in"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081/cb", "not in"),
        ("http://*.example.com", "http://169.254.169.254/latest/meta-data", "not in"),
        ("hooks.example.com", "ftp://hooks.example.com/cb", "only http"),
    ],
)
def test_refused_by_the_url(entries: str, url: str, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why):
        CallbackHosts.parse(entries).check_url(url)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses_need_an_entry_naming_them(address: str) -> None:
    hosts = CallbackHosts.parse("*.example.com, http://*.example.com")
    with pytest.raises(CallbackRefused):
        hosts.check_address("https", ipaddress.ip_address(address), 443)
    named = CallbackHosts.parse(f"https://{_bracketed(address)}")
    named.check_address("https", ipaddress.ip_address(address), 443)


@pytest.mark.parametrize(
    "entry", ["ftp://x.example.com", "x.example.com/path", "user@x.example.com", "*x.com", ":80"]
)
def test_malformed_entries_are_refused_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match="NUMBERFLOW_CALLBACK_ALLOWED_HOSTS"):
        CallbackHosts.parse(entry)


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


class Receiver:
    """A callback endpoint that records what reached it (and a redirecting one)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.hosts: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/cb", self.receive, methods=["POST"]),
                Route("/redirect", self.redirect, methods=["POST"]),
            ]
        )
        self.redirect_to = ""

    async def receive(self, request: Request) -> Response:
        self.hosts.append(request.headers["host"])
        self.received.append(await request.json())
        return JSONResponse({"ok": True})

    async def redirect(self, _: Request) -> Response:
        return RedirectResponse(self.redirect_to, status_code=307)


def _callback(url: str) -> CallbackInput:
    return CallbackInput(url=url, ticket_id="T-ssrf", stage=Stage.RESERVING, at=datetime.now(UTC))


async def _notify(allowed: str, url: str) -> None:
    async with httpx.AsyncClient() as http:
        activities = CallbackActivities(
            http, "callback-secret-for-tests", CallbackHosts.parse(allowed)
        )
        await ActivityEnvironment().run(activities.notify_callback, _callback(url))


def _emulator_alive(server: EmulatorServer) -> bool:
    return bool(server.app.emulator.faults.rules)


@pytest.fixture
def emulator_with_state(loopback_server: EmulatorServer) -> EmulatorServer:
    """The loopback emulator with a fault rule in it: a reset would wipe the rule."""
    loopback_server.app.emulator.reset()
    loopback_server.app.emulator.faults.add(
        {"match": {"path": "/nothing"}, "action": {"type": "latency", "seconds": 0.1}}
    )
    assert _emulator_alive(loopback_server)
    return loopback_server


async def test_the_emulator_admin_endpoint_is_out_of_reach(
    emulator_with_state: EmulatorServer,
) -> None:
    """The finding's repro: a callback at the emulator's unauthenticated reset is refused."""
    receiver = Receiver()
    with LoopbackServer(receiver.app) as server, pytest.raises(ApplicationError) as refused:
        await _notify(server.url, f"{emulator_with_state.endpoint}/_emulator/reset")
    assert refused.value.type == CALLBACK_REFUSED and refused.value.non_retryable
    assert _emulator_alive(emulator_with_state)


async def test_an_allowed_name_resolving_to_loopback_is_refused_when_connecting() -> None:
    """DNS decides nothing: ``localhost`` is allowed by name, its address 127.0.0.1 is not."""
    receiver = Receiver()
    with LoopbackServer(receiver.app) as server:
        port = server.url.rsplit(":", 1)[1]
        with pytest.raises(ApplicationError) as refused:
            await _notify("http://localhost", f"http://localhost:{port}/cb")
    assert refused.value.type == CALLBACK_REFUSED
    assert "loopback" in refused.value.message
    assert receiver.received == []


async def test_an_entry_naming_the_address_lets_the_callback_through() -> None:
    receiver = Receiver()
    with LoopbackServer(receiver.app) as server:
        await _notify(server.url, f"{server.url}/cb")
    assert [r["ticket_id"] for r in receiver.received] == ["T-ssrf"]
    assert receiver.hosts == [server.url.removeprefix("http://")]


async def test_redirects_are_not_followed(emulator_with_state: EmulatorServer) -> None:
    receiver = Receiver()
    receiver.redirect_to = f"{emulator_with_state.endpoint}/_emulator/reset"
    with LoopbackServer(receiver.app) as server, pytest.raises(ApplicationError) as failed:
        await _notify(f"{server.url}, {emulator_with_state.endpoint}", f"{server.url}/redirect")
    assert failed.value.type == CALLBACK_FAILED and "307" in failed.value.message
    assert _emulator_alive(emulator_with_state)


async def test_a_refused_callback_is_recorded_once_and_never_retried(saga: Saga) -> None:
    """The worker's allow-list (loopback by address) refuses a name: the saga completes."""
    request = base_request(callback_url="http://localhost:9/callbacks", approval=AUTO)
    handle = await saga.start(request)
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and sorted(saga.owned()) == sorted(result.numbers)
    status = await saga.status(handle)
    refusals = [e for e in status.errors if "callback" in e]
    assert len(refusals) == 1 and "refused" in refusals[0]
    history = await handle.fetch_history()
    scheduled = [
        e
        for e in history.events
        if e.activity_task_scheduled_event_attributes.activity_type.name == "notify_callback"
    ]
    assert len(scheduled) == 1
    attempts = [
        e.activity_task_failed_event_attributes
        for e in history.events
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert len(attempts) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://localhost:8787/_emulator/reset",
        "https://hooks.example.com/cb",
    ],
)
async def test_the_ingress_refuses_what_it_can_decide(ingress: Ingress, url: str) -> None:
    request = base_request(callback_url=url)
    response = await ingress.post({"event": "created", "request": request.model_dump(mode="json")})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("request.callback_url: ")
    missing = await ingress.http.get(f"/provisionings/{request.ticket_id}")
    assert missing.status_code == 404  # nothing was started
