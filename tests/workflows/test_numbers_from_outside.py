"""Numbers numberflow did not buy: claimed by name, delivered to a manual order, never released.

Ported and specially ordered numbers are put into the emulator's resource by its admin call,
as Microsoft would; each test then checks the emulator afterwards: the numbers are still
owned, with the capabilities they had before, and nothing released them.

They run on the dev server (real time) but the one about deadlines: a ported ticket has no
timer, so the time-skipping server, with nothing else to wait for, skips to the nearest
deadline it knows, the SIP writer's default execution timeout (ten years on the test server;
none on a real one), and the writer ends with its ledger.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from contracts.ids import DELIVER_SIGNAL, release_workflow_id
from contracts.operations import ReconcileRequest, ReleaseConfirmation, ReleaseRequest
from contracts.provision import (
    Delivery,
    DeliveryRecord,
    Intervention,
    InterventionKind,
    ProvisionRequest,
    Stage,
)
from contracts.sip import LedgerEntry
from tests.workflows.test_sip_writer import writer
from tests.world import Saga, base_request
from workflows import (
    ProvisionNumbersWorkflow,
    ReconcileWorkflow,
    ReleaseNumbersWorkflow,
    SipRoutingWorkflow,
)

pytestmark = pytest.mark.slow

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}
BEFORE = {"calling": "outbound", "sms": "none"}
"""What the ported numbers could do before numberflow touched them."""
AFTER = {"calling": "inbound", "sms": "inbound+outbound"}
"""What the tickets configure (``base_request``'s final capabilities)."""


def onboard(saga: Saga, count: int, via: str = "port") -> tuple[str, ...]:
    """Put ``count`` US toll-free numbers into the resource, as a port-in would."""
    emulator = saga.emulator.app.emulator
    numbers = tuple(f"+1877{uuid.uuid4().int % 10**7:07d}" for _ in range(count))
    for number in numbers:
        emulator.numbers.onboard(
            {
                "phoneNumber": number,
                "countryCode": "US",
                "phoneNumberType": "tollFree",
                "assignmentType": "application",
                "capabilities": BEFORE,
                "via": via,
            },
            emulator.clock.now(),
        )
    return numbers


def capabilities(saga: Saga, numbers: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Each number's capabilities as the emulator holds them."""
    owned = {p["phoneNumber"]: p for p in saga.state()["phoneNumbers"]["purchasedNumbers"]}
    return {
        n: {"calling": owned[n]["capabilities"]["calling"], "sms": owned[n]["capabilities"]["sms"]}
        for n in numbers
    }


def existing(numbers: tuple[str, ...], **overrides: Any) -> ProvisionRequest:
    return base_request(source="existing", numbers=numbers, quantity=1, **overrides)


async def ledger(saga: Saga) -> dict[str, LedgerEntry]:
    return await (await writer(saga)).query(SipRoutingWorkflow.ledger)


async def release(saga: Saga, ticket: str, **request: Any) -> Any:
    return await saga.client.execute_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(ticket_id=ticket, **request),
        id=f"{release_workflow_id(ticket)}-{uuid.uuid4().hex[:4]}",
        task_queue=saga.task_queue,
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"numbers": ["+18775550101"]}, "numbers are named only with source existing"),
        ({"source": "existing"}, "source existing needs numbers"),
        ({"source": "existing", "numbers": ["18775550101"], "quantity": 1}, "E.164"),
        (
            {"source": "existing", "numbers": ["+18775550101"] * 2, "quantity": 1},
            "a number is listed twice",
        ),
        (
            {"source": "existing", "numbers": ["+442071234567"], "quantity": 1},
            "are not US numbers (+1)",
        ),
        (
            {"source": "existing", "numbers": ["+18775550101"], "quantity": 3},
            "the quantity is the count of numbers",
        ),
        (
            {
                "source": "existing",
                "numbers": ["+18775550101"],
                "quantity": 1,
                "phone_number_prefixes": ["1877"],
            },
            "source existing names its numbers",
        ),
        ({"source": "bought"}, "source"),
    ],
)
def test_a_request_for_numbers_from_outside_is_checked_before_anything_starts(
    change: dict[str, object], problem: str
) -> None:
    """Each mistake is one readable validation error; nothing is started."""
    values = base_request().model_dump(mode="json") | change
    with pytest.raises(ValidationError) as caught:
        ProvisionRequest.model_validate(values)
    assert problem in str(caught.value)


async def test_a_ported_ticket_is_configured_routed_and_released_back_as_it_was(
    dev_saga: Saga,
) -> None:
    """Claimed, configured, routed; its release restores the capabilities and keeps the numbers."""
    saga = dev_saga
    numbers = onboard(saga, 2)
    request = existing(numbers, approval=AUTO)
    result = await (await saga.start(request)).result()
    assert result.outcome is Stage.COMPLETED and result.numbers == numbers
    assert capabilities(saga, numbers) == dict.fromkeys(numbers, AFTER)
    assert [r["name"] for r in saga.routes()] == [request.route_name]
    entry = (await ledger(saga))[request.ticket_id]
    assert [(o.number, o.capabilities_before.calling.value) for o in entry.onboarded] == [
        (n, "outbound") for n in numbers
    ]

    released = await release(saga, request.ticket_id)
    assert released.numbers_kept == numbers and released.numbers_released == ()
    assert capabilities(saga, numbers) == dict.fromkeys(numbers, BEFORE)
    assert saga.routes() == []
    assert saga.state()["phoneNumbers"]["releaseLog"] == []
    entry = (await ledger(saga))[request.ticket_id]
    assert entry.numbers == () and all(o.kept for o in entry.onboarded)


