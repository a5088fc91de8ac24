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

tickets_app = typer.Typer(help="Ticket systems (Jira): check the mapping numberflow reads.")


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
    jira = mapping.jira
    if jira is None:
        return {"jira": None}
    return {
        "jira": {
            "issue_types": list(jira.request.issue_types),
            "fields": {field.value: path for field, path in jira.request.fields.items()},
            "statuses": {status: action.value for status, action in jira.statuses.items()},
        }
    }


def _render(summary: dict[str, Any]) -> None:
    jira = summary["jira"]
    if jira is None:
        console.print("the mapping is valid; it maps no ticket system yet (no [jira] section)")
        return
    console.print(
        f"jira: issues of type {', '.join(jira['issue_types'])} are number requests; "
        f"{len(jira['fields'])} request fields are read from them"
    )
    for status, action in jira["statuses"].items():
        console.print(f"  moving to {status!r} means {action}")
