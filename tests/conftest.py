"""Shared fixtures: the emulator in-process and on loopback, and clients bound to either."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from acs import PhoneNumbersClient, SipRoutingApiVersion, SipRoutingClient
from emulator import EmulatorApp, EmulatorConfig, EmulatorServer, create_app

pytest_plugins = [
    "tests.world"
]  # Temporal fixtures (servers, worker, saga world) for every package

FAST = EmulatorConfig(lro_seconds=0.05)


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[EmulatorServer]:
    """One emulator on 127.0.0.1 for the session; tests reset it through ``emulator_env``."""
    with EmulatorServer(FAST) as server:
        yield server


@dataclass
class EmulatorEnv:
    """An emulator and how to reach it: ``kind`` is ``asgi`` (in-process) or ``loopback``."""

    kind: str
    app: EmulatorApp
    endpoint: str
    transport: httpx.AsyncBaseTransport | None

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.endpoint};accesskey={self.app.emulator.config.access_key}"

    def phone_numbers(self, **kwargs: Any) -> PhoneNumbersClient:
        return PhoneNumbersClient.from_connection_string(
            self.connection_string, transport=self.transport, **kwargs
        )

    def sip(self, *, preview: bool = False, **kwargs: Any) -> SipRoutingClient:
        version = (
            SipRoutingApiVersion.V2024_11_15_PREVIEW
            if preview
            else SipRoutingApiVersion.V2023_03_01
        )
        return SipRoutingClient.from_connection_string(
            self.connection_string, transport=self.transport, api_version=version, **kwargs
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.endpoint + "/_emulator", transport=self.transport)

    @property
    def state(self) -> Any:
        return self.app.emulator.state()

    def advance(self, seconds: float) -> None:
        self.app.emulator.clock.advance(seconds)


def make_asgi_env(config: EmulatorConfig = FAST) -> EmulatorEnv:
    """An in-process emulator reached through ``httpx.ASGITransport``."""
    app = create_app(config)
    return EmulatorEnv("asgi", app, "http://acs.emulator.test", httpx.ASGITransport(app=app))


@pytest.fixture(params=["asgi", "loopback"])
def emulator_env(request: pytest.FixtureRequest) -> Iterator[EmulatorEnv]:
    """The emulator, in-process and over real loopback HTTP (each test runs against both)."""
    if request.param == "asgi":
        yield make_asgi_env()
        return
    server: EmulatorServer = request.getfixturevalue("loopback_server")
    server.app.emulator.reset()
    yield EmulatorEnv("loopback", server.app, server.endpoint, None)
    server.app.emulator.reset()


@pytest.fixture
def asgi_env() -> EmulatorEnv:
    """An in-process emulator only (fast rule tests)."""
    return make_asgi_env()


@pytest.fixture
async def numbers(emulator_env: EmulatorEnv) -> AsyncIterator[PhoneNumbersClient]:
    """A Phone Numbers client bound to ``emulator_env``."""
    async with emulator_env.phone_numbers() as client:
        yield client


@pytest.fixture
async def sip(emulator_env: EmulatorEnv) -> AsyncIterator[SipRoutingClient]:
    """A SIP Routing client (stable API) bound to ``emulator_env``."""
    async with emulator_env.sip() as client:
        yield client


@pytest.fixture
async def sip_preview(emulator_env: EmulatorEnv) -> AsyncIterator[SipRoutingClient]:
    """A SIP Routing client on 2024-11-15-preview bound to ``emulator_env``."""
    async with emulator_env.sip(preview=True) as client:
        yield client
