"""The emulator's service rules: holds expire, purchases happen once, offerings bound what is sold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from acs import (
    AcsAuthError,
    AcsValidationError,
    OperationStatus,
    PhoneNumberCapabilities,
    PhoneNumbersClient,
    PollSchedule,
    ReservationStatus,
)
from tests.conftest import EmulatorEnv
from tests.helpers import completed_search, purchased_numbers, reservation

CAPS = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


@pytest.fixture
async def client(asgi_env: EmulatorEnv) -> AsyncIterator[PhoneNumbersClient]:
    async with asgi_env.phone_numbers() as c:
        yield c


async def _search(
    client: PhoneNumbersClient, quantity: int = 1, area_code: str | None = None
) -> list[str]:
    result = await completed_search(client, quantity=quantity, area_code=area_code)
    return [result.search_id, *result.phone_numbers]


def _counts(env: EmulatorEnv, country: str = "US") -> dict[str, int]:
    counts: dict[str, int] = env.state["phoneNumbers"]["inventory"][country]
    return counts


async def test_search_hold_expires_and_numbers_return(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """A search holds ~16 min; after that its numbers are available and purchase fails."""
    search_id, number = await _search(client)
    result = await client.get_search_result(search_id)
    created = asgi_env.app.emulator.clock.now()
    assert timedelta(minutes=15) < result.search_expires_by - created <= timedelta(minutes=16)
    assert _counts(asgi_env)["held"] == 1
    asgi_env.advance(16 * 60 + 1)
    assert _counts(asgi_env)["held"] == 0
    assert (await client.get_search_result(search_id)).error == "ReservationExpired"
    with pytest.raises(AcsValidationError) as caught:
        await client.begin_purchase_phone_numbers(search_id)
    assert caught.value.code == "ReservationExpired"
    assert _counts(asgi_env)["purchased"] == 0


async def test_held_numbers_are_not_offered_to_others(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """Numbers held by a search are neither browsed nor found by another search."""
    _, *held = await _search(client, quantity=25, area_code="800")
    again = await client.begin_search_available_phone_numbers(
        "US", "tollFree", "application", CAPS, area_code="800"
    )
    await client.wait(again, schedule=PollSchedule(0.01, 0.01))
    result = await client.get_search_result(str(again.resource_id))
    assert result.phone_numbers == [] and result.error == "OutOfStock" and result.error_code == 1000
    browse = await client.browse_available_phone_numbers(
        country_code="US", phone_number_type="tollFree", phone_number_prefixes=["1800"]
    )
    assert not {n.phone_number for n in browse.phone_numbers} & set(held)


async def test_second_purchase_of_a_search_never_buys_twice(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """Re-POSTing a purchase returns the first operation; the numbers are bought once."""
    search_id, number = await _search(client)
    first = await client.begin_purchase_phone_numbers(search_id)
    second = await client.begin_purchase_phone_numbers(search_id)
    assert first.operation_id == second.operation_id == f"purchase_{search_id}"
    await client.wait(first, schedule=PollSchedule(0.01, 0.01))
    third = await client.begin_purchase_phone_numbers(search_id)
    assert third.operation_id == first.operation_id
    assert [p["phoneNumber"] for p in asgi_env.state["phoneNumbers"]["purchasedNumbers"]] == [
        number
    ]


async def test_second_purchase_of_a_reservation_never_buys_twice(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """Reservation purchases are keyed by the reservation id."""
    rid, _ = await reservation(client, "DE", "geographic", 2)
    refs = [await client.begin_purchase_reservation(rid) for _ in range(2)]
    await client.wait(refs[0], schedule=PollSchedule(0.01, 0.01))
    refs.append(await client.begin_purchase_reservation(rid))
    assert len({r.operation_id for r in refs}) == 1
    assert _counts(asgi_env, "DE")["purchased"] == 2


async def test_reservation_slides_then_caps_at_two_hours(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """Each change moves expiry to 15 min later, never beyond 2 h after creation."""
    browse = await client.browse_available_phone_numbers(
        country_code="GB", phone_number_type="geographic"
    )
    rid = uuid.uuid4()
    created = await client.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=browse.phone_numbers[:1]
    )
    start = asgi_env.app.emulator.clock.now()
    assert created.expires_at is not None
    assert abs((created.expires_at - start) - timedelta(minutes=15)) < timedelta(seconds=5)
    for i in range(1, 9):  # a change every 14 minutes keeps it alive
        asgi_env.advance(14 * 60)
        updated = await client.create_or_update_reservation(
            reservation_id=rid, numbers_to_add=browse.phone_numbers[i : i + 1]
        )
        assert updated.status is ReservationStatus.ACTIVE
    assert updated.expires_at is not None
    assert abs((updated.expires_at - start) - timedelta(hours=2)) < timedelta(seconds=5)
    asgi_env.advance(10 * 60)  # now past the 2 h cap
    expired = await client.get_reservation(rid)
    assert expired.status is ReservationStatus.EXPIRED
    assert expired.phone_numbers is not None
    assert all(n is not None and n.status == "expired" for n in expired.phone_numbers.values())
    assert _counts(asgi_env, "GB")["held"] == 0
    with pytest.raises(AcsValidationError, match="expired"):
        await client.begin_purchase_reservation(rid)


async def test_idle_reservation_expires_after_fifteen_minutes(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """Without changes a reservation lapses 15 min after its last change."""
    rid, _ = await reservation(client, "AU", "geographic", 1)
    asgi_env.advance(14 * 60)
    assert (await client.get_reservation(rid)).status is ReservationStatus.ACTIVE
    asgi_env.advance(60 + 1)
    assert (await client.get_reservation(rid)).status is ReservationStatus.EXPIRED


async def test_reservation_partial_success(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """A number held elsewhere fails inside the reservation (207), the others are reserved."""
    browse = await client.browse_available_phone_numbers(
        country_code="US", phone_number_type="geographic"
    )
    taken, free = browse.phone_numbers[:2]
    await client.create_or_update_reservation(reservation_id=uuid.uuid4(), numbers_to_add=[taken])
    mixed = await client.create_or_update_reservation(
        reservation_id=uuid.uuid4(), numbers_to_add=[taken, free]
    )
    assert mixed.phone_numbers is not None
    assert mixed.phone_numbers[str(taken.id)].status == "error"  # type: ignore[union-attr]
    assert mixed.phone_numbers[str(taken.id)].error.code == "FailedToReserveNumber"  # type: ignore[union-attr]
    assert mixed.phone_numbers[str(free.id)].status == "reserved"  # type: ignore[union-attr]


async def test_no_resell_agreement_is_enforced_on_search_purchase(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """FR toll-free needs agreeToNotResell; without it nothing is bought."""
    ref = await client.begin_search_available_phone_numbers(
        "FR", "tollFree", "application", PhoneNumberCapabilities(calling="inbound", sms="none")
    )
    await client.wait(ref, schedule=PollSchedule(0.01, 0.01))
    result = await client.get_search_result(str(ref.resource_id))
    assert result.is_agreement_to_not_resell_required
    with pytest.raises(AcsValidationError, match="Do not resell agreement was not provided"):
        await client.begin_purchase_phone_numbers(result.search_id)
    assert _counts(asgi_env, "FR")["purchased"] == 0
    await client.wait(
        await client.begin_purchase_phone_numbers(result.search_id, agree_to_not_resell=True),
        schedule=PollSchedule(0.01, 0.01),
    )
    assert _counts(asgi_env, "FR")["purchased"] == 1


async def test_capabilities_only_within_the_offering(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """A US geographic number cannot get SMS: the offering does not include it."""
    ref = await client.begin_search_available_phone_numbers(
        "US",
        "geographic",
        "application",
        PhoneNumberCapabilities(calling="inbound+outbound", sms="none"),
        area_code="425",
    )
    await client.wait(ref, schedule=PollSchedule(0.01, 0.01))
    result = await client.get_search_result(str(ref.resource_id))
    await client.wait(
        await client.begin_purchase_phone_numbers(result.search_id),
        schedule=PollSchedule(0.01, 0.01),
    )
    with pytest.raises(AcsValidationError, match="not offered"):
        await client.begin_update_phone_number_capabilities(result.phone_numbers[0], sms="inbound")
    with pytest.raises(AcsValidationError, match="not offered"):
        await client.begin_search_available_phone_numbers("US", "geographic", "person", CAPS)


async def test_numbers_not_owned_are_forbidden(client: PhoneNumbersClient) -> None:
    """Changing another resource's number is 403 InsufficientPermissions."""
    with pytest.raises(AcsAuthError) as caught:
        await client.begin_update_phone_number_capabilities("+18005550100", calling="inbound")
    assert caught.value.status_code == 403


