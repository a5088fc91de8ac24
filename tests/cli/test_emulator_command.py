"""``numberflow emulator`` prints its connection string and serves on it."""

from __future__ import annotations

import subprocess
import sys

import httpx

from acs import PhoneNumbersClient


async def test_emulator_command_serves_on_a_free_port() -> None:
    """--port 0 picks a free port; the printed connection string works with the client."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "emulator", "--port", "0", "--lro-seconds", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        connection_string = process.stdout.readline().strip()
        assert connection_string.startswith("endpoint=http://127.0.0.1:")
        async with PhoneNumbersClient.from_connection_string(connection_string) as client:
            countries = [c.country_code async for c in client.list_available_countries()]
        assert "US" in countries
        endpoint = connection_string.split(";")[0].removeprefix("endpoint=")
        async with httpx.AsyncClient() as raw:
            assert (await raw.get(endpoint + "/_emulator/state")).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
