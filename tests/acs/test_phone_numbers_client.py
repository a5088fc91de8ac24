"""Every PhoneNumbersClient method against the emulator, in-process and over loopback HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from acs import (
    AcsAuthError,
    AcsNotFoundError,
    AcsValidationError,
    OperationKind,
    OperationStatus,
    OperatorInformationOptions,
    PhoneNumberCapabilities,
    PhoneNumbersClient,
    PhoneNumberSearchResult,
    PollSchedule,
    PurchasedPhoneNumber,
    ReservationStatus,
)
from tests.conftest import EmulatorEnv
from tests.helpers import purchased_numbers

TOLL_FREE_SMS = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


async def test_list_available_countries_pages(numbers: PhoneNumbersClient) -> None:
    """Countries come back across several pages when the page size is small."""
    pages = [page async for page in numbers.list_available_countries(max_page_size=2).by_page()]
    codes = [c.country_code for page in pages for c in page]
    assert len(pages) == 4
    assert codes == ["US", "CA", "GB", "FR", "IE", "DE", "DK", "AU"]


async def test_list_available_localities(numbers: PhoneNumbersClient) -> None:
    """Localities carry their administrative division and can be filtered by it."""
    wa = [
        loc async for loc in numbers.list_available_localities("US", administrative_division="WA")
    ]
    assert [loc.localized_name for loc in wa] == ["Seattle"]
    assert wa[0].administrative_division is not None
    assert wa[0].administrative_division.abbreviated_name == "WA"


async def test_list_available_area_codes(numbers: PhoneNumbersClient) -> None:
    """Geographic area codes need a locality; toll-free prefixes do not."""
    seattle = numbers.list_available_area_codes("US", "geographic", locality="Seattle")
    assert [a.area_code async for a in seattle] == ["206", "425"]
    toll_free = numbers.list_available_area_codes("US", "tollFree", assignment_type="application")
    assert [a.area_code async for a in toll_free] == ["800", "833", "844", "855"]
    with pytest.raises(ValueError, match="locality"):
        numbers.list_available_area_codes("US", "geographic")


async def test_list_available_offerings(numbers: PhoneNumbersClient) -> None:
    """Offerings have a type, an assignment, capabilities and a Decimal monthly cost."""
    offerings = [
        o async for o in numbers.list_available_offerings("GB", phone_number_type="mobile")
    ]
    assert len(offerings) == 1
    assert offerings[0].cost.amount == Decimal("3.5")
    assert offerings[0].cost.currency_code == "GBP"
    assert offerings[0].available_capabilities is not None


async def test_browse_available_phone_numbers(numbers: PhoneNumbersClient) -> None:
    """Browse filters by prefix and returns available numbers without holding them."""
    result = await numbers.browse_available_phone_numbers(
        country_code="US",
        phone_number_type="geographic",
        assignment_type="application",
        calling_capability="inbound+outbound",
        phone_number_prefixes=["+1425"],
    )
    assert result.phone_numbers
    assert all(n.phone_number and n.phone_number.startswith("+1425") for n in result.phone_numbers)
    assert all(n.status == "available" for n in result.phone_numbers)


async def test_reservation_lifecycle(
    numbers: PhoneNumbersClient, emulator_env: EmulatorEnv
) -> None:
    """Create, add, remove, get, list, purchase: the reservation ends completed and owned."""
    browse = await numbers.browse_available_phone_numbers(
        country_code="US", phone_number_type="tollFree"
    )
    first, second = browse.phone_numbers[:2]
    rid = uuid.uuid4()
    created = await numbers.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=[first, second]
    )
    assert created.status is ReservationStatus.ACTIVE
    assert created.phone_numbers is not None and set(created.phone_numbers) == {first.id, second.id}
    updated = await numbers.create_or_update_reservation(
        reservation_id=rid, numbers_to_remove=[str(second.id)]
    )
    assert updated.phone_numbers is not None and set(updated.phone_numbers) == {first.id}
    listed = [r async for r in numbers.list_reservations()]
    assert [r.id for r in listed] == [str(rid)] and listed[0].phone_numbers is None
    ref = await numbers.begin_purchase_reservation(rid)
    assert ref.kind is OperationKind.RESERVATION_PURCHASE and ref.resource_id == str(rid)
    await numbers.wait(ref, schedule=PollSchedule(0.02, 0.02))
    assert await numbers.fetch_result(ref) is None
    done = await numbers.get_reservation(rid)
    assert done.status is ReservationStatus.COMPLETED
    assert done.phone_numbers is not None
    assert done.phone_numbers[str(first.id)] is not None
    assert done.phone_numbers[str(first.id)].status == "purchased"  # type: ignore[union-attr]
    owned = [p["phoneNumber"] for p in emulator_env.state["phoneNumbers"]["purchasedNumbers"]]
    assert owned == [first.phone_number]


async def test_delete_reservation(numbers: PhoneNumbersClient) -> None:
    """A deleted reservation is gone (404 ReservationNotFound) and its numbers are free again."""
    browse = await numbers.browse_available_phone_numbers(
        country_code="DE", phone_number_type="geographic"
    )
    rid = uuid.uuid4()
    await numbers.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=browse.phone_numbers[:1]
    )
    await numbers.delete_reservation(rid)
    with pytest.raises(AcsNotFoundError) as caught:
        await numbers.get_reservation(rid)
    assert caught.value.code == "ReservationNotFound"
    again = uuid.uuid4()
    retaken = await numbers.create_or_update_reservation(
        reservation_id=again, numbers_to_add=browse.phone_numbers[:1]
    )
    assert retaken.phone_numbers is not None
    assert retaken.phone_numbers[str(browse.phone_numbers[0].id)].status == "reserved"  # type: ignore[union-attr]


async def test_search_purchase_and_get(numbers: PhoneNumbersClient) -> None:
    """Search LRO → result via Location; purchase LRO → the numbers are owned with their cost."""
    ref = await numbers.begin_search_available_phone_numbers(
        "US", "tollFree", "application", TOLL_FREE_SMS, area_code="833", quantity=2
    )
    assert ref.kind is OperationKind.SEARCH and ref.location and ref.resource_id
    await numbers.wait(ref, schedule=PollSchedule(0.02, 0.02))
    result = await numbers.fetch_result(ref)
    assert isinstance(result, PhoneNumberSearchResult)
    assert result == await numbers.get_search_result(ref.resource_id)
    assert len(result.phone_numbers) == 2 and all(
        n.startswith("+1833") for n in result.phone_numbers
    )
    purchase = await numbers.begin_purchase_phone_numbers(result.search_id)
    assert purchase.kind is OperationKind.PURCHASE and purchase.resource_id == result.search_id
    final = await numbers.wait(purchase, schedule=PollSchedule(0.02, 0.02))
    assert final.status is OperationStatus.SUCCEEDED and final.resource_location is None
    owned = await numbers.get_purchased_phone_number(result.phone_numbers[0])
    assert owned.cost.amount == Decimal("2") and owned.capabilities == TOLL_FREE_SMS


async def test_list_purchased_phone_numbers_pages(numbers: PhoneNumbersClient) -> None:
    """Purchased numbers page with top/skip and nextLink."""
    bought = await purchased_numbers(numbers, quantity=5)
    pages = [p async for p in numbers.list_purchased_phone_numbers(top=2).by_page()]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [n.phone_number for p in pages for n in p] == bought
    assert [n.phone_number async for n in numbers.list_purchased_phone_numbers(skip=3)] == bought[
        3:
    ]


async def test_update_capabilities(numbers: PhoneNumbersClient) -> None:
    """Capabilities LRO: result fetched via Location shows the new capabilities."""
    (number,) = await purchased_numbers(numbers)
    ref = await numbers.begin_update_phone_number_capabilities(
        number, sms="inbound", calling="outbound"
    )
    assert ref.kind is OperationKind.CAPABILITIES and ref.location and ref.resource_id
    await numbers.wait(ref, schedule=PollSchedule(0.02, 0.02))
    updated = await numbers.fetch_result(ref)
    assert isinstance(updated, PurchasedPhoneNumber)
    assert (updated.capabilities.calling, updated.capabilities.sms) == ("outbound", "inbound")


async def test_update_capabilities_of_a_number_not_owned(numbers: PhoneNumbersClient) -> None:
    """403 InsufficientPermissions for a number this resource does not own."""
    with pytest.raises(AcsAuthError) as caught:
        await numbers.begin_update_phone_number_capabilities("+14255550123", sms="inbound")
    assert caught.value.code == "InsufficientPermissions" and caught.value.status_code == 403


async def test_release(numbers: PhoneNumbersClient) -> None:
    """Release LRO removes the number; getting it afterwards is 404 NotFound."""
    (number,) = await purchased_numbers(numbers)
    ref = await numbers.begin_release_phone_number(number)
    assert ref.kind is OperationKind.RELEASE and ref.resource_id
    await numbers.wait(ref, schedule=PollSchedule(0.02, 0.02))
    with pytest.raises(AcsNotFoundError) as caught:
        await numbers.get_purchased_phone_number(number)
    assert caught.value.target == "phonenumber"


async def test_get_and_cancel_operation_by_id(numbers: PhoneNumbersClient) -> None:
    """An operation can be polled by id; cancelling forgets the record (then 404)."""
    ref = await numbers.begin_search_available_phone_numbers(
        "US", "tollFree", "person", TOLL_FREE_SMS
    )
    poll = await numbers.get_operation(ref.operation_id)
    assert poll.operation.id == ref.operation_id and poll.operation.operation_type == "search"
    await numbers.cancel_operation(ref.operation_id)
    with pytest.raises(AcsNotFoundError):
        await numbers.get_operation(ref.operation_id)


async def test_search_operator_information(numbers: PhoneNumbersClient) -> None:
    """Operator lookup formats the number; details only when asked."""
    plain = await numbers.search_operator_information("+14255550123")
    assert plain.values[0].international_format == "+1 425 555 0123"
    assert plain.values[0].operator_details is None
    detailed = await numbers.search_operator_information(
        ["+442071234567"],
        options=OperatorInformationOptions(include_additional_operator_details=True),
    )
    assert detailed.values[0].iso_country_code == "GB"
    assert detailed.values[0].operator_details is not None


async def test_search_with_an_unknown_country_is_a_validation_error(
    numbers: PhoneNumbersClient,
) -> None:
    """The service's 400 InvalidInput for country XX arrives classified and not retryable."""
    with pytest.raises(AcsValidationError) as caught:
        await numbers.begin_search_available_phone_numbers(
            "XX", "tollFree", "person", TOLL_FREE_SMS
        )
    assert (caught.value.code, caught.value.target) == ("InvalidInput", "countrycode")
    assert not caught.value.retryable
