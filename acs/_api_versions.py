"""The API versions this client speaks, pinned in one place."""

from enum import StrEnum

__all__ = [
    "DEFAULT_PHONE_NUMBERS_API_VERSION",
    "DEFAULT_SIP_ROUTING_API_VERSION",
    "PhoneNumbersApiVersion",
    "SipRoutingApiVersion",
]


class PhoneNumbersApiVersion(StrEnum):
    """Phone Numbers API versions; 2025-06-01 is the one every operation here is built for."""

    V2025_06_01 = "2025-06-01"


class SipRoutingApiVersion(StrEnum):
    """SIP Routing API versions: the stable one, and the preview with domains and route tests."""

    V2023_03_01 = "2023-03-01"
    V2024_11_15_PREVIEW = "2024-11-15-preview"


DEFAULT_PHONE_NUMBERS_API_VERSION = PhoneNumbersApiVersion.V2025_06_01
DEFAULT_SIP_ROUTING_API_VERSION = SipRoutingApiVersion.V2023_03_01
