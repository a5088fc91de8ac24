"""``SipRoutingClient``: the direct-routing document of a resource (``GET``/``PATCH /sip``).

``PATCH /sip`` is a JSON merge-patch: trunks and domains merge by key (``null`` deletes), the
routes list is replaced whole, and there is no ETag. Two writers that read-modify-write at the
same time lose an update; callers that share a resource must serialise their writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ._api_versions import DEFAULT_SIP_ROUTING_API_VERSION, SipRoutingApiVersion
from ._auth import Credential
from ._base import BaseClient
from ._errors import AcsNotFoundError
from ._models import parse_model
from ._pipeline import DEFAULT_TIMEOUT
from ._sip_models import SipConfiguration, SipDomain, SipTrunk, SipTrunkRoute
from ._validation import validate_e164, validate_fqdn, validate_number_pattern, validate_port

__all__ = ["SipRoutingClient"]

_MERGE_PATCH = "application/merge-patch+json"
_MAX_ITEMS = 250


class SipRoutingClient(BaseClient):
    """Async client of the ACS SIP Routing API.

    Names follow the official ``SipRoutingClient``: ``list_trunks``, ``get_trunk``,
    ``set_trunk``, ``set_trunks``, ``delete_trunk``, ``list_routes``, ``set_routes``; the
    preview (``api_version="2024-11-15-preview"``) adds domains, trunk health and
    ``get_routes_for_number``. Differences: list methods return lists (the document is one
    page), ``get_trunk`` raises :class:`AcsNotFoundError` rather than ``KeyError``, setters
    return the configuration the service answered with, and inputs are validated first.
    """

    def __init__(
        self,
        endpoint: str,
        credential: Credential,
        *,
        api_version: str = DEFAULT_SIP_ROUTING_API_VERSION,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        get_retries: int = 3,
    ) -> None:
        self._api_version = SipRoutingApiVersion(api_version)
        super().__init__(
            endpoint,
            credential,
            api_version=self._api_version.value,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            get_retries=get_retries,
        )

    # -- the document --------------------------------------------------------------------------

    async def get_sip_configuration(self, *, include_health: bool = False) -> SipConfiguration:
        """Read the whole configuration; ``include_health`` needs the preview API."""
        params = {}
        if include_health:
            self._require_preview("trunk health")
            params["expand"] = "trunks/health"
        data = await self._pipeline.request_json("GET", "/sip", params=params)
        return parse_model(SipConfiguration, data)

    async def update_sip_configuration(self, patch: Mapping[str, Any]) -> SipConfiguration:
        """Send a raw merge-patch and return the configuration after it."""
        data = await self._pipeline.request_json(
            "PATCH", "/sip", body=dict(patch), content_type=_MERGE_PATCH
        )
        return parse_model(SipConfiguration, data)

    # -- trunks --------------------------------------------------------------------------------

    async def list_trunks(self, *, include_health: bool = False) -> list[SipTrunk]:
        """List trunks in the service's order."""
        return (await self.get_sip_configuration(include_health=include_health)).trunk_list()

    async def get_trunk(self, trunk_fqdn: str, *, include_health: bool = False) -> SipTrunk:
        """Get one trunk; raises :class:`AcsNotFoundError` when it is not configured."""
        for trunk in await self.list_trunks(include_health=include_health):
            if trunk.fqdn == trunk_fqdn:
                return trunk
        raise AcsNotFoundError(f"trunk {trunk_fqdn!r} is not configured", code="TrunkNotFound")

    async def set_trunk(self, trunk: SipTrunk) -> SipConfiguration:
        """Create or update one trunk; others are untouched."""
        _check_trunk(trunk)
        return await self.update_sip_configuration({"trunks": {trunk.fqdn: trunk.to_wire_value()}})

    async def set_trunks(self, trunks: Iterable[SipTrunk]) -> SipConfiguration:
        """Make the trunk list exactly ``trunks``: reads, then deletes the ones not listed.

        Like the official SDK this is a read-modify-write without an ETag.
        """
        wanted = list(trunks)
        _check_unique_trunks(wanted)
        current = await self.get_sip_configuration()
        patch: dict[str, Any] = dict.fromkeys(current.trunks)
        patch.update({t.fqdn: t.to_wire_value() for t in wanted})
        if not patch:
            return current
        return await self.update_sip_configuration({"trunks": patch})

    async def delete_trunk(self, trunk_fqdn: str) -> SipConfiguration:
        """Delete a trunk (a no-op when absent); refused by the service while a route uses it."""
        return await self.update_sip_configuration({"trunks": {trunk_fqdn: None}})

    # -- routes --------------------------------------------------------------------------------

    async def list_routes(self) -> list[SipTrunkRoute]:
        """List routes in evaluation order (first match wins)."""
        return (await self.get_sip_configuration()).routes

    async def set_routes(self, routes: Iterable[SipTrunkRoute]) -> SipConfiguration:
        """Replace the whole route list; order is priority."""
        wanted = list(routes)
        _check_routes(wanted)
        return await self.update_sip_configuration({"routes": [r.to_wire() for r in wanted]})

    async def get_routes_for_number(
        self, target_phone_number: str, *, routes: Iterable[SipTrunkRoute] | None = None
    ) -> list[SipTrunkRoute]:
        """Ask the service which routes match a number, in order (preview).

        With ``routes``, the service tests those instead of the stored ones.
        """
        self._require_preview("route testing")
        number = validate_e164(target_phone_number)
        body = None if routes is None else {"routes": [r.to_wire() for r in routes]}
        data = await self._pipeline.request_json(
            "POST",
            "/sip:testRoutesWithNumber",
            params={"targetPhoneNumber": number},
            body=body,
        )
        return [SipTrunkRoute.model_validate(r) for r in data.get("matchingRoutes") or []]

    # -- domains (preview) ---------------------------------------------------------------------

    async def list_domains(self) -> list[SipDomain]:
        """List the resource's domains (preview)."""
        self._require_preview("domains")
        return (await self.get_sip_configuration()).domain_list()

    async def get_domain(self, domain_name: str) -> SipDomain:
        """Get one domain; raises :class:`AcsNotFoundError` when absent (preview)."""
        for domain in await self.list_domains():
            if domain.fqdn == domain_name:
                return domain
        raise AcsNotFoundError(f"domain {domain_name!r} is not configured", code="DomainNotFound")

    async def set_domain(self, domain: SipDomain) -> SipConfiguration:
        """Create or update one domain (preview)."""
        self._require_preview("domains")
        return await self.update_sip_configuration(
            {"domains": {domain.fqdn: {"enabled": domain.enabled}}}
        )

    async def set_domains(self, domains: Iterable[SipDomain]) -> SipConfiguration:
        """Make the domain list exactly ``domains`` (read, then patch with deletions)."""
        self._require_preview("domains")
        current = await self.get_sip_configuration()
        patch: dict[str, Any] = dict.fromkeys(current.domains or {})
        patch.update({d.fqdn: {"enabled": d.enabled} for d in domains})
        return await self.update_sip_configuration({"domains": patch})

    async def delete_domain(self, domain_name: str) -> SipConfiguration:
        """Delete a domain (preview)."""
        self._require_preview("domains")
        return await self.update_sip_configuration({"domains": {domain_name: None}})

    def _require_preview(self, feature: str) -> None:
        if self._api_version is not SipRoutingApiVersion.V2024_11_15_PREVIEW:
            raise ValueError(f"{feature} needs api_version='2024-11-15-preview'")


