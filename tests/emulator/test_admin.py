"""The unsigned, loopback-only admin API under /_emulator/."""

from __future__ import annotations

import httpx

from emulator import create_app
from tests.conftest import EmulatorEnv


async def test_state_reset_and_clock(emulator_env: EmulatorEnv) -> None:
    """state shows counts and request tallies; clock/advance moves time; reset restores all."""
    async with emulator_env.phone_numbers() as client:
        await client.list_available_countries().to_list()
    async with emulator_env.admin() as admin:
        state = (await admin.get("/state")).json()
        assert state["requestCounts"] == {"PhoneNumbers_ListAvailableCountries": 1}
        assert state["phoneNumbers"]["inventory"]["US"]["available"] > 0
        assert state["sip"] == {
            "trunks": {},
            "routes": [],
            "domains": {"example.com": {"enabled": True}},
        }
        before = state["now"]
        advanced = (await admin.post("/clock/advance", json={"seconds": 3600})).json()["now"]
        assert advanced[:13] != before[:13]
        assert (await admin.post("/clock/advance", json={"seconds": -1})).status_code == 400
        assert (await admin.post("/reset")).status_code == 200
        assert (await admin.get("/state")).json()["requestCounts"] == {}


async def test_forced_purchase_outside_any_client(asgi_env: EmulatorEnv) -> None:
    """numbers/purchase buys a number as the portal would (for reconciliation tests)."""
    number = next(iter(asgi_env.app.emulator.numbers.inventory))
    async with asgi_env.admin() as admin:
        assert (
            await admin.post("/numbers/purchase", json={"phoneNumber": number})
        ).status_code == 201
        assert (
            await admin.post("/numbers/purchase", json={"phoneNumber": number})
        ).status_code == 409
    async with asgi_env.phone_numbers() as client:
        assert [n.phone_number async for n in client.list_purchased_phone_numbers()] == [number]


async def test_admin_refuses_non_loopback_clients() -> None:
    """A caller that is not on loopback gets 403."""
    transport = httpx.ASGITransport(app=create_app(), client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://acs.test") as admin:
        assert (await admin.get("/_emulator/state")).status_code == 403


async def test_a_domain_is_verified_by_the_admin_api(asgi_env: EmulatorEnv) -> None:
    """sip/domains marks a domain verified (the portal's DNS check): its trunks are accepted."""
    async with asgi_env.admin() as admin:
        assert (
            await admin.post("/sip/domains", json={"domain": "not a domain"})
        ).status_code == 400
        verified = await admin.post("/sip/domains", json={"domain": "unverified.net"})
        assert verified.status_code == 201
        assert verified.json()["domains"]["unverified.net"] == {"enabled": True}
    assert asgi_env.app.emulator.sip.domains["unverified.net"] == {"enabled": True}
