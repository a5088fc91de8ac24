"""Bad inputs fail with a clear ValueError before any request is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from acs import AvailablePhoneNumber, PhoneNumberCapabilities, PhoneNumbersClient

CAPS = PhoneNumberCapabilities(calling="inbound", sms="none")


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request should be sent, got {request.method} {request.url}")


CLIENT = PhoneNumbersClient(
    "http://x.test", httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(_never_called)
)

CASES: list[tuple[str, Callable[[], Awaitable[Any]], str]] = [
    ("number not E.164", lambda: CLIENT.get_purchased_phone_number("4255550123"), "E.164"),
    ("empty number", lambda: CLIENT.begin_release_phone_number(""), "E.164"),
    (
        "letters in number",
        lambda: CLIENT.begin_update_phone_number_capabilities("+1425abc", sms="inbound"),
        "E.164",
    ),
    (
        "no capability given",
        lambda: CLIENT.begin_update_phone_number_capabilities("+14255550123"),
        "sms",
    ),
    (
        "bad capability",
        lambda: CLIENT.begin_update_phone_number_capabilities("+14255550123", sms="both"),
        "both",
    ),
    (
        "lower-case country",
        lambda: CLIENT.begin_search_available_phone_numbers("us", "tollFree", "person", CAPS),
        "ISO",
    ),
    (
        "zero quantity",
        lambda: CLIENT.begin_search_available_phone_numbers(
            "US", "tollFree", "person", CAPS, quantity=0
        ),
        "quantity",
    ),
    (
        "bad number type",
        lambda: CLIENT.begin_search_available_phone_numbers("US", "premium", "person", CAPS),
        "premium",
    ),
    ("reservation id not a UUID", lambda: CLIENT.get_reservation("not-a-uuid"), "UUID"),
    ("empty search id", lambda: CLIENT.begin_purchase_phone_numbers(""), "search_id"),
    ("no numbers to look up", lambda: CLIENT.search_operator_information([]), "exactly one"),
    (
        "two numbers to look up",
        lambda: CLIENT.search_operator_information(["+14255550123", "+14255550124"]),
        "one per call",
    ),
    ("operator number not E.164", lambda: CLIENT.search_operator_information(["0425"]), "E.164"),
    (
        "number to add without id",
        lambda: CLIENT.create_or_update_reservation(
            reservation_id="0b1b7e3c-4a4b-4c8e-9d55-0f6f6d1f4c11",
            numbers_to_add=[
                AvailablePhoneNumber(
                    country_code="US",
                    capabilities=CAPS,
                    phone_number_type="tollFree",
                    assignment_type="person",
                )
            ],
        ),
        "id",
    ),
]


@pytest.mark.parametrize(("name", "call", "message"), CASES, ids=[c[0] for c in CASES])
async def test_rejected_locally(
    name: str, call: Callable[[], Awaitable[Any]], message: str
) -> None:
    """The call raises ValueError naming the problem; the transport is never reached."""
    with pytest.raises(ValueError, match=message):
        await call()


def test_endpoint_needs_a_scheme() -> None:
    """An endpoint without scheme in the constructor is refused (from_connection_string adds one)."""
    with pytest.raises(ValueError, match="scheme"):
        PhoneNumbersClient("x.test", httpx.BasicAuth("u", "p"))


def test_unknown_credential_type_is_refused() -> None:
    """Only httpx.Auth, key credentials and token credentials are accepted."""
    with pytest.raises(TypeError, match="credential"):
        PhoneNumbersClient("http://x.test", object())  # type: ignore[arg-type]
