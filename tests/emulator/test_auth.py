"""The emulator checks signatures exactly as the service: received Host, raw target, body hash, date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from acs import compute_content_hash, compute_hmac_signature
from tests.conftest import EmulatorEnv


def signed_headers(
    env: EmulatorEnv,
    method: str,
    target: str,
    body: bytes,
    *,
    host: str,
    when: datetime | None = None,
    content_hash: str | None = None,
) -> dict[str, str]:
    date = format_datetime(when or datetime.now(UTC), usegmt=True)
    digest = content_hash or compute_content_hash(body)
    signature = compute_hmac_signature(
        env.app.emulator.config.access_key,
        method=method,
        path_and_query=target,
        date=date,
        host=host,
        content_hash=digest,
    )
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": digest,
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
    }


async def send(
    env: EmulatorEnv, method: str, target: str, body: bytes = b"", **kwargs: object
) -> httpx.Response:
    host = env.endpoint.split("://", 1)[1]
    headers = signed_headers(env, method, target, body, host=host, **kwargs)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=env.transport) as raw:
        return await raw.request(method, env.endpoint + target, content=body, headers=headers)


@pytest.mark.parametrize("number", ["%2B14255550123", "+14255550123"])
async def test_percent_encoded_and_literal_plus_both_verify(
    emulator_env: EmulatorEnv, number: str
) -> None:
    """The raw target is signed as sent: %2B and + both pass, and both mean the same number."""
    response = await send(emulator_env, "GET", f"/phoneNumbers/{number}?api-version=2025-06-01")
    assert response.status_code == 404
    assert "+14255550123" in response.json()["error"]["message"]


async def test_stale_date_is_denied(emulator_env: EmulatorEnv) -> None:
    """A signature dated beyond the allowed skew (15 min) is refused."""
    old = datetime.now(UTC) - timedelta(minutes=20)
    response = await send(emulator_env, "GET", "/phoneNumbers?api-version=2025-06-01", when=old)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "Denied")


async def test_body_hash_mismatch_is_denied(emulator_env: EmulatorEnv) -> None:
    """A body that is not the one hashed is refused with the service's message."""
    response = await send(
        emulator_env,
        "POST",
        "/operatorInformation/:search?api-version=2025-06-01",
        b'{"phoneNumbers": ["+14255550123"]}',
        content_hash=compute_content_hash(b"{}"),
    )
    assert response.status_code == 401
    assert "x-ms-content-sha256" in response.json()["error"]["message"]


async def test_host_is_part_of_the_signature(emulator_env: EmulatorEnv) -> None:
    """Signing another host (e.g. with the SDK's trailing-slash bug) fails."""
    host = emulator_env.endpoint.split("://", 1)[1] + "/"
    headers = signed_headers(
        emulator_env, "GET", "/phoneNumbers?api-version=2025-06-01", b"", host=host
    )
    async with httpx.AsyncClient(transport=emulator_env.transport) as raw:
        response = await raw.get(
            emulator_env.endpoint + "/phoneNumbers?api-version=2025-06-01", headers=headers
        )
    assert response.status_code == 401


async def test_missing_authorization_is_denied(emulator_env: EmulatorEnv) -> None:
    """No Authorization header at all: 401 Denied."""
    async with httpx.AsyncClient(transport=emulator_env.transport) as raw:
        response = await raw.get(emulator_env.endpoint + "/phoneNumbers?api-version=2025-06-01")
    assert (response.status_code, response.json()["error"]["code"]) == (401, "Denied")


async def test_api_version_required_and_checked(emulator_env: EmulatorEnv) -> None:
    """Missing or unsupported api-version is a 400; answers name the supported versions."""
    missing = await send(emulator_env, "GET", "/phoneNumbers")
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    wrong = await send(emulator_env, "GET", "/sip?api-version=2025-06-01")
    assert wrong.json()["error"]["code"] == "UnsupportedApiVersion"
    assert wrong.headers["api-supported-versions"] == "2023-03-01, 2024-11-15-preview"
    preview_only = await send(
        emulator_env,
        "POST",
        "/sip:testRoutesWithNumber?targetPhoneNumber=%2B1&api-version=2023-03-01",
    )
    assert preview_only.status_code == 400


async def test_unknown_paths_and_methods(emulator_env: EmulatorEnv) -> None:
    """Unknown path: 404 in the envelope; known path with another verb: 405."""
    assert (await send(emulator_env, "GET", "/nothing?api-version=2025-06-01")).status_code == 404
    assert (await send(emulator_env, "PUT", "/sip?api-version=2023-03-01")).status_code == 405