async def test_release_returns_the_number_and_twice_is_one_operation(
    client: PhoneNumbersClient, asgi_env: EmulatorEnv
) -> None:
    """A release in flight is returned again; once done the number is back in inventory."""
    search_id, number = await _search(client)
    await client.wait(
        await client.begin_purchase_phone_numbers(search_id), schedule=PollSchedule(0.01, 0.01)
    )
    first = await client.begin_release_phone_number(number)
    second = await client.begin_release_phone_number(number)
    assert first.operation_id == second.operation_id
    assert (
        await client.wait(first, schedule=PollSchedule(0.01, 0.01))
    ).status is OperationStatus.SUCCEEDED
    assert _counts(asgi_env)["purchased"] == 0 and _counts(asgi_env)["held"] == 0


async def test_effects_apply_at_due_time_without_polling(asgi_env: EmulatorEnv) -> None:
    """The service does the work on its schedule: an unpolled purchase still completes."""
    async with asgi_env.phone_numbers() as client:
        search_id, number = await _search(client)
        await client.begin_purchase_phone_numbers(search_id)
        asgi_env.advance(1)
        assert [p["phoneNumber"] for p in asgi_env.state["phoneNumbers"]["purchasedNumbers"]] == [
            number
        ]


async def test_inventory_is_deterministic_from_the_seed() -> None:
    """Two emulators with one seed offer the same numbers; another seed differs."""
    from emulator import EmulatorConfig, create_app

    def numbers(seed: int) -> list[str]:
        return sorted(create_app(EmulatorConfig(seed=seed)).emulator.numbers.inventory)

    assert numbers(7) == numbers(7) != numbers(8)
    countries = create_app().emulator.state()["phoneNumbers"]["inventory"]
    assert {"US", "CA", "GB", "FR", "IE", "DE", "DK", "AU"} <= set(countries)


