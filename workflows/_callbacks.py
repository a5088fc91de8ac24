"""A saga's outbox of stage-change callbacks: delivered in order, never failing the saga."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import CallbackActivities
    from contracts.activities import CallbackInput
    from contracts.error_types import CALLBACK_REFUSED

    from ._failures import describe, error_type
    from ._policies import CALLBACK_DEADLINE, CALLBACK_STEP

__all__ = ["CallbackOutbox"]


class CallbackOutbox:
    """Callbacks waiting to go out, and the task that sends them one at a time.

    ``errors`` is the saga's error list: what could not be delivered is reported there.
    """

    def __init__(self, errors: list[str]) -> None:
        self._queue: list[CallbackInput] = []
        self._refused = False
        self._errors = errors
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sending (once, at the start of the run)."""
        self._sender = asyncio.create_task(self._send())

    def put(self, event: CallbackInput) -> None:
        """Queue a callback, unless the receiver's address was refused."""
        if not self._refused:
            self._queue.append(event)

    async def _send(self) -> None:
        """Deliver in order, each retried with backoff; a refused address stops them all."""
        while True:
            await workflow.wait_condition(lambda: bool(self._queue))
            event = self._queue[0]
            try:
                await workflow.execute_activity_method(
                    CallbackActivities.notify_callback, event, **CALLBACK_STEP
                )
            except ActivityError as failure:
                if error_type(failure) == CALLBACK_REFUSED:
                    # The URL is outside the allow-list: every later callback would be too.
                    self._errors.append(f"callbacks stopped: {describe(failure)}")
                    self._refused = True
                    self._queue.clear()
                    return
                self._errors.append(
                    f"callback for {event.stage.value} not delivered: {describe(failure)}"
                )
            self._queue.pop(0)

    async def drain(self, cancel_ignored: Callable[[], bool]) -> None:
        """Before the run closes, let the pending callbacks go out (bounded).

        The outcome is decided by now, so a cancel that arrives here changes nothing: a
        completed ticket keeps its numbers (a release gives them back), a compensated one has
        nothing left to undo. ``cancel_ignored`` notes the cancel and says whether to go on
        (runs from before that rule end cancelled here).
        """
        deadline = workflow.now() + CALLBACK_DEADLINE
        while True:
            try:
                await workflow.wait_condition(
                    lambda: not self._queue, timeout=deadline - workflow.now()
                )
                return
            except TimeoutError:
                self._errors.append(f"{len(self._queue)} callbacks were never delivered")
                return
            except asyncio.CancelledError:
                if not cancel_ignored():
                    raise
