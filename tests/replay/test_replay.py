"""Committed histories of real runs replay against the current workflow code.

A change that alters the commands a history recorded must go behind ``workflow.patched``;
this test is what catches one that does not.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from contracts.provision import ProvisionRequest, ProvisionResult
from workflows import WORKFLOWS, ProvisionNumbersWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
STUCK_APPROVE = sorted((Path(__file__).parent / "sdk_update_ordering").glob("*.json"))
"""The two histories of ../shared/evidence/stuck-approve (see ``test_stuck_approve_histories``)."""


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_corpus_covers_the_main_paths() -> None:
    """Happy paths, callbacks, rejection, compensation, cancellation, a release, the SIP writer,
    and for each patch a history from before it and one from after it."""
    names = {p.stem for p in HISTORIES}
    assert {
        "provision-happy_reservation",
        "provision-happy_search",
        "provision-rejected",
        "provision-compensated",
        "provision-cancelled",
        "provision-with_callbacks",
        "release-released",
        "sip_routing-sip_writer",
        # recorded before the settle-purchase-by-hold patch (../shared/evidence), and after it
        "provision-cancel_during_purchase-C6cdc-012",
        "provision-cancelled_in_purchase",
        "provision-cancel_after_completion",  # cancel-after-outcome-ignored
        "sip_routing-sip_writer_ownership",  # route-ownership
        "release-released_by_purchase_date",  # release-by-purchase-date
        "provision-batched",  # configure-in-batches, SIP requests by signal
        "sip_routing-sip_writer_group_commit",  # the writer's side of group commit
        "provision-quota_queued",  # tenant-quota: queued, admitted after a grant
        "provision-quota_rejected_waiting",  # tenant-quota: rejected in the queue
        "quota_keeper-quota_queued",  # the keeper's side
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    """Each committed history replays with the production data converter."""
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(load(path))


@workflow.defn(name="ProvisionNumbersWorkflow", sandboxed=False)
class SwappedStepWorkflow(ProvisionNumbersWorkflow):
    """The saga with one step swapped: a timer before configuring, as a careless edit might add."""

    @workflow.init
    def __init__(self, request: ProvisionRequest) -> None:
        super().__init__(request)

    @workflow.run
    async def run(self, request: ProvisionRequest) -> ProvisionResult:
        return await super().run(request)

    async def _configure(self) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super()._configure()


async def test_a_non_deterministic_change_is_detected() -> None:
    """Replaying the happy path against the swapped workflow fails with a nondeterminism error."""
    replayer = Replayer(workflows=[SwappedStepWorkflow], data_converter=pydantic_data_converter)
    history = load(Path(__file__).parent / "histories" / "provision-happy_reservation.json")
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


@pytest.mark.xfail(
    raises=NondeterminismError,
    strict=True,
    reason=(
        "temporalio/sdk-python#1591 (open): on a cold worker the approve Update was applied after "
        "the reservation result, but on replay Core delivers both in one activation and the SDK "
        "runs the Update first, so its acceptance precedes the saga's commands"
    ),
)
@pytest.mark.parametrize("path", STUCK_APPROVE, ids=[p.stem for p in STUCK_APPROVE])
async def test_stuck_approve_histories(path: Path) -> None:
    """The handler no longer fails on them (it asserted the hold); only the SDK's order is left.

    Before the fix replay stopped on the handler's failure (a ``RuntimeError`` here, so this
    strict xfail failed); now it gets past it to the SDK limitation. When the SDK fixes the
    ordering this starts passing and the strict xfail says so.
    """
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(load(path))