async def test_a_large_port_is_read_from_one_listing(dev_saga: Saga) -> None:
    """25 ported numbers: checked from one listing of the resource, not a GET per number."""
    saga = dev_saga
    numbers = onboard(saga, 25)
    request = existing(numbers, approval=AUTO, final_capabilities=None, routing=None)
    result = await (await saga.start(request)).result()
    assert result.outcome is Stage.COMPLETED and result.numbers == numbers
    counts = saga.state()["requestCounts"]
    assert counts.get("PhoneNumbers_GetByNumber", 0) == 0, counts
    assert counts["PhoneNumbers_ListPhoneNumbers"] >= 1
    assert capabilities(saga, numbers) == dict.fromkeys(numbers, BEFORE)


async def test_an_operator_releases_ported_numbers_only_when_asked_and_is_recorded(
    dev_saga: Saga,
) -> None:
    """``release_numbers`` with who asks: gone from the resource, the ledger says who and when."""
    saga = dev_saga
    numbers = onboard(saga, 1)
    request = existing(numbers, approval=AUTO)
    await (await saga.start(request)).result()
    await release(saga, request.ticket_id)  # kept first
    assert saga.owned() == list(numbers)
    released = await release(saga, request.ticket_id, release_numbers=True, by="olivia")
    assert released.numbers_released == numbers
    assert saga.owned() == [] and saga.state()["phoneNumbers"]["releaseLog"] == list(numbers)
    (record,) = (await ledger(saga))[request.ticket_id].onboarded
    assert record.released_by == "olivia" and record.released_at is not None


async def test_a_cancelled_ported_ticket_gets_its_capabilities_back(dev_saga: Saga) -> None:
    """A routing failure after configuring, then a cancel: capabilities restored, numbers kept."""
    saga = dev_saga
    numbers = onboard(saga, 2)
    request = existing(numbers, approval=AUTO, routing={"trunks": [{"fqdn": "sbc.unverified.net"}]})
    handle = await saga.start(request)
    await saga.wait_stage(handle, Stage.NEEDS_ATTENTION)
    assert capabilities(saga, numbers) == dict.fromkeys(numbers, AFTER)
    await handle.cancel()
    await saga.failure(handle)
    status = await saga.status(handle)
    assert status.stage is Stage.COMPENSATED and status.outcome is Stage.CANCELLED
    assert capabilities(saga, numbers) == dict.fromkeys(numbers, BEFORE)
    assert saga.routes() == [] and saga.state()["phoneNumbers"]["releaseLog"] == []
    entry = (await ledger(saga))[request.ticket_id]
    assert entry.numbers == () and [o.number for o in entry.onboarded if o.kept] == list(numbers)


async def test_a_claim_of_another_tickets_number_is_refused_before_any_change(
    dev_saga: Saga,
) -> None:
    """The second ticket names the first one's number: refused, naming the owner; nothing moves."""
    saga = dev_saga
    numbers = onboard(saga, 2)
    first = existing(numbers[:1], approval=AUTO)
    await (await saga.start(first)).result()
    routes_before = saga.routes()
    second = existing(numbers, approval=AUTO)
    error = await saga.failure(await saga.start(second))
    assert isinstance(error, ApplicationError) and error.type == "ProvisioningFailed"
    assert f"belongs to ticket {first.ticket_id}" in error.message
    assert capabilities(saga, numbers) == {numbers[0]: AFTER, numbers[1]: BEFORE}
    assert saga.routes() == routes_before
    assert second.ticket_id not in await ledger(saga)


async def test_numbers_not_in_the_resource_are_refused_before_any_change(dev_saga: Saga) -> None:
    """A number the resource does not own: the saga fails and changes nothing."""
    saga = dev_saga
    numbers = onboard(saga, 1)
    request = existing((*numbers, "+18775550000"), approval=AUTO)
    error = await saga.failure(await saga.start(request))
    assert isinstance(error, ApplicationError)
    assert "1 of the 2 numbers are not in the ACS resource: +18775550000" in error.message
    assert capabilities(saga, numbers) == dict.fromkeys(numbers, BEFORE)
    assert request.ticket_id not in await ledger(saga)


async def _deliver(
    saga: Saga, handle: WorkflowHandle[Any, Any], numbers: tuple[str, ...], delivery_id: str
) -> DeliveryRecord:
    await handle.signal(
        DELIVER_SIGNAL, Delivery(numbers=numbers, by="porting-desk", delivery_id=delivery_id)
    )
    status = await saga.wait_for(
        handle, lambda s: any(d.delivery_id == delivery_id for d in s.deliveries)
    )
    return next(d for d in status.deliveries if d.delivery_id == delivery_id)


