"""The processes chaos acts on: a Temporal dev server on a database file, and worker processes.

Both are real OS processes, so a kill is a real ``SIGKILL`` (nothing runs on the way down) and
a restart reopens the same SQLite file on the same port, as an operator's restart would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter

from cli._stack import dev_server_command, free_port

__all__ = ["DevServer", "WorkerProcess"]

ROOT = Path(__file__).resolve().parents[2]


class DevServer:
    """``temporal server start-dev`` on a fixed loopback port and database file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = (folder / "temporal.log").open("ab")

    def start(self) -> None:
        """Start (or restart) on the same database; returns once the port accepts connections."""
        command = dev_server_command(self.port, self.folder / "temporal.db", "--headless")
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=self._log, start_new_session=True
        )
        _wait_for_port(self.port, self._process, timeout=60)

    async def connect(self, data_converter: DataConverter) -> Client:
        """A client, once the frontend answers: the port listens a moment before it is healthy
        ("Frontend is not healthy yet")."""
        for _ in range(100):
            try:
                return await Client.connect(self.address, data_converter=data_converter)
            except RuntimeError:
                await asyncio.sleep(0.2)
        raise RuntimeError(f"cannot reach Temporal at {self.address}")

    def stop(self, how: signal.Signals) -> None:
        """Stop with ``SIGTERM`` (graceful) or ``SIGKILL`` (a crash)."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(how)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop for good."""
        self.stop(signal.SIGTERM)
        self._log.close()


class WorkerProcess:
    """``python worker.py`` against the dev server and the emulator, on the chaos task queue."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.name = name
        self._env = {**os.environ, **env}
        self._log = (folder / f"{name}.log").open("ab")
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """The running process's id (the Temporal worker identity is ``pid@host``)."""
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        """Whether the process runs now."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start a fresh process (the previous one, if any, has ended)."""
        self.starts += 1
        self._process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            cwd=ROOT,
            env=self._env,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )

    def kill(self) -> None:
        """``SIGKILL``: no graceful shutdown, activities and workflow tasks die mid-flight."""
        if self.alive:
            assert self._process is not None
            self._process.kill()
            self._process.wait(timeout=10)

    def close(self) -> None:
        """Stop for good (gracefully, then hard)."""
        if self.alive:
            assert self._process is not None
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._log.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited with code {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the Temporal dev server did not listen on {port} within {timeout} s")
