"""Happy paths: numbers bought once, configured and routed, with both hold strategies."""

from __future__ import annotations

from contracts.provision import ApprovalDecision, ProvisionResult, Stage
from tests.world import Saga, base_request
from workflows import ProvisionNumbersWorkflow


async def test_reservation_happy_path(saga: Saga) -> None:
    """Reserve → approve → purchase → configure → route; the emulator shows exactly that."""
    request = base_request()
    handle = await saga.start(request)
    waiting = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    assert len(waiting.numbers) == 2 and waiting.monthly_cost is not None
    await handle.execute_update(
        ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="alice")
    )
    result: ProvisionResult = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert sorted(result.numbers) == sorted(waiting.numbers)
    assert sorted(saga.owned()) == sorted(result.numbers)
    purchased = saga.state()["phoneNumbers"]["purchasedNumbers"]
    assert {(p["capabilities"]["calling"], p["capabilities"]["sms"]) for p in purchased} == {
        ("inbound", "inbound+outbound")
    }
    routes = saga.routes()
    assert [r["name"] for r in routes] == [f"ticket-{request.ticket_id}"]
    assert routes[0]["trunks"] == ["sbc1.example.com"]
    assert saga.state()["requestCounts"]["PhoneNumbers_PurchaseReservation"] == 1
    assert saga.active_reservations() == []
    status = await saga.status(handle)
    assert [e.stage for e in status.timeline if e.note is None] == [
        Stage.RESERVING,
        Stage.AWAITING_APPROVAL,
        Stage.PURCHASING,
        Stage.CONFIGURING,
        Stage.ROUTING,
        Stage.COMPLETED,
    ]


async def test_search_happy_path(saga: Saga) -> None:
    """The classic search strategy buys the searched numbers once."""
    request = base_request(hold_strategy="search", area_code="833", quantity=1)
    handle = await saga.start(request)
    waiting = await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    await handle.execute_update(ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="bob"))
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED
    assert saga.owned() == list(waiting.numbers) and waiting.numbers[0].startswith("+1833")
    assert saga.state()["requestCounts"]["PhoneNumbers_PurchasePhoneNumbers"] == 1
    assert len(saga.routes()) == 1
