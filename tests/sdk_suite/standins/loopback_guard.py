"""A pytest plugin that refuses every connection that would leave loopback.

The official suite is written for a real resource on the internet; here it must only ever
reach the emulator on 127.0.0.1. A test that tried anything else fails with this guard's
error instead of sending a request.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else None
    if host is None:  # a Unix socket: local by definition
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConnectionRefusedError(f"loopback guard: refused a connection to {host}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return _connect_ex(self, address)


def pytest_configure() -> None:
    """Install the guard before any test (or test module) runs."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
