"""Where a saga is and how it got there: stage, timeline, and everything a stage change tells.

A stage change is recorded once here and fans out: the ``ProvisioningStage`` search attribute,
the time-in-stage metric, a log line, and a callback to the ticket system.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import metrics
    from contracts.activities import CallbackInput
    from contracts.provision import ProvisionRequest, Stage, TimelineEntry
    from contracts.search_attributes import PROVISIONING_STAGE

    from ._callbacks import CallbackOutbox

__all__ = ["Journal"]


class Journal:
    """The saga's stage and timeline; ``outcome`` once it is decided."""

    def __init__(self, request: ProvisionRequest, outbox: CallbackOutbox) -> None:
        self._request = request
        self._outbox = outbox
        self.stage = Stage.RESERVING
        self.outcome: Stage | None = None
        self.timeline: list[TimelineEntry] = []
        self._since = workflow.now()

    def enter(self, stage: Stage, note: str | None = None) -> None:
        """Move to ``stage`` (again, with a note), and tell everyone who follows the saga."""
        if self.timeline and self.timeline[-1].stage is stage and note is None:
            return
        now = workflow.now()
        if self.timeline and stage is not self.stage:
            workflow.metric_meter().create_histogram_timedelta(
                metrics.STAGE_SECONDS, "Time spent in a stage", "duration"
            ).record(now - self._since, {"stage": self.stage.value})
        if stage is not self.stage or not self.timeline:
            self._since = now
        self.stage = stage
        self.timeline.append(TimelineEntry(stage=stage, at=workflow.now(), note=note))
        workflow.upsert_search_attributes([PROVISIONING_STAGE.value_set(stage.value)])
        workflow.logger.info("ticket %s: %s", self._request.ticket_id, stage.value)
        if self._request.callback_url is not None:
            self._outbox.put(
                CallbackInput(
                    url=str(self._request.callback_url),
                    ticket_id=self._request.ticket_id,
                    stage=stage,
                    at=workflow.now(),
                    outcome=self.outcome,
                    note=note,
                )
            )

    def note(self, note: str) -> None:
        """A line in the timeline, in the current stage."""
        self.timeline.append(TimelineEntry(stage=self.stage, at=workflow.now(), note=note))
