"""A real Prometheus server on loopback for one test: it scrapes given targets every second and
evaluates numberflow's alert rules, and the test reads alerts and query results from its API.

The binary comes from Debian's ``prometheus`` package (``make tools`` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cli._stack import free_port

__all__ = ["Prometheus", "running_prometheus"]


class Prometheus:
    """The HTTP API of a running server."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def alerts(self) -> dict[str, str]:
        """Alert name -> its state (``pending`` or ``firing``), for every active alert."""
        async with httpx.AsyncClient(base_url=self.url) as http:
            answer = (await http.get("/api/v1/alerts")).json()
        return {a["labels"]["alertname"]: a["state"] for a in answer["data"]["alerts"]}

    async def until_alert(self, name: str, states: set[str], seconds: float = 60) -> str:
        """Wait (bounded) until the alert is in one of ``states``; its state then."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = (await self.alerts()).get(name)
            if state in states:
                return state
            await asyncio.sleep(0.5)
        raise AssertionError(f"{name} never became {states}; active: {await self.alerts()}")

    async def query(self, expr: str) -> dict[str, Any]:
        """An instant query's answer (``status``, ``data`` or ``error``), as the API gives it."""
        async with httpx.AsyncClient(base_url=self.url) as http:
            answer: dict[str, Any] = (
                await http.get("/api/v1/query", params={"query": expr})
            ).json()
        return answer


@contextlib.contextmanager
def running_prometheus(
    folder: Path, targets: dict[str, str], rule_files: Sequence[Path]
) -> Iterator[Prometheus]:
    """Serve Prometheus scraping ``targets`` (job -> host:port) every second; stop it after."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: make tools installs Debian's prometheus package")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/-/ready").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "prometheus did not start: " + (folder / "prometheus.log").read_text()[-2000:]
                )
            time.sleep(0.1)
        yield Prometheus(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
