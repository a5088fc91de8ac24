"""``numberflow tickets check``: is a ticket-system configuration usable, before it is used?

Today it checks the mapping file (every mistake, one line each, with its place) and says what
each ticket system will do with it. Checking credentials and the transitions named against the
live system comes with write-back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts.ticket_mapping import MappingError, TicketMapping, load_mapping

from ._common import JsonFlag, console, emit, fail, fail_each

__all__ = ["tickets_app"]

MAPPING_VAR = "NUMBERFLOW_TICKET_MAPPING"

tickets_app = typer.Typer(
    help="Ticket systems (Jira, ServiceNow): check the mapping numberflow reads."
)


@tickets_app.command("check")
def check(
    mapping: Annotated[
        Path | None,
        typer.Option(help=f"The mapping file (default: ${MAPPING_VAR})."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate the mapping file; exit 1 with one line per mistake."""
    path = mapping or (Path(os.environ[MAPPING_VAR]) if os.environ.get(MAPPING_VAR) else None)
    if path is None:
        fail(f"give --mapping or set {MAPPING_VAR}", 2)
    try:
        loaded = load_mapping(path)
    except MappingError as error:
        fail_each(str(error).splitlines())
    emit(_summary(loaded), as_json, _render)


def _summary(mapping: TicketMapping) -> dict[str, Any]:
    jira, servicenow = mapping.jira, mapping.servicenow
    return {
        "jira": None
        if jira is None
        else {
            "issue_types": list(jira.request.issue_types),
            "fields": {field.value: path for field, path in jira.request.fields.items()},
            "statuses": {status: action.value for status, action in jira.statuses.items()},
        },
        "servicenow": None
        if servicenow is None
        else {
            "catalog_items": list(servicenow.request.catalog_items),
            "fields": {field.value: path for field, path in servicenow.request.fields.items()},
            "changes": {change: action.value for change, action in servicenow.changes.items()},
        },
    }


def _render(summary: dict[str, Any]) -> None:
    jira, servicenow = summary["jira"], summary["servicenow"]
    if jira is None and servicenow is None:
        console.print("the mapping is valid; it maps no ticket system yet")
        return
    if jira is not None:
        console.print(
            f"jira: issues of type {', '.join(jira['issue_types'])} are number requests; "
            f"{len(jira['fields'])} request fields are read from them"
        )
        for status, action in jira["statuses"].items():
            console.print(f"  moving to {status!r} means {action}")
    if servicenow is not None:
        console.print(
            f"servicenow: items of {', '.join(servicenow['catalog_items'])} are number "
            f"requests; {len(servicenow['fields'])} request fields are read from them"
        )
        for change, action in servicenow["changes"].items():
            console.print(f"  a change to {change} means {action}")
