"""LROs as primitives: begin returns a reference, polls read a typed status, wait() helps scripts."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from acs import (
    AcsOperationFailedError,
    AcsProtocolError,
    OperationKind,
    OperationRef,
    OperationStatus,
    PhoneNumberCapabilities,
    PhoneNumbersClient,
    PollSchedule,
)
from emulator import EmulatorConfig
from tests.conftest import EmulatorEnv, make_asgi_env

CAPS = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


async def test_status_progresses_on_the_emulator_clock() -> None:
    """notStarted → running → succeeded as emulated time passes; nothing sleeps."""
    env = make_asgi_env(EmulatorConfig(lro_seconds=30))
    async with env.phone_numbers() as client:
        ref = await client.begin_search_available_phone_numbers("US", "tollFree", "person", CAPS)
        assert (await client.get_operation(ref)).status is OperationStatus.NOT_STARTED
        env.advance(15)
        assert (await client.get_operation(ref)).status is OperationStatus.RUNNING
        env.advance(15)
        poll = await client.get_operation(ref)
        assert poll.status is OperationStatus.SUCCEEDED and poll.status.is_terminal


async def test_reference_survives_serialisation(numbers: PhoneNumbersClient) -> None:
    """An OperationRef is plain data: it can be stored as JSON and polled from elsewhere."""
    ref = await numbers.begin_search_available_phone_numbers("CA", "tollFree", "application", CAPS)
    restored = OperationRef.model_validate(json.loads(ref.model_dump_json()))
    assert restored == ref
    await numbers.wait(restored, schedule=PollSchedule(0.02, 0.02))


async def test_failed_operation_raises_with_its_error_code(asgi_env: EmulatorEnv) -> None:
    """A fault-injected failure surfaces as AcsOperationFailedError with the operation's code."""
    async with asgi_env.admin() as admin:
        await admin.post(
            "/faults",
            json={"operationKind": "search", "action": {"type": "lroFail", "code": "OutOfStock"}},
        )
    async with asgi_env.phone_numbers() as client:
        ref = await client.begin_search_available_phone_numbers("US", "tollFree", "person", CAPS)
        with pytest.raises(AcsOperationFailedError) as caught:
            await client.wait(ref, schedule=PollSchedule(0.02, 0.02))
    assert caught.value.code == "OutOfStock" and not caught.value.retryable


async def test_backwards_status_is_tolerated(asgi_env: EmulatorEnv) -> None:
    """running → notStarted → succeeded is read as it comes, not treated as an error."""
    async with asgi_env.admin() as admin:
        await admin.post(
            "/faults", json={"operationKind": "search", "action": {"type": "lroBackwards"}}
        )
    async with asgi_env.phone_numbers() as client:
        ref = await client.begin_search_available_phone_numbers("US", "tollFree", "person", CAPS)
        seen = [(await client.get_operation(ref)).status for _ in range(2)]
        assert seen == [OperationStatus.RUNNING, OperationStatus.NOT_STARTED]
        assert (
            await client.wait(ref, schedule=PollSchedule(0.02, 0.02))
        ).status is OperationStatus.SUCCEEDED


def _operation_body(status: str) -> dict[str, object]:
    return {
        "id": "purchase_x",
        "operationType": "purchase",
        "status": status,
        "createdDateTime": "2024-01-16T23:34:24.4159366+00:00",
        "resourceLocation": None,
    }


async def test_unknown_status_is_an_error_not_an_endless_poll() -> None:
    """A status outside the four the service uses raises AcsProtocolError at once."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_operation_body("cancelled"))

    client = PhoneNumbersClient(
        "http://x.test", httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(handler)
    )
    with pytest.raises(AcsProtocolError):
        await client.get_operation("purchase_x")


async def test_wait_honours_retry_after_and_deadline() -> None:
    """wait() sleeps what Retry-After says and gives up at its deadline."""
    polls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        polls.append(1)
        return httpx.Response(200, json=_operation_body("running"), headers={"Retry-After": "1"})

    client = PhoneNumbersClient(
        "http://x.test", httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(handler)
    )
    ref = OperationRef(
        operation_id="purchase_x",
        operation_location="/phoneNumbers/operations/purchase_x",
        kind=OperationKind.PURCHASE,
    )
    with pytest.raises(TimeoutError):
        await client.wait(ref, schedule=PollSchedule(0.01, 0.01), timeout=1.5)
    assert len(polls) == 2  # the schedule's first poll, one after Retry-After=1, then the deadline


async def test_emulator_retry_after_is_read_from_polls() -> None:
    """The Retry-After an emulator (or service) sends on a poll is on the poll result."""
    env = make_asgi_env(EmulatorConfig(lro_seconds=60, lro_retry_after=3))
    async with env.phone_numbers() as client:
        ref = await client.begin_search_available_phone_numbers("US", "tollFree", "person", CAPS)
        assert (await client.get_operation(ref)).retry_after == 3


async def test_each_kind_begin_poll_result(numbers: PhoneNumbersClient) -> None:
    """Search, purchase, capabilities, reservation purchase and release each complete."""
    search = await numbers.begin_search_available_phone_numbers(
        "US", "tollFree", "application", CAPS, quantity=1
    )
    await numbers.wait(search, schedule=PollSchedule(0.02, 0.02))
    result = await numbers.fetch_result(search)
    assert result is not None and search.kind is OperationKind.SEARCH
    number = result.phone_numbers[0]  # type: ignore[union-attr]
    purchase = await numbers.begin_purchase_phone_numbers(result.search_id)  # type: ignore[union-attr]
    await numbers.wait(purchase, schedule=PollSchedule(0.02, 0.02))
    caps = await numbers.begin_update_phone_number_capabilities(number, calling="inbound")
    await numbers.wait(caps, schedule=PollSchedule(0.02, 0.02))
    assert (await numbers.fetch_result(caps)).capabilities.calling == "inbound"  # type: ignore[union-attr]
    browse = await numbers.browse_available_phone_numbers(
        country_code="AU", phone_number_type="mobile"
    )
    rid = uuid.uuid4()
    await numbers.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=browse.phone_numbers[:1]
    )
    reservation = await numbers.begin_purchase_reservation(rid)
    await numbers.wait(reservation, schedule=PollSchedule(0.02, 0.02))
    release = await numbers.begin_release_phone_number(number)
    await numbers.wait(release, schedule=PollSchedule(0.02, 0.02))
    kinds = [r.kind for r in (search, purchase, caps, reservation, release)]
    assert sorted(kinds) == sorted(OperationKind)
    owned = [n.phone_number async for n in numbers.list_purchased_phone_numbers()]
    assert owned == [browse.phone_numbers[0].phone_number]


def test_poll_schedule_is_a_grid_anchored_at_the_start() -> None:
    """First poll at 0.5 s, then every 2 s from the start, whatever each poll cost: no drift."""
    schedule = PollSchedule()
    assert schedule.delay(0.0) == 0.5
    assert schedule.delay(0.2) == pytest.approx(0.3)
    assert schedule.delay(0.55) == pytest.approx(1.45)
    assert schedule.delay(2.0) == pytest.approx(2.0)
    assert schedule.delay(2.07) == pytest.approx(1.93)
    assert schedule.delay(59.9) == pytest.approx(0.1)
    points, elapsed = [], 0.0
    while elapsed < 60.0:
        elapsed += schedule.delay(elapsed) + 0.03  # each poll lands one round trip late
        points.append(elapsed)
    assert len(points) == 31  # the official SDK's count for 60 s: at once, then every 2 s
    assert points[-1] == pytest.approx(60.03)