async def test_a_manual_order_takes_a_partial_then_a_full_delivery_and_completes(
    dev_saga: Saga,
) -> None:
    """Approved, then waits; a bad number is refused and recorded; the rest completes it."""
    saga = dev_saga
    request = base_request(source="manual_order", quantity=2)
    handle = await saga.start(request)
    await saga.approve(handle)
    waiting = await saga.wait_stage(handle, Stage.AWAITING_NUMBERS)
    assert waiting.order is not None and waiting.order.quantity == 2
    first, second = onboard(saga, 2, via="specialOrder")
    partial = await _deliver(saga, handle, (first, "+18775550000"), "d-1")
    assert partial.accepted == (first,)
    assert partial.refused == ("+18775550000: not in the ACS resource",)
    assert (await saga.status(handle)).stage is Stage.AWAITING_NUMBERS
    again = await _deliver(saga, handle, (first, second), "d-2")
    assert again.accepted == (first, second) and again.refused == ()
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and result.numbers == (first, second)
    assert capabilities(saga, (first, second)) == dict.fromkeys((first, second), AFTER)
    assert saga.routes()[0]["name"] == request.route_name


async def test_a_manual_order_reminds_then_expires_giving_back_what_was_delivered(
    saga: Saga,
) -> None:
    """On the time-skipping server: a reminder before the deadline, then ``expired``."""
    request = base_request(
        source="manual_order", quantity=2, attention_deadline=timedelta(hours=10)
    )
    handle = await saga.start(request)
    await saga.approve(handle)
    await saga.wait_stage(handle, Stage.AWAITING_NUMBERS)
    (number,) = onboard(saga, 1, via="specialOrder")
    await _deliver(saga, handle, (number,), "d-1")
    result = await handle.result()  # the server skips ahead to the deadline
    assert result.outcome is Stage.EXPIRED
    notes = [e.note or "" for e in (await saga.status(handle)).timeline]
    assert any(n.startswith("reminder: 1 number(s) still to be delivered") for n in notes)
    assert saga.owned() == [number] and saga.state()["phoneNumbers"]["releaseLog"] == []
    assert capabilities(saga, (number,)) == {number: BEFORE}


async def test_a_release_in_a_service_desk_country_parks_until_confirmed(
    service_desk: Saga,
) -> None:
    """No release call; pending in the ledger and reconcile until an operator confirms."""
    saga = service_desk
    request = base_request(approval=AUTO)
    result = await (await saga.start(request)).result()
    handle = await saga.client.start_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(ticket_id=request.ticket_id),
        id=release_workflow_id(request.ticket_id),
        task_queue=saga.task_queue,
    )
    saga.handles.append(handle)
    while (status := await handle.query(ReleaseNumbersWorkflow.status)).stage != (
        "awaiting_service_desk"
    ):
        pass
    assert status.service_desk is not None and result.numbers[0] in status.service_desk
    assert saga.routes() == [] and sorted(saga.owned()) == sorted(result.numbers)
    entry = (await ledger(saga))[request.ticket_id]
    assert sorted(entry.release_pending_manual) == sorted(result.numbers)
    report = await saga.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileRequest(),
        id=f"reconcile-{request.ticket_id}",
        task_queue=saga.task_queue,
    )
    assert report.release_pending_manual == tuple(sorted(result.numbers))
    assert report.orphans == () and report.ghosts == ()
    await handle.signal(ReleaseNumbersWorkflow.confirm_released, ReleaseConfirmation(by="olivia"))
    released = await handle.result()
    assert released.numbers_released_by_service_desk == result.numbers
    assert released.confirmed_by == "olivia"
    assert request.ticket_id not in await ledger(saga)


async def test_a_compensation_in_a_service_desk_country_parks_for_confirmation(
    service_desk: Saga,
) -> None:
    """After the purchase a step fails: the release waits for ``confirm_released``."""
    saga = service_desk
    request = base_request(
        approval=AUTO,
        routing={"trunks": [{"fqdn": "sbc.unverified.net"}]},
        on_step_failure="compensate",
    )
    handle = await saga.start(request)
    parked = await saga.wait_for(
        handle, lambda s: s.attention is not None and s.attention.step == "release"
    )
    assert parked.attention is not None
    assert parked.attention.error_code == "ReleaseByServiceDesk"
    assert "numberflow confirm-released" in parked.attention.message
    assert sorted((await ledger(saga))[request.ticket_id].release_pending_manual) == sorted(
        parked.numbers
    )
    await handle.execute_update(
        ProvisionNumbersWorkflow.intervene,
        Intervention(action=InterventionKind.CONFIRM_RELEASED, by="olivia"),
    )
    await saga.failure(handle)
    status = await saga.status(handle)
    assert status.stage is Stage.COMPENSATED and status.left_for_operator == ()
    assert request.ticket_id not in await ledger(saga)
    assert saga.state()["phoneNumbers"]["releaseLog"] == []
