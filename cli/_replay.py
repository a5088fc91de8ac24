"""``numberflow replay``: replay histories against the current workflow code, or export them."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from codec import data_converter
from workflows import WORKFLOWS

from ._common import JsonFlag, console, fail, payload_keys, run_async

__all__ = ["export_file_name", "export_histories", "replay"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def export_file_name(workflow_id: str, run_id: str) -> str:
    """One file per run, named without any path component: ``<workflow id>--<run id>.json``.

    Characters outside ``[A-Za-z0-9._-]`` become ``_`` and dots cannot lead, so an id such as
    ``../x`` stays inside the export folder.
    """
    safe_id = _UNSAFE.sub("_", workflow_id).lstrip(".") or "_"
    safe_run = _UNSAFE.sub("_", run_id) or "_"
    return f"{safe_id}--{safe_run}.json"


def replay(
    workflow_id: Annotated[
        list[str] | None,
        typer.Option("--workflow-id", help="Fetch this run's history (repeatable)."),
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="Fetch the histories of a visibility query.")
    ] = None,
    histories: Annotated[
        Path | None, typer.Option(help="Read *.json histories from this folder.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="Write the fetched histories here instead of replaying.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Let --export overwrite files that exist.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Replay with the production data converter; exit non-zero on any non-determinism."""
    if not (workflow_id or query or histories):
        fail("give --workflow-id, --query or --histories", 2)
    if export and histories:
        fail("--export saves fetched histories; it does not take --histories", 2)
    keys = payload_keys()
    loaded = _read_folder(histories) if histories is not None else []
    if workflow_id or query:
        loaded += run_async(lambda client: _fetch(client, workflow_id or [], query))
    if not loaded:
        fail("no histories found", 4)
    if export:
        export_histories(loaded, export, force=force)
        return
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(keys))
    outcomes = asyncio.run(_replay(replayer, loaded))
    if as_json:
        typer.echo(json.dumps(outcomes, indent=2))
    else:
        for outcome in outcomes:
            if outcome["ok"]:
                console.print(f"[green]ok[/green]               {outcome['workflow_id']}")
            else:
                console.print(
                    f"[red]non-deterministic[/red] {outcome['workflow_id']}: {outcome['error']}"
                )
        failed = sum(not o["ok"] for o in outcomes)
        console.print(f"{len(outcomes) - failed} ok, {failed} failed")
    if any(not o["ok"] for o in outcomes):
        raise typer.Exit(1)


def export_histories(histories: list[WorkflowHistory], folder: Path, *, force: bool) -> None:
    """Write one file per run; refuse, before writing anything, to overwrite without --force."""
    targets = [(h, folder / export_file_name(h.workflow_id, _run_id(h))) for h in histories]
    if not force:
        existing = [path.name for _, path in targets if path.exists()]
        if existing:
            fail(f"{len(existing)} files exist in {folder} (e.g. {existing[0]}); use --force", 2)
    folder.mkdir(parents=True, exist_ok=True)
    runs = {path: history for history, path in targets}  # a run fetched twice is one file
    for path, history in runs.items():
        path.write_text(history.to_json())
    console.print(f"exported {len(runs)} histories to {folder}")


def _run_id(history: WorkflowHistory) -> str:
    """The run id, read from the first event (a history file carries no separate field)."""
    started = history.events[0].workflow_execution_started_event_attributes
    return started.original_execution_run_id or started.first_execution_run_id or "run"


def _read_folder(folder: Path) -> list[WorkflowHistory]:
    if not folder.is_dir():
        fail(f"{folder} is not a folder", 2)
    histories = []
    for path in sorted(folder.glob("*.json")):
        try:
            histories.append(WorkflowHistory.from_json(path.stem, path.read_text()))
        except (ValueError, KeyError) as error:
            fail(f"{path} is not a history export: {type(error).__name__}", 2)
    return histories


async def _fetch(client: Client, ids: list[str], query: str | None) -> list[WorkflowHistory]:
    found = [await client.get_workflow_handle(i).fetch_history() for i in ids]
    if query:
        found += [h async for h in client.list_workflows(query).map_histories()]
    return found


async def _replay(replayer: Replayer, histories: list[WorkflowHistory]) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = []
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        outcomes.append(
            {
                "workflow_id": history.workflow_id,
                "ok": failure is None,
                "error": None if failure is None else " ".join(str(failure).split()),
            }
        )
    return outcomes
