"""The leak scanner itself: it finds what it is for, and the session really feeds it."""

from __future__ import annotations

import base64
import json
import logging

from tests.leaks import SCANNER, LeakScanner


def test_it_finds_secrets_and_full_numbers_but_not_masked_ones() -> None:
    scanner = LeakScanner()
    scanner.add_secret("a key", "sekret-value-123")
    scanner.scan_log_line("t", '{"level": "info", "event": "key=sekret-value-123"}')
    scanner.scan_log_line("t", '{"level": "info", "event": "GET /phoneNumbers/%2B14255554756"}')
    scanner.scan_log_line("t", '{"level": "info", "event": "number +1425***4756"}')
    scanner.scan_log_line("t", '{"level": "debug", "event": "number +14255554756"}')
    scanner.scan_history("h", '{"data": "+14255554756"}')
    encoded = base64.b64encode(b'{"numbers": ["+14255554756"]}').decode()
    scanner.scan_history(
        "h", json.dumps({"input": {"payloads": [{"metadata": {}, "data": encoded}]}})
    )
    assert [hit.kind for hit in scanner.hits] == [
        "secret a key",
        "full phone number",
        "full phone number",
        "full phone number",
    ]
    assert all("sekret-value-123" not in hit.excerpt for hit in scanner.hits)


def test_base64_that_happens_to_read_like_a_number_is_not_one() -> None:
    """CI once failed on ciphertext whose base64 held ``+82236219``: the bytes are scanned, not it."""
    scanner = LeakScanner()
    ciphertext = base64.b64decode(
        "hgzD1ucpPP3tRFmXwCr5nAiYwz95BYltutX48k2oGeKAZkqyInSGdrJDfnWS+82236219pisWxgu"
    )
    payload = {
        "metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="},
        "data": base64.b64encode(ciphertext).decode(),
    }
    assert "+82236219" in payload["data"]
    scanner.scan_history("h", json.dumps({"input": {"payloads": [payload]}}))
    assert scanner.hits == []
    assert scanner.histories == 1


def test_the_session_scanner_sees_info_logs_through_the_production_formatter() -> None:
    before = SCANNER.log_lines
    logging.getLogger("numberflow.test").info("reached the scanner for +14255554756")
    assert SCANNER.log_lines == before + 1
    assert not [hit for hit in SCANNER.hits if hit.source == "log" and "reached" in hit.excerpt]
