"""Activities: thin adapters over the ACS client, where AcsError becomes ApplicationError."""

from collections.abc import Callable
from typing import Any

import httpx
from temporalio.client import Client

from acs import PhoneNumbersClient, SipRoutingClient
from contracts.callback_hosts import NO_CALLBACKS, CallbackHosts
from contracts.quota import QuotaLimits

from .callbacks import CallbackActivities
from .inventory import InventoryActivities
from .phone_numbers import PhoneNumberActivities
from .quota import QuotaActivities
from .sip import SipDocumentActivities
from .writer import SipWriterActivities

__all__ = [
    "CallbackActivities",
    "InventoryActivities",
    "PhoneNumberActivities",
    "QuotaActivities",
    "SipDocumentActivities",
    "SipWriterActivities",
    "build_activities",
]


def build_activities(
    numbers: PhoneNumbersClient,
    sip: SipRoutingClient,
    client: Client,
    task_queue: str,
    *,
    http: httpx.AsyncClient,
    callback_secret: str | None = None,
    callback_hosts: CallbackHosts = NO_CALLBACKS,
    quota_limits: QuotaLimits | None = None,
    service_desk_countries: frozenset[str] = frozenset(),
) -> list[Callable[..., Any]]:
    """Every activity of the worker, bound to its clients and to this resource's SIP writer."""
    phone = PhoneNumberActivities(numbers, service_desk_countries=service_desk_countries)
    document = SipDocumentActivities(sip)
    writer = SipWriterActivities(client, numbers.endpoint, task_queue)
    inventory = InventoryActivities(numbers, sip)
    callbacks = CallbackActivities(http, callback_secret, callback_hosts)
    quota = QuotaActivities(client, numbers.endpoint, task_queue, quota_limits or QuotaLimits())
    return [
        phone.acquire_reservation,
        phone.begin_search,
        phone.get_search_hold,
        phone.release_hold,
        phone.begin_purchase,
        phone.settle_purchase,
        phone.owned_numbers,
        phone.ownership,
        phone.inspect_numbers,
        phone.poll_operation,
        phone.begin_update_capabilities,
        phone.update_capabilities,
        phone.release_numbers,
        document.read_sip_document,
        document.patch_sip_document,
        writer.attach_route,
        writer.detach_route,
        writer.record_numbers,
        writer.forget_numbers,
        writer.claim_numbers,
        writer.answer_requests,
        writer.get_ledger,
        writer.owners_of,
        writer.open_saga_numbers,
        writer.open_sagas,
        inventory.inventory_snapshot,
        callbacks.notify_callback,
        quota.ask_quota,
        quota.withdraw_quota,
    ]
