"""Task queue names: one queue for every workflow and activity of numberflow."""

TASK_QUEUE = "numberflow"
"""Scale out by running more worker processes on this queue."""

__all__ = ["TASK_QUEUE"]
