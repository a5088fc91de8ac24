"""Connection strings."""

from __future__ import annotations

import pytest

from acs import PhoneNumbersClient, SipRoutingClient, parse_connection_string


def test_parses_case_insensitive_keys_and_padding() -> None:
    """Keys are case-insensitive and the key's '=' padding survives."""
    parsed = parse_connection_string("Endpoint=https://x.communication.azure.com/;AccessKey=abc==")
    assert parsed.endpoint == "https://x.communication.azure.com"
    assert parsed.access_key == "abc=="


def test_http_endpoints_stay_http() -> None:
    """Unlike the official SDK, an http:// endpoint is kept (the emulator is plain HTTP)."""
    conn = "endpoint=http://127.0.0.1:9999;accesskey=cHc="
    assert PhoneNumbersClient.from_connection_string(conn).endpoint == "http://127.0.0.1:9999"
    assert SipRoutingClient.from_connection_string(conn).endpoint == "http://127.0.0.1:9999"


def test_scheme_defaults_to_https() -> None:
    """An endpoint without a scheme gets https://."""
    assert (
        parse_connection_string("endpoint=x.example;accesskey=cHc=").endpoint == "https://x.example"
    )


@pytest.mark.parametrize(
    "bad", ["", "endpoint=https://x", "accesskey=abc", "endpoint https://x;accesskey=a"]
)
def test_incomplete_strings_are_rejected(bad: str) -> None:
    """A missing part is a clear ValueError."""
    with pytest.raises(ValueError):
        parse_connection_string(bad)