# -- answers recorded by the official SDK's live tests (README, fidelity notes) ------------------


async def test_operator_information_takes_one_number_per_call(client: PhoneNumbersClient) -> None:
    pipeline = client._pipeline  # noqa: SLF001 - the wire as the service sees it, past our check
    two = {"phoneNumbers": ["+14255550123", "+14255550124"]}
    with pytest.raises(AcsValidationError, match="Can only accept one phoneNumber") as refused:
        await pipeline.request_json("POST", "/operatorInformation/:search", body=two)
    assert refused.value.code == "BadRequest"


async def test_an_owned_number_is_found_by_its_id_without_plus(client: PhoneNumbersClient) -> None:
    [number] = await purchased_numbers(client)
    by_id = await client._pipeline.request_json("GET", f"/phoneNumbers/{number[1:]}")  # noqa: SLF001
    assert by_id["phoneNumber"] == number and by_id["id"] == number[1:]


async def test_france_toll_free_sells_outbound_calling_in_usd_with_the_agreement(
    client: PhoneNumbersClient,
) -> None:
    ref = await client.begin_search_available_phone_numbers(
        "FR", "tollFree", "application", PhoneNumberCapabilities(calling="outbound", sms="none")
    )
    await client.wait(ref, schedule=PollSchedule(0.01, 0.01))
    result = await client.get_search_result(str(ref.resource_id))
    assert (result.cost.amount, result.cost.currency_code) == (Decimal("8.00"), "USD")
    assert result.is_agreement_to_not_resell_required


async def test_ireland_lists_mobile_numbers_under_dublin(client: PhoneNumbersClient) -> None:
    localities = [
        loc async for loc in client.list_available_localities("IE", phone_number_type="mobile")
    ]
    assert [(loc.localized_name, loc.administrative_division) for loc in localities] == [
        ("Dublin", None)
    ]
    codes = [
        a.area_code
        async for a in client.list_available_area_codes(
            "IE", "mobile", assignment_type="application", locality="Dublin"
        )
    ]
    assert codes == ["1"]
    browse = await client.browse_available_phone_numbers(
        country_code="IE", phone_number_type="mobile"
    )
    first = browse.phone_numbers[0]
    assert str(first.phone_number).startswith("+3531")
    assert (first.capabilities.calling, first.capabilities.sms) == ("none", "inbound+outbound")
