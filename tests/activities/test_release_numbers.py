"""Releasing numbers touches only the purchase the caller knows, even when it is retried."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities import PhoneNumberActivities
from contracts.activities import ReleaseNumbersInput
from tests.conftest import EmulatorEnv


def owned_numbers(env: EmulatorEnv) -> list[str]:
    return [p["phoneNumber"] for p in env.state["phoneNumbers"]["purchasedNumbers"]]


async def buy_outside(env: EmulatorEnv, number: str) -> None:
    async with env.admin() as admin:
        answer = await admin.post("/numbers/purchase", json={"phoneNumber": number})
        assert answer.status_code == 201, answer.text


async def test_a_retried_release_leaves_a_number_bought_again_alone(asgi_env: EmulatorEnv) -> None:
    """Released, then bought by another ticket, then the release runs again (its worker died
    after ACS released): the number keeps its new owner."""
    number = next(n for n in asgi_env.app.emulator.numbers.inventory if n.startswith("+1"))
    await buy_outside(asgi_env, number)
    async with asgi_env.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        run = ActivityEnvironment().run
        owned = await run(activities.ownership, ReleaseNumbersInput(numbers=(number,)))
        release = ReleaseNumbersInput(numbers=(number,), purchased_at=owned.purchased_at)
        first = await run(activities.release_numbers, release)
        assert len(first.started) == 1 and owned_numbers(asgi_env) == []
        # out of its quarantine, another ticket buys it
        asgi_env.advance(asgi_env.app.emulator.config.release_quarantine_seconds)
        await buy_outside(asgi_env, number)
        again = await run(activities.release_numbers, release)
    assert again.started == () and again.already_gone == (number,)
    assert owned_numbers(asgi_env) == [number]
