"""SIP PATCH validation: the service's outer and inner error codes, atomic and merge-patch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from acs import HmacAuth
from tests.conftest import EmulatorEnv

GOOD_TRUNK = {"sbc1.example.com": {"sipSignalingPort": 5061}}


async def patch(
    env: EmulatorEnv,
    body: Any,
    version: str = "2023-03-01",
    content_type: str = "application/merge-patch+json",
) -> httpx.Response:
    """PATCH /sip with raw JSON, signed, bypassing the client's own validation."""
    import json

    async with httpx.AsyncClient(transport=env.transport) as raw:
        return await raw.patch(
            f"{env.endpoint}/sip?api-version={version}",
            content=json.dumps(body).encode(),
            headers={"Content-Type": content_type},
            auth=HmacAuth(env.app.emulator.config.access_key),
        )


CASES = [
    ("InvalidTrunkFqdn", 422, {"trunks": {"-1": {"sipSignalingPort": 5061}}}),
    (
        "InvalidTrunkSipSignalingPort",
        422,
        {"trunks": {"sbc1.example.com": {"sipSignalingPort": 0}}},
    ),
    (
        "InvalidTrunkSipSignalingPort",
        422,
        {"trunks": {"sbc1.example.com": {"sipSignalingPort": 65536}}},
    ),
    ("MissingDomain", 422, {"trunks": {"sbc1.contoso.com": {"sipSignalingPort": 5061}}}),
    ("InvalidRouteName", 422, {"routes": [{"name": "", "numberPattern": "^\\+1"}]}),
    ("InvalidRouteNumberPattern", 422, {"routes": [{"name": "r", "numberPattern": ""}]}),
    ("InvalidRouteNumberPattern", 422, {"routes": [{"name": "r", "numberPattern": "^(\\+1"}]}),
    (
        "DuplicatedRoute",
        400,
        {
            "routes": [
                {"name": "r", "numberPattern": "^\\+1"},
                {"name": "r", "numberPattern": "^\\+4"},
            ]
        },
    ),
    (
        "MissingTrunk",
        422,
        {"routes": [{"name": "r", "numberPattern": "^\\+1", "trunks": ["sbc9.example.com"]}]},
    ),
    (
        "RouteWithDuplicatedTrunk",
        400,
        {
            "trunks": GOOD_TRUNK,
            "routes": [
                {
                    "name": "r",
                    "numberPattern": "^\\+1",
                    "trunks": ["sbc1.example.com", "sbc1.example.com"],
                }
            ],
        },
    ),
    (
        "TooManyTrunks",
        422,
        {"trunks": {f"sbc{i}.example.com": {"sipSignalingPort": 5061} for i in range(251)}},
    ),
    (
        "TooManyRoutes",
        422,
        {"routes": [{"name": f"r{i}", "numberPattern": "^\\+1"} for i in range(251)]},
    ),
]


@pytest.mark.parametrize(
    ("inner", "status", "body"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
async def test_each_validation_code(
    asgi_env: EmulatorEnv, inner: str, status: int, body: Any
) -> None:
    """Outer UnprocessableConfiguration, the specific inner code, and nothing changed."""
    before = asgi_env.state["sip"]
    response = await patch(asgi_env, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == "UnprocessableConfiguration"
    assert error["message"] == "One or more request inputs are not valid."
    assert error["innererror"]["code"] == inner
    assert asgi_env.state["sip"] == before


async def test_trunk_used_by_a_route_cannot_be_deleted(asgi_env: EmulatorEnv) -> None:
    """Deleting (null) a trunk a route still targets is refused, as MissingTrunk."""
    assert (
        await patch(
            asgi_env,
            {
                "trunks": GOOD_TRUNK,
                "routes": [{"name": "r", "numberPattern": "^\\+1", "trunks": ["sbc1.example.com"]}],
            },
        )
    ).status_code == 200
    refused = await patch(asgi_env, {"trunks": {"sbc1.example.com": None}})
    assert (refused.status_code, refused.json()["error"]["innererror"]["code"]) == (
        422,
        "MissingTrunk",
    )
    assert list(asgi_env.state["sip"]["trunks"]) == ["sbc1.example.com"]


async def test_patch_is_atomic(asgi_env: EmulatorEnv) -> None:
    """A valid trunk and an invalid route in one PATCH: neither is applied."""
    response = await patch(
        asgi_env, {"trunks": GOOD_TRUNK, "routes": [{"name": "", "numberPattern": "x"}]}
    )
    assert response.status_code == 422
    assert asgi_env.state["sip"]["trunks"] == {}


async def test_merge_patch_semantics(asgi_env: EmulatorEnv) -> None:
    """Trunks merge by key, null deletes, routes are replaced, absent parts are untouched."""
    await patch(
        asgi_env, {"trunks": {**GOOD_TRUNK, "sbc2.example.com": {"sipSignalingPort": 5062}}}
    )
    await patch(
        asgi_env,
        {
            "routes": [
                {"name": "a", "numberPattern": "^\\+1"},
                {"name": "b", "numberPattern": "^\\+4"},
            ]
        },
    )
    result = (
        await patch(
            asgi_env,
            {"trunks": {"sbc2.example.com": None, "sbc3.example.com": {"sipSignalingPort": 5063}}},
        )
    ).json()
    assert list(result["trunks"]) == ["sbc1.example.com", "sbc3.example.com"]
    assert [r["name"] for r in result["routes"]] == ["a", "b"]
    result = (await patch(asgi_env, {"routes": [{"name": "b", "numberPattern": "^\\+4"}]})).json()
    assert [r["name"] for r in result["routes"]] == ["b"] and len(result["trunks"]) == 2
    assert (await patch(asgi_env, {"trunks": {"nothere.example.com": None}})).status_code == 200


async def test_subdomains_of_a_verified_domain_are_accepted(asgi_env: EmulatorEnv) -> None:
    """example.com (the default verified domain) covers sbc1.example.com and deeper hosts."""
    assert (
        await patch(asgi_env, {"trunks": {"a.b.example.com": {"sipSignalingPort": 5061}}})
    ).status_code == 200


async def test_wrong_content_type_is_415(asgi_env: EmulatorEnv) -> None:
    """PATCH /sip with application/json is refused as UnsupportedMediaType."""
    response = await patch(asgi_env, {"trunks": GOOD_TRUNK}, content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (415, "UnsupportedMediaType")


async def test_invalid_domain_in_preview(asgi_env: EmulatorEnv) -> None:
    """The preview validates domain names (InvalidDomain)."""
    response = await patch(
        asgi_env, {"domains": {"-1": {"enabled": True}}}, version="2024-11-15-preview"
    )
    assert response.json()["error"]["innererror"]["code"] == "InvalidDomain"


async def test_stable_api_ignores_preview_fields(asgi_env: EmulatorEnv) -> None:
    """On 2023-03-01 a trunk is only its port; preview fields are neither stored nor shown."""
    result = (
        await patch(
            asgi_env, {"trunks": {"sbc1.example.com": {"sipSignalingPort": 5061, "enabled": False}}}
        )
    ).json()
    assert result == {"trunks": GOOD_TRUNK, "routes": []}
