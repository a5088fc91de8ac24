"""The tenant's limits as the emulator models them: searches and purchases per rolling week,
a refusal that says when the window has room again, grants, and released numbers' quarantine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acs import (
    AcsQuotaExceededError,
    AcsThrottledError,
    PhoneNumbersClient,
    PollSchedule,
)
from emulator import EmulatorConfig, TenantLimits
from tests.conftest import FAST, EmulatorEnv, make_asgi_env
from tests.helpers import TOLL_FREE_CAPS, completed_search

DAY = 24 * 3600
WEEK = 7 * DAY


@pytest.fixture
def tenant() -> EmulatorEnv:
    """An emulator held to a new tenant's limits: 5 searches and 1 purchase a week."""
    return make_asgi_env(
        EmulatorConfig(lro_seconds=FAST.lro_seconds, limits=TenantLimits.new_tenant())
    )


@pytest.fixture
async def client(tenant: EmulatorEnv) -> AsyncIterator[PhoneNumbersClient]:
    async with tenant.phone_numbers() as phone_numbers:
        yield phone_numbers


async def _limits(env: EmulatorEnv) -> dict[str, dict[str, object]]:
    async with env.admin() as admin:
        answer = await admin.get("/limits")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


async def _browse(client: PhoneNumbersClient) -> None:
    await client.browse_available_phone_numbers(country_code="US", phone_number_type="tollFree")


async def test_the_sixth_search_of_the_week_is_refused_until_the_first_leaves_the_window(
    client: PhoneNumbersClient, tenant: EmulatorEnv
) -> None:
    await _browse(client)  # a browse looks for numbers to buy: it counts as a search
    tenant.advance(DAY)
    for _ in range(2):
        await _browse(client)
    await completed_search(client)
    await completed_search(client)
    with pytest.raises(AcsQuotaExceededError) as refused:
        await _browse(client)
    error = refused.value
    assert error.code == "QuotaExceeded" and not error.retryable
    # room again when the first browse leaves the rolling week: six days from now
    assert error.retry_after is not None and WEEK - DAY - 5 < error.retry_after <= WEEK - DAY + 1
    assert isinstance(error, AcsThrottledError)  # still a 429, told apart by its code
    searches = (await _limits(tenant))["searches"]
    assert (searches["used"], searches["remaining"], searches["refused"]) == (5, 0, 1)
    tenant.advance(error.retry_after)
    await _browse(client)  # the first browse left the rolling window: room for one
    with pytest.raises(AcsQuotaExceededError):
        await _browse(client)


async def test_one_purchase_a_week_and_a_repeated_post_is_the_same_purchase(
    client: PhoneNumbersClient, tenant: EmulatorEnv
) -> None:
    first = await completed_search(client)
    second = await completed_search(client)
    operation = await client.begin_purchase_phone_numbers(first.search_id)
    again = await client.begin_purchase_phone_numbers(first.search_id)
    assert again.operation_id == operation.operation_id
    with pytest.raises(AcsQuotaExceededError, match="limit of 1 phone number purchases"):
        await client.begin_purchase_phone_numbers(second.search_id)
    assert (await _limits(tenant))["purchases"]["used"] == 1


async def test_a_granted_support_request_raises_the_limit_at_once(
    client: PhoneNumbersClient, tenant: EmulatorEnv
) -> None:
    for _ in range(5):
        await _browse(client)
    with pytest.raises(AcsQuotaExceededError):
        await _browse(client)
    async with tenant.admin() as admin:
        granted = await admin.post("/limits", json={"searches": 20})
        assert granted.status_code == 200
        assert (await admin.post("/limits", json={"searches": -1})).status_code == 400
    assert granted.json()["searches"] == {
        "limit": 20, "used": 5, "remaining": 15, "refused": 1, "reopensAt": None
    }  # fmt: skip
    await _browse(client)


async def test_a_released_number_is_not_offered_again_until_its_quarantine_ends(
    client: PhoneNumbersClient, tenant: EmulatorEnv
) -> None:
    async with tenant.admin() as admin:
        await admin.post("/limits", json={"searches": None, "purchases": None})
    result = await completed_search(client, quantity=1)
    await client.wait(
        await client.begin_purchase_phone_numbers(result.search_id),
        schedule=PollSchedule(0.01, 0.01),
    )
    [number] = result.phone_numbers
    await client.wait(
        await client.begin_release_phone_number(number), schedule=PollSchedule(0.01, 0.01)
    )
    offered = tenant.app.emulator.numbers._is_available  # noqa: SLF001 - what browse and search use
    assert not offered(number)
    tenant.advance(tenant.app.emulator.config.release_quarantine_seconds)
    tenant.app.emulator.numbers.settle(tenant.app.emulator.clock.now())
    assert offered(number)


async def test_without_limits_nothing_is_counted_against_anyone() -> None:
    env = make_asgi_env()
    async with env.phone_numbers() as client:
        for _ in range(8):
            await client.browse_available_phone_numbers(
                country_code="US", phone_number_type="tollFree"
            )
        ref = await client.begin_search_available_phone_numbers(
            "US", "tollFree", "application", TOLL_FREE_CAPS
        )
        assert ref.operation_id
    limits = (await _limits(env))["searches"]
    assert (limits["limit"], limits["used"], limits["remaining"]) == (None, 9, None)


def test_the_presets_are_the_service_limits_page_and_none() -> None:
    assert TenantLimits.preset("new-tenant") == TenantLimits(searches=5, purchases=1)
    assert TenantLimits.preset("none") == TenantLimits()
    with pytest.raises(ValueError, match="new-tenant"):
        TenantLimits.preset("enterprise")
