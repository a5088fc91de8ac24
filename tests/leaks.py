"""The suite's leak scanner: every log line and every history it produces, checked for secrets.

What counts as a leak: a secret the suite configures (the emulator's access key, which every
connection string carries; webhook, callback, status and payload secrets) anywhere, or a full
phone number (``+14255550123``, or URL-encoded ``%2B1425…``) in a log line at INFO or above
or in a stored history. Masked numbers (``+1425***0123``) are what logs should show.

Sources feed it as they are produced: the root logger (through the production formatter, so
what is scanned is what an operator's log would hold), the log files and stderr of the
processes tests start, and the histories of every workflow the tests' servers ran. The hooks
in ``tests/conftest.py`` fail the session on any hit, and on a scanner that saw nothing.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FULL_NUMBER", "Hit", "LeakScanner", "SCANNER", "ScanningStream"]

FULL_NUMBER = re.compile(r"(?:\+|%2[Bb])[1-9]\d{7,14}")
"""A phone number with all its digits (a masked one has ``***`` in the middle)."""
_MIN_SECRET_LENGTH = 8
"""Shorter strings match innocent text by chance; every secret the suite uses is longer."""


@dataclass(frozen=True)
class Hit:
    """One leak: where, what kind, and a short excerpt with the secret itself blanked."""

    source: str
    kind: str
    excerpt: str


@dataclass
class LeakScanner:
    """Collects secrets to look for, scans text, keeps the hits and what it has seen."""

    secrets: dict[str, str] = field(default_factory=dict)
    """secret value → its name (the name is reported, never the value)."""
    hits: list[Hit] = field(default_factory=list)
    log_lines: int = 0
    histories: int = 0

    def add_secret(self, name: str, value: str) -> None:
        """Look for this value from now on."""
        if len(value) < _MIN_SECRET_LENGTH:
            raise ValueError(f"secret {name} is too short to be scanned for reliably")
        self.secrets[value] = name

    def scan(self, source: str, text: str, *, numbers: bool = True) -> list[Hit]:
        """Record and return the leaks in ``text`` (``numbers=False``: secrets only)."""
        found: list[Hit] = []
        for value, name in self.secrets.items():
            at = text.find(value)
            if at >= 0:
                found.append(Hit(source, f"secret {name}", _excerpt(text, at, len(value))))
        if numbers:
            for match in FULL_NUMBER.finditer(text):
                found.append(Hit(source, "full phone number", _excerpt(text, match.start(), 0)))
        self.hits += found
        return found

    def scan_log_line(self, source: str, line: str) -> None:
        """A rendered JSON log line: secrets always, numbers unless it is a DEBUG line."""
        self.log_lines += 1
        self.scan(source, line, numbers='"level": "debug"' not in line)

    def scan_history(self, source: str, history_json: str) -> None:
        """A history as exported (``WorkflowHistory.to_json``), payload data decoded.

        The export writes payload data in base64, which no pattern would see through: each
        payload's data is decoded and scanned as the bytes the server stores, and the rest of
        the history is scanned without those base64 strings (random base64 holds ``+`` and
        digits by chance, ``…+82236219…`` in an encrypted payload is not a phone number).
        """
        self.histories += 1
        history = json.loads(history_json)
        payloads: list[bytes] = []
        self.scan(source, json.dumps(_without_payload_data(history, payloads)))
        for data in payloads:
            self.scan(source, data.decode("utf-8", errors="replace"))

    def scan_log_file(self, source: str, text: str) -> None:
        """A process's log output, one line at a time."""
        for line in text.splitlines():
            if line.strip():
                self.scan_log_line(source, line)


class ScanningStream(io.TextIOBase):
    """A text stream for a logging handler: every line written to it is scanned."""

    def __init__(self, scanner: LeakScanner, source: str) -> None:
        self._scanner = scanner
        self._source = source

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self._scanner.scan_log_line(self._source, line)
        return len(text)


def _without_payload_data(node: Any, payloads: list[bytes]) -> Any:
    """``node`` with every payload's base64 ``data`` removed, and appended decoded to ``payloads``.

    A payload is a dict with ``metadata`` and ``data``; its metadata stays in place (it is
    scanned as text: an encoding name or a key id, never a number).
    """
    if isinstance(node, dict):
        copy = {key: _without_payload_data(value, payloads) for key, value in node.items()}
        if "metadata" in node and isinstance(node.get("data"), str):
            payloads.append(base64.b64decode(node["data"]))
            copy["data"] = ""
        return copy
    if isinstance(node, list):
        return [_without_payload_data(value, payloads) for value in node]
    return node


def _excerpt(text: str, at: int, length: int) -> str:
    start = max(0, at - 60)
    return (text[start:at] + "<HERE>" + text[at + length : at + length + 60]).replace("\n", " ")


SCANNER = LeakScanner()
"""The session's scanner (fixtures register the secrets they create)."""
