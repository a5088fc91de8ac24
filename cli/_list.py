"""``numberflow list``: sagas found through their search attributes."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.table import Table
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from contracts.ids import PROVISION_WORKFLOW_TYPE
from contracts.problems import first_problem
from contracts.provision import CountryCode, Stage
from contracts.search_attributes import COUNTRY_CODE, PROVISIONING_STAGE, TICKET_ID
from provisioning import NoWorkerAnswered, ProvisioningNotFound, read_status

from ._common import JsonFlag, console, emit, fail, run_async

__all__ = ["list_provisionings"]


def list_provisionings(
    stage: Annotated[Stage | None, typer.Option(help="Filter by stage.")] = None,
    country: Annotated[str | None, typer.Option(help="Filter by ISO country code.")] = None,
    ticket: Annotated[str | None, typer.Option(help="Filter by ticket id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List sagas through their search attributes (visibility is eventually consistent)."""
    query = _visibility_query(stage, country, ticket)

    async def search(client: Client) -> list[dict[str, Any]]:
        rows = [_row(execution) async for execution in client.list_workflows(query, limit=limit)]
        if stage is Stage.NEEDS_ATTENTION:  # what failed is in the saga, not in visibility
            for row in rows:
                await _add_attention(client, row)
        return rows

    def render(rows: list[dict[str, Any]]) -> None:
        attention = stage is Stage.NEEDS_ATTENTION
        columns = ["ticket", "stage", "country", "status", "started"]
        if attention:
            columns += ["failed step", "error code", "deadline"]
        table = Table(*columns, title="provisionings")
        for row in rows:
            cells = [row["ticket_id"], row["stage"], row["country"], row["status"], row["started"]]
            if attention:
                cells += [row["step"] or "-", row["error_code"] or "-", row["deadline"] or "-"]
            table.add_row(*cells)
        console.print(table)

    emit(run_async(search), as_json, render)


def _visibility_query(stage: Stage | None, country: str | None, ticket: str | None) -> str:
    """The filters as a visibility query; a bad value is exit 2 before anything is asked."""
    if country is not None:
        try:
            TypeAdapter(CountryCode).validate_python(country)  # the request's own rule
        except ValidationError as error:
            fail(f"invalid input: --country: {first_problem(error, located=False)}", 2)
    clauses = [f"WorkflowType = '{PROVISION_WORKFLOW_TYPE}'"]
    for key, value in (
        (PROVISIONING_STAGE, stage.value if stage else None),
        (COUNTRY_CODE, country),
        (TICKET_ID, ticket),
    ):
        if value is not None:
            if "'" in value:
                fail(f"{key.name} value must not contain quotes", 2)
            clauses.append(f"{key.name} = '{value}'")
    return " AND ".join(clauses)


def _row(execution: WorkflowExecution) -> dict[str, Any]:
    attributes = execution.typed_search_attributes
    return {
        "workflow_id": execution.id,
        "ticket_id": attributes.get(TICKET_ID),
        "stage": attributes.get(PROVISIONING_STAGE),
        "country": attributes.get(COUNTRY_CODE),
        "status": execution.status.name
        if isinstance(execution.status, WorkflowExecutionStatus)
        else None,
        "started": execution.start_time.isoformat(timespec="seconds"),
    }


async def _add_attention(client: Client, row: dict[str, Any]) -> None:
    """The failed step, its error code and the decision's deadline, from the saga itself."""
    try:
        attention = (await read_status(client, str(row["ticket_id"]))).attention
    except (NoWorkerAnswered, ProvisioningNotFound):
        attention = None
    row["step"] = attention.step if attention else None
    row["error_code"] = attention.error_code if attention else None
    row["deadline"] = attention.deadline.isoformat() if attention else None
