"""``replay --export`` writes one file per run, inside the folder, and never overwrites silently."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from temporalio.client import WorkflowHistory

from cli._replay import export_file_name, export_histories

CORPUS = Path(__file__).resolve().parents[1] / "replay" / "histories"


def _history(workflow_id: str) -> WorkflowHistory:
    source = sorted(CORPUS.glob("*.json"))[0]
    return WorkflowHistory.from_json(workflow_id, source.read_text())


@pytest.mark.parametrize(
    "workflow_id", ["../../escaped", "/etc/passwd", "..", "a/../../b", "C:\\\\x", ".hidden"]
)
def test_file_names_have_no_path_component(workflow_id: str) -> None:
    name = export_file_name(workflow_id, "run-1")
    assert "/" not in name and "\\\\" not in name and not name.startswith(".")
    assert Path(name).name == name


def test_a_hostile_id_stays_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    export_histories([_history("../outside")], folder, force=False)
    assert [p.parent for p in tmp_path.rglob("*.json")] == [folder]


def test_runs_of_one_id_get_one_file_each(tmp_path: Path) -> None:
    first, second = _history("provision-T-1"), _history("provision-T-1")
    second.events[
        0
    ].workflow_execution_started_event_attributes.original_execution_run_id = "another-run"
    export_histories([first, second], tmp_path, force=False)
    assert len(list(tmp_path.glob("provision-T-1--*.json"))) == 2


def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    history = _history("provision-T-2")
    export_histories([history], tmp_path, force=False)
    (written,) = tmp_path.iterdir()
    written.write_text("operator's notes")
    with pytest.raises(typer.Exit) as refused:
        export_histories([history], tmp_path, force=False)
    assert refused.value.exit_code == 2
    assert written.read_text() == "operator's notes"
    export_histories([history], tmp_path, force=True)
    assert written.read_text() != "operator's notes"
