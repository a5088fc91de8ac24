"""Every ACS request can be found by Microsoft support: a client request id and a user agent
on the way out, the service's correlation ids on the error that comes back."""

from __future__ import annotations

import uuid

import httpx
import pytest

from acs import AcsNotFoundError, PhoneNumbersClient
from acs._pipeline import USER_AGENT
from tests.conftest import EmulatorEnv


async def test_requests_carry_a_fresh_client_request_id_and_our_user_agent(
    asgi_env: EmulatorEnv,
) -> None:
    seen: list[httpx.Headers] = []

    async def capture(request: httpx.Request) -> None:
        seen.append(request.headers)

    async with (
        httpx.AsyncClient(transport=asgi_env.transport, event_hooks={"request": [capture]}) as http,
        PhoneNumbersClient.from_connection_string(
            asgi_env.connection_string, http_client=http
        ) as numbers,
    ):
        assert [c async for c in numbers.list_available_countries()]
        assert [c async for c in numbers.list_available_countries()]
    ids = [headers["x-ms-client-request-id"] for headers in seen]
    assert len(set(ids)) == len(ids) >= 2 and all(uuid.UUID(i) for i in ids)
    assert all(
        h["user-agent"] == USER_AGENT and h["user-agent"].startswith("numberflow-acs/")
        for h in seen
    )
    assert all(h["x-ms-return-client-request-id"] == "true" for h in seen)


async def test_an_error_carries_the_ids_to_quote(asgi_env: EmulatorEnv) -> None:
    sent: list[str] = []

    async def capture(request: httpx.Request) -> None:
        sent.append(request.headers["x-ms-client-request-id"])

    async with (
        httpx.AsyncClient(transport=asgi_env.transport, event_hooks={"request": [capture]}) as http,
        PhoneNumbersClient.from_connection_string(
            asgi_env.connection_string, http_client=http
        ) as numbers,
    ):
        with pytest.raises(AcsNotFoundError) as caught:
            await numbers.get_purchased_phone_number("+14255550100")
    error = caught.value
    assert error.client_request_id == sent[-1]
    assert error.ms_cv  # the emulator answers MS-CV, as the service does
    assert error.support_ids()["client_request_id"] == sent[-1]