def _check_trunk(trunk: SipTrunk) -> None:
    validate_fqdn(trunk.fqdn)
    validate_port(trunk.sip_signaling_port)


def _check_unique_trunks(trunks: list[SipTrunk]) -> None:
    if len(trunks) > _MAX_ITEMS:
        raise ValueError(f"at most {_MAX_ITEMS} trunks, got {len(trunks)}")
    seen: set[str] = set()
    for trunk in trunks:
        _check_trunk(trunk)
        if trunk.fqdn in seen:
            raise ValueError(f"trunk {trunk.fqdn!r} is listed twice")
        seen.add(trunk.fqdn)


def _check_routes(routes: list[SipTrunkRoute]) -> None:
    if len(routes) > _MAX_ITEMS:
        raise ValueError(f"at most {_MAX_ITEMS} routes, got {len(routes)}")
    names: set[str] = set()
    for route in routes:
        if not route.name or len(route.name) > 256:
            raise ValueError("route name must be 1 to 256 characters")
        if route.name in names:
            raise ValueError(f"route name {route.name!r} is used twice")
        names.add(route.name)
        validate_number_pattern(route.number_pattern)
        if len(route.trunks) != len(set(route.trunks)):
            raise ValueError(f"route {route.name!r} lists a trunk twice")
        if len(route.trunks) > _MAX_ITEMS:
            raise ValueError(f"route {route.name!r} has more than {_MAX_ITEMS} trunks")
