"""(7) What durability costs: a plain script making the saga's ACS calls for one ticket, with
``acs/`` and nothing else (no Temporal, no ledger, no callback, no compensation).

Its calls are the saga's for an auto-approved, unrouted ticket of one number with the
reservation strategy: browse, reserve (the next offered number when another ticket took one),
buy the reservation, change the capabilities, each LRO waited for on the same poll schedule. A crash anywhere leaves a hold or a number behind, which is
what the saga exists to prevent; the ratio says what that costs per ticket.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from acs import PhoneNumbersClient

from .tickets import bench_request

__all__ = ["plain_tickets"]


async def plain_ticket(numbers: PhoneNumbersClient) -> None:
    """One ticket's ACS calls, in order."""
    request = bench_request(1, routed=False, auto=True)
    wanted, final = request.capabilities, request.final_capabilities
    assert final is not None, "the bench's tickets change capabilities after the purchase"
    browse = await numbers.browse_available_phone_numbers(
        country_code=request.country_code,
        phone_number_type=request.phone_number_type.value,
        calling_capability=wanted.calling.value,
        sms_capability=wanted.sms.value,
        assignment_type=request.assignment_type.value,
    )
    reservation_id, number = uuid.uuid4(), None
    for candidate in browse.phone_numbers:  # another ticket may have just taken one
        reservation = await numbers.create_or_update_reservation(
            reservation_id=reservation_id, numbers_to_add=[candidate]
        )
        held = (reservation.phone_numbers or {}).get(str(candidate.id))
        if held is not None and held.status == "reserved":
            number = candidate.phone_number
            break
    assert number is not None, "the browse offered a number nobody else took"
    await numbers.wait(
        await numbers.begin_purchase_reservation(reservation_id, agree_to_not_resell=True)
    )
    await numbers.wait(
        await numbers.begin_update_phone_number_capabilities(
            number, calling=final.calling.value, sms=final.sms.value
        )
    )


async def plain_tickets(numbers: PhoneNumbersClient, n: int) -> float:
    """``n`` tickets at once; tickets per second."""
    begun = time.perf_counter()
    await asyncio.gather(*(plain_ticket(numbers) for _ in range(n)))
    return n / (time.perf_counter() - begun)
