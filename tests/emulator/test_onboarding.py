"""Numbers that arrive by port or special order, and releases only the service desk can do.

The admin API puts a number into the resource as a port-in or a special order would (owned,
bought by no client, with its capabilities); in a country configured for it, the release API
refuses, as Microsoft's special-order page says releases there go through its service desk.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from acs import AcsReleaseByServiceDeskError
from emulator import RELEASE_BY_SERVICE_DESK
from tests.conftest import FAST, EmulatorEnv, make_asgi_env

PORTED = {
    "phoneNumber": "+442071234567",
    "countryCode": "GB",
    "phoneNumberType": "geographic",
    "assignmentType": "application",
    "capabilities": {"calling": "inbound", "sms": "none"},
    "via": "port",
}


async def _onboard(env: EmulatorEnv, spec: object) -> tuple[int, dict[str, object]]:
    async with env.admin() as admin:
        answer = await admin.post("/numbers/onboard", json=spec)
    return answer.status_code, answer.json()


async def test_a_ported_number_is_owned_with_its_capabilities_and_can_be_released() -> None:
    """Owned from now, listed like any number, never offered for sale after its release."""
    env = make_asgi_env(FAST)
    status, body = await _onboard(env, PORTED)
    assert status == 201, body
    async with env.phone_numbers() as client:
        number = await client.get_purchased_phone_number(PORTED["phoneNumber"])  # type: ignore[arg-type]
        assert (number.capabilities.calling, number.capabilities.sms) == ("inbound", "none")
        listed = [n.phone_number async for n in client.list_purchased_phone_numbers()]
        assert listed == [PORTED["phoneNumber"]]
        await client.wait(await client.begin_release_phone_number(PORTED["phoneNumber"]))  # type: ignore[arg-type]
    state = env.state["phoneNumbers"]
    assert state["purchasedNumbers"] == []
    assert {"phoneNumber": PORTED["phoneNumber"], "hold": "port"} in state["purchaseLog"]
    assert state["inventory"]["GB"]["purchased"] == 0, "a ported number is not stock"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({**PORTED, "phoneNumber": "020 7123 4567"}, "phoneNumber"),
        ({**PORTED, "via": "fax"}, "via"),
        ({**PORTED, "countryCode": "ZZ"}, "country code"),
        ({**PORTED, "phoneNumberType": "tollFree", "assignmentType": "person"}, "no tollFree"),
    ],
)
async def test_bad_onboarding_input_is_refused_in_one_line(
    spec: dict[str, object], problem: str
) -> None:
    env = make_asgi_env(FAST)
    status, body = await _onboard(env, spec)
    assert status == 400 and problem in str(body["error"]), body
    assert env.state["phoneNumbers"]["purchasedNumbers"] == []


async def test_a_number_already_in_the_resource_is_not_onboarded_twice() -> None:
    env = make_asgi_env(FAST)
    assert (await _onboard(env, PORTED))[0] == 201
    status, body = await _onboard(env, {**PORTED, "via": "specialOrder"})
    assert status == 409, body


async def test_a_release_in_a_service_desk_country_is_refused_and_the_number_stays() -> None:
    env = make_asgi_env(replace(FAST, service_desk_release_countries=frozenset({"GB"})))
    assert (await _onboard(env, PORTED))[0] == 201
    async with env.phone_numbers() as client:
        with pytest.raises(AcsReleaseByServiceDeskError) as refused:
            await client.begin_release_phone_number(PORTED["phoneNumber"])  # type: ignore[arg-type]
    assert refused.value.code == RELEASE_BY_SERVICE_DESK and not refused.value.retryable
    assert "Service Desk" in refused.value.message
    owned = env.state["phoneNumbers"]["purchasedNumbers"]
    assert [n["phoneNumber"] for n in owned] == [PORTED["phoneNumber"]]
