"""The ACS emulator as its own process for a benchmark phase (real HTTP, its own CPU)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from cli._stack import free_port

__all__ = ["emulator_process"]

ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def emulator_process(lro_seconds: float, stock: int | None = None) -> AsyncIterator[str]:
    """``numberflow emulator`` on a free loopback port until the block ends; its endpoint."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "cli",
        "emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lro-seconds",
        str(lro_seconds),
    ]
    if stock is not None:
        command += ["--numbers-per-area-code", str(stock)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(200):
                try:
                    await probe.get(f"{endpoint}/_emulator/state")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)
