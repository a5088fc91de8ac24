"""A cancelled hold activity leaves no request on the wire: its compensation then sees everything.

The leaked hold of the chaos runs: a saga is cancelled while ``acquire_reservation`` has a
PATCH adding numbers on its way to ACS. The cancel cut the client off and the activity ended at
once; the compensation's ``release_hold`` then found and deleted the reservation before ACS
applied that PATCH, and the PATCH (create-or-update, keyed by the saga's id) created it again:
active, holding numbers, owned by a saga that had already compensated. Real HTTP on loopback,
because only there does a request outlive the client that gave up on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from activities import PhoneNumberActivities
from contracts.activities import HoldInput, ReleaseHoldInput
from contracts.provision import HoldStrategy
from emulator import EmulatorServer
from tests.conftest import EmulatorEnv

from .test_phone_number_activities import REQUEST, environment

LATENCY = 1.0
"""Seconds ACS takes to apply the PATCH: the window in which the cancel lands."""


@pytest.fixture
def loopback(loopback_server: EmulatorServer) -> Iterator[EmulatorEnv]:
    loopback_server.app.emulator.reset()
    yield EmulatorEnv("loopback", loopback_server.app, loopback_server.endpoint, None)
    loopback_server.app.emulator.reset()


def _active(env: EmulatorEnv) -> list[str]:
    reservations = env.state["phoneNumbers"]["reservations"]
    return [r["id"] for r in reservations if r["status"] in ("active", "submitted")]


async def test_a_cancel_waits_for_the_reservation_change_on_the_wire(loopback: EmulatorEnv) -> None:
    hold_id = str(uuid.uuid4())
    async with loopback.phone_numbers() as client:
        activities = PhoneNumberActivities(client)
        # An earlier attempt created the (empty) reservation; this one adds the numbers.
        await client.create_or_update_reservation(reservation_id=hold_id)
        slow_patch = loopback.app.emulator.faults.add(
            {
                "method": "PATCH",
                "path": "/reservations/",
                "action": {"type": "latency", "seconds": LATENCY},
            }
        )
        acquiring_env = environment()
        acquiring = asyncio.create_task(
            acquiring_env.run(
                activities.acquire_reservation, HoldInput(request=REQUEST, hold_id=hold_id)
            )
        )
        async with asyncio.timeout(10):
            while slow_patch.fired == 0:  # the PATCH adding numbers has reached ACS
                await asyncio.sleep(0.01)
        acquiring_env.cancel()
        with pytest.raises(asyncio.CancelledError):
            await acquiring
        # The saga's compensation runs as soon as the activity reports its cancel.
        await environment().run(
            activities.release_hold,
            ReleaseHoldInput(strategy=HoldStrategy.RESERVATION, hold_id=hold_id),
        )
        # Watch past the PATCH's latency: whatever was still on the wire has landed by then.
        await asyncio.sleep(LATENCY * 1.5)
    assert _active(loopback) == []
