"""``numberflow sip show`` and ``numberflow sip route-test``: ask the SIP writer."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
import typer
from rich.table import Table
from temporalio.client import Client

from contracts.sip import RouteMatch, SipDocument, sip_workflow_id
from workflows import SipRoutingWorkflow

from ._common import JsonFlag, Resource, acs_resource, console, emit, fail, run_async

__all__ = ["sip_app"]

sip_app = typer.Typer(
    help="The SIP direct-routing document, as its single writer knows it.", no_args_is_help=True
)


def _writer_id(resource: str | None) -> str:
    return sip_workflow_id(acs_resource(resource))


def _e164(text: str) -> str:
    """The number in E.164 form, or exit 2: a typo must not read as "no route matches"."""
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        fail(f"invalid input: {text!r} is not an E.164 number such as +14255550123", 2)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@sip_app.command("show")
def show(resource: Resource = None, as_json: JsonFlag = False) -> None:
    """Trunks and routes (in evaluation order) as last written."""
    workflow_id = _writer_id(resource)

    async def query(client: Client) -> SipDocument:
        return await client.get_workflow_handle(workflow_id).query(SipRoutingWorkflow.config)

    def render(document: SipDocument) -> None:
        trunks = Table("trunk", "port", title="trunks")
        for fqdn, port in document.trunks.items():
            trunks.add_row(fqdn, str(port))
        routes = Table("#", "route", "pattern", "trunks", title="routes (first match wins)")
        for index, route in enumerate(document.routes):
            routes.add_row(str(index), route.name, route.number_pattern, ", ".join(route.trunks))
        console.print(trunks)
        console.print(routes)

    emit(run_async(query), as_json, render)


@sip_app.command("route-test")
def route_test(
    number: Annotated[str, typer.Argument(help="E.164 number, e.g. +14255550123.")],
    resource: Resource = None,
    as_json: JsonFlag = False,
) -> None:
    """Which route and trunk a call to NUMBER takes (first matching route wins)."""
    number = _e164(number)
    workflow_id = _writer_id(resource)

    async def query(client: Client) -> RouteMatch:
        return await client.get_workflow_handle(workflow_id).query(
            SipRoutingWorkflow.route_for, number
        )

    def render(match: RouteMatch) -> None:
        if match.route is None:
            console.print(f"{number}: no route matches; the call is not routed")
        else:
            console.print(
                f"{number} → route [bold]{match.route}[/bold] (#{match.position}) → trunk {match.trunk}"
            )

    emit(run_async(query), as_json, render)
