"""Error classification, envelope parsing, and which requests the client retries."""

from __future__ import annotations

import httpx
import pytest

from acs import (
    AcsAuthError,
    AcsConflictError,
    AcsNotFoundError,
    AcsProtocolError,
    AcsServerError,
    AcsThrottledError,
    AcsTransportError,
    AcsValidationError,
    PhoneNumbersClient,
)
from tests.conftest import EmulatorEnv


def _client(handler: httpx.MockTransport) -> PhoneNumbersClient:
    return PhoneNumbersClient(
        "http://x.test", httpx.BasicAuth("u", "p"), transport=handler, get_retries=0
    )


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, AcsValidationError, False),
        (401, AcsAuthError, False),
        (403, AcsAuthError, False),
        (404, AcsNotFoundError, False),
        (409, AcsConflictError, False),
        (415, AcsValidationError, False),
        (422, AcsValidationError, False),
        (429, AcsThrottledError, True),
        (500, AcsServerError, True),
        (503, AcsServerError, True),
    ],
)
async def test_status_classes(status: int, cls: type[Exception], retryable: bool) -> None:
    """Each HTTP status maps to one class with the right retryable flag."""
    envelope = {
        "error": {
            "code": "Outer",
            "message": "went wrong",
            "target": "phonenumber",
            "innererror": {"code": "Inner", "message": "details"},
        }
    }
    client = _client(
        httpx.MockTransport(
            lambda r: httpx.Response(status, json=envelope, headers={"Retry-After": "7"})
        )
    )
    with pytest.raises(cls) as caught:
        await client.get_purchased_phone_number("+14255550123")
    error = caught.value
    assert (error.code, error.message, error.target) == ("Outer", "went wrong", "phonenumber")  # type: ignore[attr-defined]
    assert (error.inner_code, error.inner_message) == ("Inner", "details")  # type: ignore[attr-defined]
    assert (error.status_code, error.retryable, error.retry_after) == (status, retryable, 7.0)  # type: ignore[attr-defined]


async def test_body_without_envelope_still_classified() -> None:
    """A proxy's HTML error page still yields a typed error with the status in it."""
    client = _client(
        httpx.MockTransport(lambda r: httpx.Response(502, text="<html>bad gateway</html>"))
    )
    with pytest.raises(AcsServerError, match="HTTP 502"):
        await client.get_purchased_phone_number("+14255550123")


async def test_success_without_json_is_a_protocol_error() -> None:
    """A 200 whose body is not JSON breaks the contract and says so."""
    client = _client(httpx.MockTransport(lambda r: httpx.Response(200, text="not json")))
    with pytest.raises(AcsProtocolError):
        await client.get_purchased_phone_number("+14255550123")


async def test_start_without_operation_location_is_a_protocol_error() -> None:
    """A 202 missing Operation-Location must not look like instant success (the SDK's trap)."""
    client = _client(httpx.MockTransport(lambda r: httpx.Response(202)))
    with pytest.raises(AcsProtocolError, match="Operation-Location"):
        await client.begin_purchase_phone_numbers("search-id")


async def test_transport_errors_are_retryable() -> None:
    """A refused connection is an AcsTransportError with retryable=True."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(AcsTransportError) as caught:
        await _client(httpx.MockTransport(refuse)).get_purchased_phone_number("+14255550123")
    assert caught.value.retryable


async def test_get_is_retried_but_post_is_not(asgi_env: EmulatorEnv) -> None:
    """A 503 on GET is retried (bounded); a 503 on the purchase POST is raised after one send."""
    async with asgi_env.admin() as admin:
        await admin.post(
            "/faults",
            json={
                "method": "GET",
                "path": "^/phoneNumbers$",
                "times": 2,
                "action": {"type": "status", "status": 503, "retryAfter": 0},
            },
        )
        await admin.post(
            "/faults",
            json={
                "operation": "PhoneNumbers_PurchasePhoneNumbers",
                "action": {"type": "status", "status": 503},
            },
        )
    async with asgi_env.phone_numbers() as client:
        client._pipeline._retry_backoff = 0.01  # keep the test fast; the policy is what is tested
        assert [n async for n in client.list_purchased_phone_numbers()] == []
        with pytest.raises(AcsServerError):
            await client.begin_purchase_phone_numbers("any-search")
    counts = asgi_env.state["requestCounts"]
    assert counts["PhoneNumbers_ListPhoneNumbers"] == 3
    assert counts["PhoneNumbers_PurchasePhoneNumbers"] == 1


async def test_get_retries_are_bounded(asgi_env: EmulatorEnv) -> None:
    """A GET that keeps failing is retried get_retries times, then raised."""
    async with asgi_env.admin() as admin:
        await admin.post(
            "/faults",
            json={
                "path": "^/phoneNumbers$",
                "action": {"type": "status", "status": 429, "code": "TooManyRequests"},
            },
        )
    async with asgi_env.phone_numbers(get_retries=2) as client:
        client._pipeline._retry_backoff = 0.01
        with pytest.raises(AcsThrottledError):
            await client.list_purchased_phone_numbers().to_list()
    assert asgi_env.state["requestCounts"]["PhoneNumbers_ListPhoneNumbers"] == 3
