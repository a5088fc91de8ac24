"""numberflow's own metrics from inside a workflow (names in ``contracts.metrics``)."""

from __future__ import annotations

from temporalio import workflow

__all__ = ["count"]


def count(name: str, value: int = 1, **labels: str) -> None:
    """Add to one of numberflow's counters (the SDK skips metrics while replaying)."""
    workflow.metric_meter().create_counter(name).add(value, labels)
