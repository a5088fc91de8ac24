"""Failure paths: each ends compensated, with nothing owned, held or routed in the emulator."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from contracts.provision import ProvisionRequest, Stage
from tests.world import Saga, base_request

SAGA_OPERATIONS = [
    "PhoneNumbers_CreateOrUpdateReservation",
    "PhoneNumbers_BrowseAvailableNumbers",
    "PhoneNumbers_GetReservation",
    "PhoneNumbers_PurchaseReservation",
    "PhoneNumbers_GetOperation",
    "PhoneNumbers_GetByNumber",
    "PhoneNumbers_UpdateCapabilities",
    "SipRouting_Get",
    "SipRouting_Update",
]


def _type_and_message(error: BaseException) -> tuple[str | None, str]:
    assert isinstance(error, ApplicationError), error
    return error.type, error.message


async def test_purchase_lro_failed(saga: Saga) -> None:
    """The purchase operation ends failed: the saga fails, releases the hold, owns nothing."""
    saga.fault(
        {
            "operationKind": "reservationPurchase",
            "action": {"type": "lroFail", "code": "BillingUnavailable"},
        }
    )
    handle = await saga.start(base_request())
    await saga.approve(handle)
    kind, message = _type_and_message(await saga.failure(handle))
    assert kind == "ProvisioningFailed" and "BillingUnavailable" in message
    saga.assert_clean()
    status = await saga.status(handle)
    assert (status.stage, status.outcome) == (Stage.COMPENSATED, Stage.FAILED)
    assert "PurchaseFailed" in status.errors[0]


async def test_capability_update_fails_permanently(saga: Saga) -> None:
    """A capability update the service refuses: the bought numbers are released again."""
    saga.fault(
        {
            "operation": "PhoneNumbers_UpdateCapabilities",
            "action": {
                "type": "status",
                "status": 400,
                "code": "InvalidInput",
                "message": "capabilities refused",
            },
        }
    )
    handle = await saga.start(base_request(on_step_failure="compensate"))
    await saga.approve(handle)
    kind, message = _type_and_message(await saga.failure(handle))
    assert "capabilities refused" in message
    saga.assert_clean()
    assert saga.state()["requestCounts"]["PhoneNumbers_ReleasePhoneNumber"] == 2


async def test_capability_lro_fails(saga: Saga) -> None:
    """A capability operation that ends failed is a failure of the step, not a retry loop."""
    saga.fault(
        {
            "operationKind": "capabilities",
            "times": 1,
            "action": {"type": "lroFail", "code": "ProvisioningFailed"},
        }
    )
    handle = await saga.start(base_request(on_step_failure="compensate"))
    await saga.approve(handle)
    kind, _ = _type_and_message(await saga.failure(handle))
    assert kind == "ProvisioningFailed"
    saga.assert_clean()
    status = await saga.status(handle)
    assert "CapabilityUpdateFailed" in status.errors[0]


async def test_route_rejected_by_the_service(saga: Saga) -> None:
    """A trunk on an unverified domain: ACS answers 422 MissingDomain; everything is undone."""
    request = base_request(
        routing={"trunks": [{"fqdn": "sbc.unverified.net"}]}, on_step_failure="compensate"
    )
    handle = await saga.start(request)
    await saga.approve(handle)
    _, message = _type_and_message(await saga.failure(handle))
    assert "MissingDomain" in message
    saga.assert_clean()
    assert saga.state()["sip"]["trunks"] == {}


@pytest.mark.parametrize("partial", ["fail", "accept"])
async def test_fewer_numbers_than_asked(saga: Saga, partial: str) -> None:
    """Stock short of the quantity: fail and compensate, or go on with what there is."""
    request = base_request(
        country_code="DK",
        phone_number_type="mobile",
        assignment_type="person",
        quantity=30,
        partial=partial,
        final_capabilities=None,
        routing=None,
    )
    handle = await saga.start(request)
    if partial == "fail":
        kind, message = _type_and_message(await saga.failure(handle))
        assert "only 25 of 30" in message
        saga.assert_clean()
        return
    status = await saga.approve(handle)
    assert any(e.note and "partial" in e.note for e in status.timeline)
    result = await handle.result()
    assert len(result.numbers) == 25 and len(saga.owned()) == 25


async def test_over_budget_fails_before_approval(saga: Saga) -> None:
    """A hold that costs more than the budget is released without asking anyone."""
    request = base_request(budget={"max_monthly_cost": "3", "currency": "USD"})
    handle = await saga.start(request)
    _, message = _type_and_message(await saga.failure(handle))
    assert "exceeds the budget" in message
    saga.assert_clean()


async def test_transient_faults_are_ridden_out(saga: Saga) -> None:
    """429 with Retry-After and 503 bursts on every operation: the saga still completes."""
    saga.fault(
        {
            "times": 4,
            "action": {"type": "status", "status": 429, "code": "TooManyRequests", "retryAfter": 1},
        }
    )
    for operation in SAGA_OPERATIONS:  # a burst of two 503s on each operation the saga uses
        saga.fault(
            {
                "operation": operation,
                "times": 2,
                "action": {"type": "status", "status": 503, "code": "ServiceUnavailable"},
            }
        )
    auto = {"mode": "auto_under_cost", "auto_approve_below": "100"}  # lets time skip the backoffs
    handle = await saga.start(base_request(approval=auto))
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and sorted(saga.owned()) == sorted(result.numbers)
    # the purchase POST was answered 503 twice before it went through: bought exactly once
    hold = (await saga.status(handle)).hold_id
    assert saga.state()["requestCounts"]["PhoneNumbers_PurchaseReservation"] == 3
    bought = saga.state()["phoneNumbers"]["purchaseLog"]
    assert bought == [{"phoneNumber": n, "hold": hold} for n in result.numbers]
    assert len(saga.routes()) == 1
    fired = [rule["fired"] for rule in saga.state()["faults"]]
    assert fired == [4] + [2] * len(SAGA_OPERATIONS)


@pytest.mark.parametrize(
    ("strategy", "operation"),
    [
        ("reservation", "PhoneNumbers_PurchaseReservation"),
        ("search", "PhoneNumbers_PurchasePhoneNumbers"),
    ],
)
async def test_a_lost_purchase_answer_is_not_posted_again(
    slow_lro_saga: Saga, strategy: str, operation: str
) -> None:
    """ACS accepts the purchase but the answer is lost: the retry follows the purchase under
    way (its id is the hold's) instead of POSTing it again, and the numbers are bought once.

    The purchase runs 3 s (real time), so the retry (1 s later) finds it still running.
    """
    saga = slow_lro_saga
    saga.fault({"operation": operation, "times": 1, "action": {"type": "drop", "when": "after"}})
    auto = {"mode": "auto_under_cost", "auto_approve_below": "100"}
    request = base_request(approval=auto, hold_strategy=strategy, quantity=1)
    handle = await saga.start(request)
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and saga.owned() == list(result.numbers)
    hold = (await saga.status(handle)).hold_id
    state = saga.state()["phoneNumbers"]
    assert state["purchasePosts"] == {hold: 1}
    assert state["purchaseLog"] == [{"phoneNumber": result.numbers[0], "hold": hold}]


@pytest.mark.parametrize(
    ("status", "code"), [(400, "BadRequest"), (403, "InsufficientPermissions")]
)
async def test_permanent_errors_fail_fast(saga: Saga, status: int, code: str) -> None:
    """400/403 on the purchase: no retries, the ACS code is in the status, all undone."""
    saga.fault(
        {
            "operation": "PhoneNumbers_PurchaseReservation",
            "action": {"type": "status", "status": status, "code": code},
        }
    )
    handle = await saga.start(base_request())
    await saga.approve(handle)
    await saga.failure(handle)
    assert saga.state()["requestCounts"]["PhoneNumbers_PurchaseReservation"] == 1
    saga.assert_clean()
    assert code in (await saga.status(handle)).errors[0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country_code": "usa"}, "country_code"),
        ({"quantity": 0}, "quantity"),
        ({"routing": {"trunks": [{"fqdn": "not a host"}]}}, "fqdn"),
        ({"routing": {"trunks": [{"fqdn": "sbc.example.com", "port": 70000}]}}, "port"),
        ({"ticket_id": "has spaces"}, "ticket_id"),
        ({"budget": {"max_monthly_cost": "10", "currency": "dollars"}}, "currency"),
        ({"area_code": "425"}, "area_code"),
        ({"approval": {"deadline": "PT10S"}}, "deadline"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_invalid_requests_fail_before_any_call(change: dict[str, object], field: str) -> None:
    """A bad request is a readable validation error naming the field; nothing starts."""
    values = base_request().model_dump(mode="json")
    values.update(change)
    with pytest.raises(ValidationError) as caught:
        ProvisionRequest.model_validate(values)
    assert field in str(caught.value)


async def test_compensation_failure_says_what_is_left(saga: Saga) -> None:
    """When a compensation cannot finish, the run says exactly what an operator must clean up."""
    saga.fault(
        {
            "operation": "PhoneNumbers_UpdateCapabilities",
            "action": {"type": "status", "status": 400, "code": "InvalidInput"},
        }
    )
    saga.fault(
        {
            "operation": "PhoneNumbers_ReleasePhoneNumber",
            "action": {
                "type": "status",
                "status": 403,
                "code": "InsufficientPermissions",
                "message": "release locked",
            },
        }
    )
    handle = await saga.start(base_request(on_step_failure="compensate"))
    await saga.approve(handle)
    kind, message = _type_and_message(await saga.failure(handle))
    assert kind == "CompensationFailed"
    status = await saga.status(handle)
    assert status.stage is Stage.COMPENSATION_FAILED and status.outcome is Stage.FAILED
    assert len(status.left_for_operator) == 1
    assert status.left_for_operator[0].startswith("release purchased numbers")
    assert "release locked" in status.left_for_operator[0]
    assert len(saga.owned()) == 2 and sorted(saga.owned()) == sorted(status.numbers)
    assert saga.active_reservations() == [] and saga.routes() == []


async def test_a_release_refused_for_now_is_retried(saga: Saga) -> None:
    """ACS answers 409 to the first releases (another operation on the number runs): the
    compensation comes back later instead of leaving the numbers bought."""
    saga.fault(
        {
            "operation": "PhoneNumbers_ReleasePhoneNumber",
            "times": 2,
            "action": {"type": "status", "status": 409, "code": "Conflict"},
        }
    )
    auto = {"mode": "auto_under_cost", "auto_approve_below": "100"}
    request = base_request(approval=auto, routing={"trunks": [{"fqdn": "sbc.unverified.net"}]})
    handle = await saga.start(request)
    cause = await saga.failure(handle)
    assert "MissingDomain" in str(cause)
    assert (await saga.status(handle)).stage is Stage.COMPENSATED
    assert [rule["fired"] for rule in saga.state()["faults"]] == [2]
    saga.assert_clean()
