"""Fault injection: every action, its matching and its counting."""

from __future__ import annotations

import time
from typing import Any

import pytest

from acs import (
    AcsOperationFailedError,
    AcsServerError,
    AcsThrottledError,
    AcsTransportError,
    OperationStatus,
    PhoneNumberCapabilities,
    PollSchedule,
)
from emulator import EmulatorConfig
from tests.conftest import EmulatorEnv, make_asgi_env
from tests.helpers import completed_search

CAPS = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


async def add_fault(env: EmulatorEnv, rule: dict[str, Any]) -> dict[str, Any]:
    async with env.admin() as admin:
        response = await admin.post("/faults", json=rule)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_status_fault_with_retry_after(asgi_env: EmulatorEnv) -> None:
    """A status action answers the given error, with Retry-After, for ``times`` requests."""
    await add_fault(
        asgi_env,
        {
            "method": "POST",
            "path": ":search$",
            "times": 1,
            "action": {"type": "status", "status": 429, "code": "TooManyRequests", "retryAfter": 2},
        },
    )
    async with asgi_env.phone_numbers() as client:
        with pytest.raises(AcsThrottledError) as caught:
            await client.begin_search_available_phone_numbers("US", "tollFree", "person", CAPS)
        assert (caught.value.code, caught.value.retry_after) == ("TooManyRequests", 2.0)
        await client.begin_search_available_phone_numbers(
            "US", "tollFree", "person", CAPS
        )  # used up
    assert asgi_env.state["faults"][0]["fired"] == 1


async def test_latency_fault(asgi_env: EmulatorEnv) -> None:
    """A latency action delays the answer."""
    await add_fault(
        asgi_env,
        {
            "operation": "PhoneNumbers_ListAvailableCountries",
            "action": {"type": "latency", "seconds": 0.3},
        },
    )
    async with asgi_env.phone_numbers() as client:
        started = time.monotonic()
        await client.list_available_countries().to_list()
    assert time.monotonic() - started >= 0.3


async def test_lro_fail_leaves_nothing_bought(asgi_env: EmulatorEnv) -> None:
    """lroFail on a purchase: the operation ends failed and the numbers stay unowned, still held."""
    async with asgi_env.phone_numbers() as client:
        search_id = (await completed_search(client)).search_id
        await add_fault(
            asgi_env,
            {
                "operationKind": "purchase",
                "times": 1,
                "action": {"type": "lroFail", "code": "PurchaseFailed", "message": "billing down"},
            },
        )
        purchase = await client.begin_purchase_phone_numbers(search_id)
        with pytest.raises(AcsOperationFailedError) as caught:
            await client.wait(purchase, schedule=PollSchedule(0.01, 0.01))
        assert (caught.value.code, caught.value.message) == ("PurchaseFailed", "billing down")
        assert asgi_env.state["phoneNumbers"]["inventory"]["US"]["purchased"] == 0
        assert asgi_env.state["phoneNumbers"]["inventory"]["US"]["held"] == 1


async def test_lro_backwards(asgi_env: EmulatorEnv) -> None:
    """lroBackwards: polls read running, notStarted, then the real status."""
    await add_fault(asgi_env, {"operationKind": "release", "action": {"type": "lroBackwards"}})
    async with asgi_env.phone_numbers() as client:
        search_id = (await completed_search(client)).search_id
        await client.wait(
            await client.begin_purchase_phone_numbers(search_id),
            schedule=PollSchedule(0.01, 0.01),
        )
        number = (await client.get_search_result(search_id)).phone_numbers[0]
        release = await client.begin_release_phone_number(number)
        statuses = [(await client.get_operation(release)).status for _ in range(2)]
        assert statuses == [OperationStatus.RUNNING, OperationStatus.NOT_STARTED]
        assert (
            await client.wait(release, schedule=PollSchedule(0.01, 0.01))
        ).status is OperationStatus.SUCCEEDED


async def test_lro_faults_only_consume_on_lro_starts(asgi_env: EmulatorEnv) -> None:
    """An lroFail rule does not fire on (or get used up by) ordinary requests."""
    await add_fault(asgi_env, {"times": 1, "action": {"type": "lroFail"}})
    async with asgi_env.phone_numbers() as client:
        await client.list_available_countries().to_list()
        ref = await client.begin_search_available_phone_numbers("US", "tollFree", "person", CAPS)
        with pytest.raises(AcsOperationFailedError):
            await client.wait(ref, schedule=PollSchedule(0.01, 0.01))


@pytest.mark.parametrize("when", ["before", "after"])
async def test_drop_over_loopback(loopback_server: Any, when: str) -> None:
    """drop closes the connection: 'before' does no work, 'after' does the work and loses the answer."""
    loopback_server.app.emulator.reset()
    env = EmulatorEnv("loopback", loopback_server.app, loopback_server.endpoint, None)
    try:
        async with env.phone_numbers() as client:
            search_id = (await completed_search(client)).search_id
            await add_fault(
                env,
                {
                    "operation": "PhoneNumbers_PurchasePhoneNumbers",
                    "times": 1,
                    "action": {"type": "drop", "when": when},
                },
            )
            with pytest.raises(AcsTransportError):
                await client.begin_purchase_phone_numbers(search_id)
            env.advance(1)
            bought = env.state["phoneNumbers"]["inventory"]["US"]["purchased"]
            assert bought == (1 if when == "after" else 0)
            retry = await client.begin_purchase_phone_numbers(search_id)  # the caller's re-POST
            await client.wait(retry, schedule=PollSchedule(0.01, 0.01))
            assert env.state["phoneNumbers"]["inventory"]["US"]["purchased"] == 1
    finally:
        loopback_server.app.emulator.reset()


async def test_probability_is_seeded() -> None:
    """With a probability, which requests fail is the same for the same seed."""

    async def pattern(seed: int) -> list[bool]:
        env = make_asgi_env(EmulatorConfig(seed=seed))
        await add_fault(
            env,
            {
                "path": "^/availablePhoneNumbers/countries$",
                "probability": 0.5,
                "action": {"type": "status", "status": 500},
            },
        )
        outcomes = []
        async with env.phone_numbers(get_retries=0) as client:
            for _ in range(20):
                try:
                    await client.list_available_countries().to_list()
                    outcomes.append(True)
                except AcsServerError:
                    outcomes.append(False)
        return outcomes

    first = await pattern(3)
    assert first == await pattern(3)
    assert 0 < first.count(False) < 20


async def test_bad_rules_are_refused(asgi_env: EmulatorEnv) -> None:
    """A rule with an unknown action or bad numbers is a 400, not a silent no-op."""
    async with asgi_env.admin() as admin:
        for rule in (
            {"action": {"type": "explode"}},
            {"action": {"type": "status", "status": 200}},
            {"times": 0, "action": {"type": "lroFail"}},
            {"path": "(", "action": {"type": "lroFail"}},
        ):
            assert (await admin.post("/faults", json=rule)).status_code == 400
        assert (await admin.get("/faults")).json() == {"faults": []}


async def test_clearing_faults(asgi_env: EmulatorEnv) -> None:
    """DELETE /_emulator/faults removes every rule."""
    await add_fault(asgi_env, {"action": {"type": "status", "status": 503}})
    async with asgi_env.admin() as admin:
        assert (await admin.delete("/faults")).status_code == 204
    async with asgi_env.phone_numbers() as client:
        await client.list_available_countries().to_list()
