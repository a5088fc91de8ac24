"""``numberflow replay`` reports a non-deterministic change and exits non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli._replay
from cli import app
from tests.replay.test_replay import SwappedStepWorkflow

CORPUS = Path(__file__).resolve().parents[1] / "replay" / "histories"


def test_current_code_replays_the_corpus() -> None:
    """Against the current workflows, every committed history replays."""
    result = CliRunner().invoke(app, ["replay", "--histories", str(CORPUS)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output


def test_a_reordered_step_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The same history against a build with a swapped step: non-deterministic, exit 1."""
    history = CORPUS / "provision-happy_reservation.json"
    (tmp_path / history.name).write_text(history.read_text())
    monkeypatch.setattr(cli._replay, "WORKFLOWS", [SwappedStepWorkflow])  # the "new build"
    result = CliRunner().invoke(app, ["replay", "--histories", str(tmp_path)])
    assert result.exit_code == 1
    assert "non-deterministic" in result.output and "0 ok, 1 failed" in result.output
