"""Large tickets: 1,000 numbers are reserved in rounds, bought, routed over as many routes as
the 1,024-character pattern limit needs, and released with every one of those routes."""

from __future__ import annotations

import re

import pytest

from contracts.provision import MAX_QUANTITY, ProvisionRequest, Stage
from contracts.sip import MAX_PATTERN_LENGTH, route_parts
from emulator import EmulatorConfig
from provisioning import start_release
from tests.world import Saga, base_request

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100000"}


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Stock for a 1,000-number ticket (the default inventory is 25 per area code)."""
    return EmulatorConfig(lro_seconds=0.0, numbers_per_area_code=400)


def test_route_parts_cover_exactly_the_numbers_within_the_limit() -> None:
    numbers = tuple(f"+1800555{i:04d}" for i in range(MAX_QUANTITY))
    parts = route_parts("T-1", numbers)
    assert [name for name, _ in parts[:3]] == ["T-1", "T-1-part2", "T-1-part3"]
    assert all(len(pattern) <= MAX_PATTERN_LENGTH for _, pattern in parts)
    matched = [n for n in numbers for _, pattern in parts if re.match(pattern, n)]
    assert sorted(matched) == sorted(numbers)  # each number by exactly one route
    assert not any(re.match(pattern, "+18005551000") for _, pattern in parts)  # no other
    assert len(route_parts("T-1", numbers[:60])) == 1  # a usual ticket: one route, as before


@pytest.mark.timeout(300)
async def test_a_thousand_numbers_are_bought_routed_and_released(saga: Saga) -> None:
    request: ProvisionRequest = base_request(quantity=MAX_QUANTITY, approval=AUTO)
    handle = await saga.start(request)
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert len(result.numbers) == len(set(result.numbers)) == MAX_QUANTITY
    assert sorted(saga.owned()) == sorted(result.numbers)
    wanted = request.final_capabilities
    assert wanted is not None
    purchased = saga.state()["phoneNumbers"]["purchasedNumbers"]
    assert {(p["capabilities"]["calling"], p["capabilities"]["sms"]) for p in purchased} == {
        (wanted.calling.value, wanted.sms.value)
    }
    routes = saga.routes()
    assert len(routes) == len(route_parts(request.route_name, result.numbers)) > 1
    routed = [n for n in result.numbers for r in routes if re.match(r["numberPattern"], n)]
    assert sorted(routed) == sorted(result.numbers)
    counts = saga.state()["requestCounts"]
    assert counts.get("PhoneNumbers_GetByNumber", 0) < 50  # ownership read in bulk
    history = await handle.fetch_history()
    assert len(history.events) <= 5_120  # ten capability activities, not two thousand

    release = await start_release(saga.client, request.ticket_id, saga.task_queue)
    released = await release.handle.result()
    assert len(released.numbers_released) == MAX_QUANTITY
    saga.assert_clean()
