"""Shared fixtures: the emulator in-process and on loopback, and clients bound to either.

The session also runs the leak scanner (``tests.leaks``): logs go through the production
formatter into it, histories are fed to it by the Temporal fixtures, and the session fails
on any secret or full phone number it finds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from acs import PhoneNumbersClient, SipRoutingApiVersion, SipRoutingClient
from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from emulator import EmulatorApp, EmulatorConfig, EmulatorServer, create_app
from emulator._config import DEFAULT_ACCESS_KEY
from logconfig import configure_logging
from tests.leaks import SCANNER, Hit, ScanningStream

pytest_plugins = [
    "tests.world",
    "tests.ingress_world",
]  # Temporal fixtures (servers, worker, saga world) and the ingress, for every package

FAST = EmulatorConfig(lro_seconds=0.05)
_LOG_STREAM: Any = ScanningStream(SCANNER, "log")


def pytest_configure(config: pytest.Config) -> None:
    """Encrypt payloads everywhere (subprocesses inherit the key); scan every log line."""
    from tests.ingress_world import OLD_SECRET, SECRET, STATUS_TOKEN
    from tests.world import CALLBACK_SECRET, PAYLOAD_KEYS_ENTRY

    os.environ[PAYLOAD_KEYS_VAR] = PAYLOAD_KEYS_ENTRY
    for name, value in (
        ("the emulator access key", DEFAULT_ACCESS_KEY),
        ("the callback secret", CALLBACK_SECRET),
        ("a webhook secret", SECRET),
        ("a webhook secret", OLD_SECRET),
        ("the status token", STATUS_TOKEN),
        ("the payload key", PAYLOAD_KEYS_ENTRY.partition(":")[2]),
    ):
        SCANNER.add_secret(name, value)
    configure_logging("INFO", json=True, stream=_LOG_STREAM)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session on any leak (or if something removed the scanning log handler)."""
    if not any(getattr(h, "stream", None) is _LOG_STREAM for h in logging.getLogger().handlers):
        SCANNER.hits.append(Hit("logging", "scanner removed", "the root handler was replaced"))
    if SCANNER.hits and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report what the scanner saw, and every leak it found."""
    terminalreporter.write_line(
        f"leak scan: {SCANNER.log_lines} log lines, {SCANNER.histories} histories, "
        f"{len(SCANNER.hits)} leaks"
    )
    for hit in SCANNER.hits[:50]:
        terminalreporter.write_line(f"LEAK {hit.kind} in {hit.source}: {hit.excerpt}", red=True)


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
