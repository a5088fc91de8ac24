"""SIP document activities used by the single writer: read it, write a merge-patch of it."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from acs import SipConfiguration, SipRoutingClient
from contracts.sip import RouteSpec, SipDocument

from ._errors import acs_errors_as_application_errors

__all__ = ["SipDocumentActivities"]


def _document(config: SipConfiguration) -> SipDocument:
    return SipDocument(
        trunks={
            fqdn: int(str(value.get("sipSignalingPort"))) for fqdn, value in config.trunks.items()
        },
        routes=tuple(
            RouteSpec(
                name=r.name,
                number_pattern=r.number_pattern,
                trunks=tuple(r.trunks),
                description=r.description,
            )
            for r in config.routes
        ),
    )


class SipDocumentActivities:
    """Read and patch ``/sip`` for one resource; only the SIP writer workflow calls these."""

    def __init__(self, client: SipRoutingClient) -> None:
        self._client = client

    @activity.defn
    async def read_sip_document(self) -> SipDocument:
        """The document as ACS has it now (external edits included)."""
        with acs_errors_as_application_errors():
            return _document(await self._client.get_sip_configuration())

    @activity.defn
    async def patch_sip_document(self, patch: dict[str, Any]) -> SipDocument:
        """Send one merge-patch (atomic on the service) and return the document after it."""
        with acs_errors_as_application_errors():
            return _document(await self._client.update_sip_configuration(patch))
