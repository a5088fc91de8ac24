"""Activities: thin adapters over the ACS client, where AcsError becomes ApplicationError."""

from collections.abc import Callable
from typing import Any

from acs import PhoneNumbersClient, SipRoutingClient

from .phone_numbers import PhoneNumberActivities
from .routing import RoutingActivities

__all__ = ["PhoneNumberActivities", "RoutingActivities", "build_activities"]


def build_activities(
    numbers: PhoneNumbersClient, sip: SipRoutingClient
) -> list[Callable[..., Any]]:
    """Every activity of the worker, bound to its clients."""
    phone = PhoneNumberActivities(numbers)
    routing = RoutingActivities(sip)
    return [
        phone.acquire_reservation,
        phone.begin_search,
        phone.get_search_hold,
        phone.release_hold,
        phone.begin_purchase,
        phone.owned_numbers,
        phone.poll_operation,
        phone.begin_update_capabilities,
        phone.release_numbers,
        routing.attach_route,
        routing.detach_route,
    ]
