"""Custom search attributes: what operators filter runs by in the Web UI and ``list``.

Never phone numbers or secrets: search attributes are stored unencrypted.
"""

from temporalio.common import SearchAttributeKey

__all__ = ["ALL_SEARCH_ATTRIBUTES", "COUNTRY_CODE", "PROVISIONING_STAGE", "TICKET_ID"]

TICKET_ID = SearchAttributeKey.for_keyword("TicketId")
PROVISIONING_STAGE = SearchAttributeKey.for_keyword("ProvisioningStage")
COUNTRY_CODE = SearchAttributeKey.for_keyword("CountryCode")

ALL_SEARCH_ATTRIBUTES = (TICKET_ID, PROVISIONING_STAGE, COUNTRY_CODE)
"""Registered on every server the project starts (dev server flags, test server API)."""
