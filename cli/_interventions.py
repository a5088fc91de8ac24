"""``numberflow retry | skip | abort | abandon``: an operator's answer to a parked saga.

One ticket, or every ticket of a visibility query (``--query``) after a confirmation: e.g.
every saga parked on ``MissingDomain`` once the domain is verified.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from temporalio.client import Client

from contracts.ids import ticket_id_of, workflow_id_for
from contracts.problems import first_problem
from contracts.provision import Intervention, TrunkSpec
from provisioning import NoWorkerAnswered, ProvisioningNotFound, ProvisioningRefused, intervene

from ._common import JsonFlag, console, emit, fail, run_async, trunk_fields

__all__ = ["abandon", "abort", "retry", "skip"]

TicketArg = Annotated[str | None, typer.Argument(help="Ticket id (or give --query).")]
Query = Annotated[str | None, typer.Option(help="Every ticket of this visibility query (a batch).")]
By = Annotated[str, typer.Option(help="Who decides (recorded in the timeline).")]
Yes = Annotated[bool, typer.Option("--yes", help="Do not ask before a batch.")]


def retry(
    ticket: TicketArg = None,
    trunk: Annotated[
        list[str] | None,
        typer.Option(help="Route to this trunk fqdn[:port] instead (repeatable; routing only)."),
    ] = None,
    query: Query = None,
    by: By = "operator",
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Run the failed step (or compensation) again, after the cause was fixed."""
    try:
        trunks = tuple(TrunkSpec.model_validate(trunk_fields(t)) for t in trunk) if trunk else None
    except (ValueError, ValidationError) as error:
        fail(f"invalid input: --trunk: {_first_problem(error)}", 2)
    _send(ticket, query, yes, as_json, {"action": "retry", "by": by, "trunks": trunks})


def skip(
    ticket: TicketArg = None,
    reason: Annotated[str, typer.Option(help="Why the step is left out.")] = "",
    query: Query = None,
    by: By = "operator",
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Finish without the failed step (completed_with_skips)."""
    _send(ticket, query, yes, as_json, {"action": "skip", "by": by, "reason": reason or None})


def abort(
    ticket: TicketArg = None,
    reason: Annotated[str, typer.Option(help="Why the ticket is given up.")] = "",
    query: Query = None,
    by: By = "operator",
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Give the ticket up: compensate now (route removed, numbers released)."""
    _send(ticket, query, yes, as_json, {"action": "abort", "by": by, "reason": reason or None})


def abandon(
    ticket: TicketArg = None,
    reason: Annotated[str, typer.Option(help="Why the cleanup is left to people.")] = "",
    query: Query = None,
    by: By = "operator",
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Stop retrying a failed compensation: end compensation_failed with what is left."""
    _send(ticket, query, yes, as_json, {"action": "abandon", "by": by, "reason": reason or None})


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return first_problem(error, located=False)
    return str(error)


def _send(
    ticket: str | None, query: str | None, yes: bool, as_json: bool, values: dict[str, Any]
) -> None:
    if (ticket is None) == (query is None):
        fail("give a ticket id or --query (not both)", 2)
    try:
        intervention = Intervention.model_validate(values)
    except ValidationError as error:
        fail(f"invalid input: {_first_problem(error)}", 2)

    async def one(client: Client) -> dict[str, Any]:
        assert ticket is not None
        sent = await intervene(client, ticket, intervention)
        return {"ticket_id": ticket, "stage": sent.status.stage.value, "applied": sent.applied}

    async def batch(client: Client) -> dict[str, Any]:
        assert query is not None
        return await _intervene_matching(client, query, intervention, yes)

    if query is None:
        emit(
            run_async(one),
            as_json,
            lambda v: console.print(
                f"{intervention.action.value} sent to {v['ticket_id']}; stage now {v['stage']}"
                if v["applied"]
                else f"{intervention.action.value} sent to {v['ticket_id']}; not taken yet (is "
                "a worker running?): the saga takes it when one is"
            ),
        )
        return
    outcome = run_async(batch)

    def render(v: dict[str, Any]) -> None:
        console.print(f"{intervention.action.value}: {len(v['done'])} of {v['matched']} tickets")
        for each, why in v["refused"].items():
            console.print(f"  refused {each}: {why}")

    emit(outcome, as_json, render)
    if outcome["refused"] or not outcome["matched"]:
        raise typer.Exit(1)


async def _intervene_matching(
    client: Client, query: str, intervention: Intervention, yes: bool
) -> dict[str, Any]:
    """Send the intervention to every saga the visibility query matches (after a yes)."""
    tickets = [
        ticket
        async for w in client.list_workflows(query)
        if (ticket := ticket_id_of(w.id)) is not None and w.id == workflow_id_for(ticket)
    ]
    if not tickets:
        return {"matched": 0, "done": [], "refused": {}}
    question = (
        f"{intervention.action.value} {len(tickets)} tickets ({', '.join(tickets[:5])}"
        f"{'…' if len(tickets) > 5 else ''})?"
    )
    if not yes and not _confirmed(question):
        fail(f"not confirmed; nothing was sent to the {len(tickets)} tickets (--yes confirms)")
    done: list[str] = []
    refused: dict[str, str] = {}
    for each in tickets:
        try:
            await intervene(client, each, intervention)
            done.append(each)
        except (ProvisioningRefused, ProvisioningNotFound, NoWorkerAnswered) as error:
            refused[each] = str(error)
    return {"matched": len(tickets), "done": done, "refused": refused}


def _confirmed(question: str) -> bool:
    """The operator's yes; no answer at all (stdin closed, not a terminal) is a no."""
    try:
        return typer.confirm(question)
    except typer.Abort:
        return False
