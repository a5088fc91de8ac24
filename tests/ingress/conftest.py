"""What the ingress tests share: the log lines the production formatter writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from logconfig import build_formatter

Logged = Callable[[], list[dict[str, Any]]]
"""The JSON log lines written since the test began."""


@pytest.fixture
def logged() -> Iterator[Logged]:
    """The JSON lines the production formatter has written since the test began."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
