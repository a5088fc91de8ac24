"""HMAC-SHA256 signing: golden vectors, and agreement with the emulator's verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import parsedate_to_datetime

import httpx
import pytest

from acs import AcsAuthError, HmacAuth, compute_content_hash, compute_hmac_signature
from tests.conftest import EmulatorEnv

EMPTY_HASH = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.mark.parametrize(
    ("path", "signature"),
    [
        ("/", "88MDmJhUR3m5QhFxb8ztShsSwlGrg7g/6XPnWf7QEO4="),
        ("/testPath", "RoCrHjw7fb9fpHSbqvRUY2xa8RBS0YvI1cxI1x8AS38="),
        ("/testPath?testQuery=yes", "il99+rd6V5O136roX/zVePCNle78HmvC4B7tu9zRH3I="),
    ],
)
def test_official_sdk_golden_vectors(path: str, signature: str) -> None:
    """The three vectors of the official SDK's test_hmac.py reproduce exactly."""
    assert (
        compute_hmac_signature(
            "pw==",
            method="GET",
            path_and_query=path,
            date="Wed, 13 Apr 2022 18:09:12 GMT",
            host="contoso.communicationservices.azure.com",
            content_hash=EMPTY_HASH,
        )
        == signature
    )


KEY = "ZW11bGF0b3ItdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="


@pytest.mark.parametrize(
    ("method", "path", "body", "content_hash", "signature"),
    [
        (
            "GET",
            "/phoneNumbers?skip=0&top=100&api-version=2025-06-01",
            b"",
            EMPTY_HASH,
            "5/UWUSVnWa9i15Dq+zIbXrRL16XE81UbFuFLClrVGgs=",
        ),
        (
            "PATCH",
            "/sip?api-version=2023-03-01",
            b'{"trunks": {"sbc1.contoso.com": {"sipSignalingPort": 5061}}}',
            "hBi8HkuWG7PDQAGsJ4OOZ0Myep/6pgfPU9eqekUqcME=",
            "zBQBDueiAvfWlttJM7zjq8EXndE8XxkSrU4n9CMCdJM=",
        ),
    ],
)
def test_reference_vectors(
    method: str, path: str, body: bytes, content_hash: str, signature: str
) -> None:
    """The two vectors of acs-api.md §6.2 reproduce, body hash included."""
    assert compute_content_hash(body) == content_hash
    assert (
        compute_hmac_signature(
            KEY,
            method=method,
            path_and_query=path,
            date="Mon, 01 Jan 2024 00:00:00 GMT",
            host="contoso.communication.azure.com",
            content_hash=content_hash,
        )
        == signature
    )


def _independent_signature(request: httpx.Request) -> str:
    """Recompute the signature from scratch with hashlib/hmac, from what goes on the wire."""
    string_to_sign = "\n".join(
        [
            request.method,
            request.url.raw_path.decode(),
            ";".join(
                [
                    request.headers["x-ms-date"],
                    request.headers["host"],
                    base64.b64encode(hashlib.sha256(request.content).digest()).decode(),
                ]
            ),
        ]
    )
    mac = hmac.new(base64.b64decode(KEY), string_to_sign.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_hmac_auth_signs_what_is_sent() -> None:
    """HmacAuth's headers match a signature computed independently over the sent request."""
    request = httpx.Request(
        "PATCH",
        "http://127.0.0.1:8080/phoneNumbers/%2B14255550123/capabilities?api-version=2025-06-01",
        content=b'{"sms": "inbound"}',
    )
    signed = next(HmacAuth(KEY).auth_flow(request))
    assert signed.headers["x-ms-content-sha256"] == compute_content_hash(b'{"sms": "inbound"}')
    parsedate_to_datetime(signed.headers["x-ms-date"])  # RFC 1123
    assert signed.headers["Authorization"] == (
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        f"&Signature={_independent_signature(signed)}"
    )
    assert signed.headers["host"] == "127.0.0.1:8080"


def test_hmac_auth_rejects_a_key_that_is_not_base64() -> None:
    """A malformed key fails at construction, not at the first request."""
    with pytest.raises(ValueError, match="base64"):
        HmacAuth("not base64!")


async def test_emulator_accepts_signed_and_rejects_tampered(emulator_env: EmulatorEnv) -> None:
    """A request signed by HmacAuth passes the emulator; a wrong key gets 401 Denied."""
    async with emulator_env.phone_numbers() as client:
        assert [c async for c in client.list_available_countries()]
    wrong_key = base64.b64encode(b"another key entirely").decode()
    async with httpx.AsyncClient(transport=emulator_env.transport) as raw:
        response = await raw.get(
            emulator_env.endpoint + "/availablePhoneNumbers/countries?api-version=2025-06-01",
            auth=HmacAuth(wrong_key),
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Denied"
    bad = emulator_env.connection_string.replace(
        emulator_env.app.emulator.config.access_key, wrong_key
    )
    from acs import PhoneNumbersClient

    async with PhoneNumbersClient.from_connection_string(
        bad, transport=emulator_env.transport
    ) as client:
        with pytest.raises(AcsAuthError) as caught:
            await client.get_purchased_phone_number("+14255550123")
    assert caught.value.code == "Denied" and not caught.value.retryable
