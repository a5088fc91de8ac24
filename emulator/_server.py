"""Serve the emulator over real HTTP on loopback, in the foreground or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Self

import uvicorn

from ._app import EmulatorApp, create_app
from ._config import EmulatorConfig

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """An emulator bound to ``host:port`` (port 0 picks a free one before serving starts).

    Example:
        ```python
        with EmulatorServer(EmulatorConfig(lro_seconds=0.1)) as server:
            client = PhoneNumbersClient.from_connection_string(server.connection_string)
        ```
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``tls`` is (certificate chain, private key) in PEM: serve HTTPS, as the service does."""
        self.config = config or EmulatorConfig()
        self.app: EmulatorApp = create_app(self.config)
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self.scheme = "https" if tls else "http"
        certificate, key = tls or (None, None)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                ssl_certfile=certificate,
                ssl_keyfile=key,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """``http(s)://host:port`` without a trailing slash (what the official SDK needs)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def connection_string(self) -> str:
        """``endpoint=http(s)://host:port;accesskey=KEY``."""
        return f"endpoint={self.endpoint};accesskey={self.config.access_key}"

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def start(self, timeout: float = 10.0) -> Self:
        """Serve in a daemon thread; returns once the server accepts connections."""
        self._server.config.install_signal_handlers = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
