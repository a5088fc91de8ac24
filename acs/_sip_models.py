"""Models of the SIP Routing API (2023-03-01, and the 2024-11-15-preview additions).

The public shapes follow the official SDK (``SipTrunk``, ``SipTrunkRoute``, ``SipDomain``); the
wire document is :class:`SipConfiguration`, whose trunks and domains are maps keyed by FQDN.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ._models import AcsModel

__all__ = [
    "IpAddressVersion",
    "PrivacyHeader",
    "SipConfiguration",
    "SipDomain",
    "SipTrunk",
    "SipTrunkRoute",
    "TrunkHealth",
    "TrunkHealthOverall",
    "TrunkHealthStatus",
]


class PrivacyHeader(StrEnum):
    """SIP Privacy header sent to the trunk (preview)."""

    ID = "id"
    NONE = "none"


class IpAddressVersion(StrEnum):
    """IP version the trunk uses (preview)."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"


class TrunkHealthStatus(AcsModel):
    """A status string of one health aspect."""

    status: str


class TrunkHealthOverall(AcsModel):
    """Overall trunk health and why it is inactive."""

    status: str
    reason: str | None = None


class TrunkHealth(AcsModel):
    """Read-only trunk health (``expand=trunks/health``, preview)."""

    tls: TrunkHealthStatus
    ping: TrunkHealthStatus
    overall: TrunkHealthOverall


class SipTrunk(AcsModel):
    """A session border controller the resource sends calls to."""

    fqdn: str
    sip_signaling_port: int
    enabled: bool | None = None
    direct_transfer: bool | None = None
    privacy_header: PrivacyHeader | None = None
    ip_address_version: IpAddressVersion | None = None
    health: TrunkHealth | None = None

    def to_wire_value(self) -> dict[str, object]:
        """The trunk as the value of its FQDN key in ``trunks`` (read-only health dropped)."""
        return self.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude={"fqdn", "health"}
        )


class SipTrunkRoute(AcsModel):
    """A voice route: numbers matching ``number_pattern`` go to ``trunks`` (first match wins)."""

    name: str
    number_pattern: str
    description: str | None = None
    trunks: list[str] = Field(default_factory=list)
    caller_id_override: str | None = None


class SipDomain(AcsModel):
    """A domain of the resource; trunks must live under an enabled one (preview)."""

    fqdn: str
    enabled: bool


class SipConfiguration(AcsModel):
    """The whole direct-routing document of a resource."""

    trunks: dict[str, dict[str, object]] = Field(default_factory=dict)
    routes: list[SipTrunkRoute] = Field(default_factory=list)
    domains: dict[str, dict[str, object]] | None = None

    def trunk_list(self) -> list[SipTrunk]:
        """The trunks as models, in the service's order."""
        return [
            SipTrunk.model_validate({"fqdn": fqdn, **value}) for fqdn, value in self.trunks.items()
        ]

    def domain_list(self) -> list[SipDomain]:
        """The domains as models (preview only; empty on 2023-03-01)."""
        return [
            SipDomain.model_validate({"fqdn": fqdn, **value})
            for fqdn, value in (self.domains or {}).items()
        ]
