"""The routing step: attach a voice route for the ticket's numbers, and detach it.

This is the one interface the saga routes through. Today it reads and patches the SIP document
itself; the single-writer workflow per ACS resource replaces it without the saga changing.
"""

from __future__ import annotations

import re

from temporalio import activity

from acs import SipRoutingClient, SipTrunkRoute
from contracts.activities import AttachRouteInput, DetachRouteInput, RouteResult

from ._errors import acs_errors_as_application_errors

__all__ = ["RoutingActivities", "exact_number_pattern", "insertion_index"]


def exact_number_pattern(numbers: tuple[str, ...]) -> str:
    """A pattern that matches exactly these numbers and nothing else."""
    return "^(" + "|".join(re.escape(n) for n in sorted(numbers)) + ")$"


def insertion_index(routes: list[SipTrunkRoute], numbers: tuple[str, ...]) -> int:
    """Before the first route that would take any of these numbers' calls (first match wins)."""
    for index, route in enumerate(routes):
        try:
            pattern = re.compile(route.number_pattern)
        except re.error:
            continue
        if any(pattern.match(n) for n in numbers):
            return index
    return len(routes)


class RoutingActivities:
    """Route activities over one :class:`acs.SipRoutingClient`."""

    def __init__(self, client: SipRoutingClient) -> None:
        self._client = client

    @activity.defn
    async def attach_route(self, attach: AttachRouteInput) -> RouteResult:
        """Make sure the trunks exist, then put the route where it receives its numbers.

        Idempotent: a route of that name is replaced in place, not added twice.
        """
        pattern = exact_number_pattern(attach.numbers)
        with acs_errors_as_application_errors():
            config = await self._client.get_sip_configuration()
            missing = [t for t in attach.trunks if t.fqdn not in config.trunks]
            if missing:
                await self._client.update_sip_configuration(
                    {"trunks": {t.fqdn: {"sipSignalingPort": t.port} for t in missing}}
                )
            route = SipTrunkRoute(
                name=attach.route_name,
                number_pattern=pattern,
                description=f"numberflow ticket {attach.ticket_id}",
                trunks=[t.fqdn for t in attach.trunks],
            )
            routes = [r for r in config.routes if r.name != attach.route_name]
            routes.insert(insertion_index(routes, attach.numbers), route)
            await self._client.set_routes(routes)
        return RouteResult(
            route_name=attach.route_name,
            number_pattern=pattern,
            trunks_added=tuple(t.fqdn for t in missing),
        )

    @activity.defn
    async def detach_route(self, detach: DetachRouteInput) -> None:
        """Remove the route, then the trunks the attach added that no route uses any more.

        Routes go before trunks: the service refuses to delete a trunk a route still targets.
        """
        with acs_errors_as_application_errors():
            config = await self._client.get_sip_configuration()
            routes = [r for r in config.routes if r.name != detach.route_name]
            if len(routes) != len(config.routes):
                await self._client.set_routes(routes)
            in_use = {t for r in routes for t in r.trunks}
            for fqdn in detach.trunks_added:
                if fqdn in config.trunks and fqdn not in in_use:
                    await self._client.delete_trunk(fqdn)
