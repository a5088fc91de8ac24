"""Microsoft Entra ID: bearer tokens from an azure-core async credential, cached."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import httpx
import pytest

from acs import ACS_TOKEN_SCOPE, PhoneNumbersClient, TokenCredentialAuth
from emulator import EmulatorConfig, create_app


class _Token(NamedTuple):
    token: str
    expires_on: int


class FakeCredential:
    """Stands in for DefaultAzureCredential: no identity provider is reachable here."""

    def __init__(self, token: str, lifetime: int = 3600) -> None:
        self.token = token
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> _Token:
        self.scopes.append(scopes)
        return _Token(self.token, int(time.time()) + self.lifetime)


async def test_bearer_token_accepted_and_cached() -> None:
    """The emulator's bearer mode accepts the token; the credential is asked once, for the ACS scope."""
    app = create_app(EmulatorConfig(bearer_tokens=frozenset({"good-token"})))
    credential = FakeCredential("good-token")
    async with PhoneNumbersClient(
        "http://acs.test", credential, transport=httpx.ASGITransport(app=app)
    ) as client:
        for _ in range(3):
            assert [c async for c in client.list_available_countries()]
    assert credential.scopes == [(ACS_TOKEN_SCOPE,)]


async def test_token_near_expiry_is_refreshed() -> None:
    """A token within five minutes of expiry is replaced before use."""
    credential = FakeCredential("t", lifetime=60)
    auth = TokenCredentialAuth(credential)
    request = httpx.Request("GET", "http://x.test/")
    for _ in range(2):
        flow = auth.async_auth_flow(request)
        signed = await flow.__anext__()
        assert signed.headers["Authorization"] == "Bearer t"
    assert len(credential.scopes) == 2


async def test_unknown_token_is_denied() -> None:
    """A token the resource does not know gets 401 Denied."""
    from acs import AcsAuthError

    app = create_app(EmulatorConfig(bearer_tokens=frozenset({"good-token"})))
    async with PhoneNumbersClient(
        "http://acs.test", FakeCredential("stolen"), transport=httpx.ASGITransport(app=app)
    ) as client:
        with pytest.raises(AcsAuthError) as caught:
            await client.list_available_countries().to_list()
    assert caught.value.code == "Denied"
