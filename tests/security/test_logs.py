"""Findings 1 and 3 in every logger: no frame locals, bounded tracebacks, numbers masked."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from logconfig import build_formatter, configure_logging, mask_phone_numbers
from tests.conftest import EmulatorEnv
from tests.leaks import FULL_NUMBER, LeakScanner, ScanningStream


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+14255554756", "+1425***4756"),
        (
            "GET /phoneNumbers/%2B14255554756?api-version=1",
            "GET /phoneNumbers/%2B1425***4756?api-version=1",
        ),
        ("numbers ['+442071234567', '+33123456789']", "numbers ['+4420***4567', '+3312***6789']"),
        ("+1234567", "+12***67"),
        ("timeout after +30 s, 2025-06-01", "timeout after +30 s, 2025-06-01"),
    ],
)
def test_masking(text: str, masked: str) -> None:
    assert mask_phone_numbers(text) == masked
    assert not FULL_NUMBER.search(masked)


def _record(
    level: int, message: str, *args: object, exc: BaseException | None = None
) -> logging.LogRecord:
    return logging.LogRecord(
        "httpx",
        level,
        __file__,
        1,
        message,
        args,
        (type(exc), exc, exc.__traceback__) if exc else None,
    )


@pytest.mark.parametrize("as_json", [True, False])
def test_numbers_are_masked_at_info_and_above_only(as_json: bool) -> None:
    formatter = build_formatter(json=as_json)
    url = "https://acs.example/phoneNumbers/%2B14255554756"
    for level in (logging.INFO, logging.WARNING, logging.ERROR):
        line = formatter.format(_record(level, 'HTTP Request: GET %s "HTTP/1.1 200 OK"', url))
        assert "%2B1425***4756" in line and "4255554756" not in line
    debug = formatter.format(_record(logging.DEBUG, "HTTP Request: GET %s", url))
    assert "%2B14255554756" in debug


def _fails_with_secret_locals(access_key: str, request_body: bytes) -> None:
    depth = len(request_body)
    raise RuntimeError(f"ACS refused +14255554756 after {depth} bytes")


@pytest.mark.parametrize("as_json", [True, False])
def test_tracebacks_carry_no_locals_and_stay_small(as_json: bool) -> None:
    secret = "-".join(["the", "access", "key", "in", "a", "frame"])  # not in any source line
    try:
        _fails_with_secret_locals(secret, b"x" * 100_000)
    except RuntimeError as error:
        line = build_formatter(json=as_json).format(
            _record(logging.WARNING, "Completing activity as failed", exc=error)
        )
    assert "the-access-key-in-a-frame" not in line
    assert "xxxx" not in line
    assert "+1425***4756" in line and "4255554756" not in line
    assert len(line) < 4096


async def test_real_httpx_request_lines_stay_below_info(emulator_env: EmulatorEnv) -> None:
    """httpx's line per request (a number's URL in it) is written only at debug: at INFO the
    worker writes none (they cost CPU, and metrics and spans count requests instead)."""
    captured = io.StringIO()
    root, client_logger = logging.getLogger(), logging.getLogger("httpx")
    saved = (root.handlers[:], root.level, client_logger.level)
    try:
        configure_logging("INFO", json=True, stream=captured)
        async with httpx.AsyncClient(transport=emulator_env.transport) as http:
            await http.get(f"{emulator_env.endpoint}/phoneNumbers/%2B14255554756")
        logging.getLogger("numberflow.test").info("after +14255554756")
    finally:
        root.handlers[:], level, client_level = saved
        root.setLevel(level)
        client_logger.setLevel(client_level)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["numberflow.test"]  # the handler works
    assert "+1425***4756" in lines[0]["event"]
    scanner = LeakScanner()
    ScanningStream(scanner, "test").write(captured.getvalue())
    assert scanner.hits == [] and scanner.log_lines == 1
