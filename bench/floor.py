"""The floor: what Temporal alone costs for a saga's shape on the same server and worker.

Eight activities that do nothing, with the approval Update between the hold and the
purchase, as the saga has them. numberflow's throughput is reported as a ratio to this one,
measured side by side in the same run, so the machine's speed cancels out.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

__all__ = ["FLOOR_STEPS_AFTER_APPROVAL", "FLOOR_STEPS_BEFORE_APPROVAL", "FloorWorkflow", "step"]

FLOOR_STEPS_BEFORE_APPROVAL = 2
"""Hold: reserve (the saga: acquire_reservation, and the ledger's record)."""
FLOOR_STEPS_AFTER_APPROVAL = 6
"""Purchase, its poll, capabilities (begin, poll), route, callback."""


@activity.defn(name="floor_step")
async def step(index: int) -> int:
    """Nothing: the cost of scheduling, running and completing one activity."""
    return index


@workflow.defn(name="FloorWorkflow")
class FloorWorkflow:
    """Hold steps, wait for ``approve``, then the remaining steps."""

    def __init__(self) -> None:
        self._stage = "reserving"
        self._approved = False

    @workflow.run
    async def run(self, _: int) -> int:
        for index in range(FLOOR_STEPS_BEFORE_APPROVAL):
            await self._step(index)
        self._stage = "awaiting_approval"
        await workflow.wait_condition(lambda: self._approved)
        self._stage = "purchasing"
        for index in range(FLOOR_STEPS_AFTER_APPROVAL):
            await self._step(FLOOR_STEPS_BEFORE_APPROVAL + index)
        self._stage = "completed"
        return FLOOR_STEPS_BEFORE_APPROVAL + FLOOR_STEPS_AFTER_APPROVAL

    async def _step(self, index: int) -> None:
        await workflow.execute_activity(step, index, start_to_close_timeout=timedelta(seconds=20))

    @workflow.update
    def approve(self, approver: str) -> str:
        """Approve, as the saga's approve Update does."""
        self._approved = True
        return approver

    @workflow.query
    def stage(self) -> str:
        """Where the run is (the driver waits for ``awaiting_approval``)."""
        return self._stage
