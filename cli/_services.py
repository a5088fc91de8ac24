"""``numberflow worker`` and ``numberflow ingress``: the long-running processes."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from connection import connect_temporal
from ingress import create_app
from logconfig import configure_logging
from settings import IngressSettings

from ._common import fail

__all__ = ["ingress", "worker"]


def worker() -> None:
    """Run a worker (the same as ``python worker.py``); configured by the environment."""
    import worker as worker_module

    try:
        asyncio.run(worker_module.main())
    except ValidationError as error:
        fail(f"configuration: {error.errors()[0]['msg']}", 2)


def ingress(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8080,
) -> None:
    """Serve the webhook ingress (secrets from NUMBERFLOW_WEBHOOK_SECRETS)."""
    try:
        settings = IngressSettings()
    except ValidationError:
        settings = None
    if settings is None or not settings.secrets():
        fail("set NUMBERFLOW_WEBHOOK_SECRETS (comma-separated shared secrets)", 2)
    configure_logging()

    async def serve() -> None:
        client = await connect_temporal()
        app = create_app(client, settings.secrets(), task_queue=settings.task_queue)
        await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None)).serve()

    asyncio.run(serve())
