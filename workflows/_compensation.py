"""A saga's compensation stack: undo steps registered before each side effect, run in reverse.

Each workflow that compensates keeps one ``CompensationStack``: ``push`` before the side
effect, ``discard`` when the step turned out to do nothing, ``unwind`` to undo everything
left (every undo is attempted; the failed ones are kept in ``left`` for an operator, and
``retry`` runs them again once the cause is fixed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from contracts import metrics

from ._failures import describe
from ._metrics import count

__all__ = ["Compensation", "CompensationStack", "unabandonable"]


class Compensation(NamedTuple):
    """One registered undo: ``step`` labels its metric, ``name`` is what an operator reads."""

    step: str
    """``hold``, ``numbers`` or ``route``."""
    name: str
    run: Callable[[], Awaitable[None]]


class CompensationStack:
    """Undo steps, newest last; after an unwind, what could not be undone."""

    def __init__(self) -> None:
        self._entries: list[Compensation] = []
        self._failed: list[Compensation] = []
        self.left: list[str] = []
        """What the last unwind could not undo, newest first, each with its failure."""
        self.last_failure: BaseException | None = None
        """The failure of the oldest undo that failed (what an operator is shown first)."""

    def push(self, step: str, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Register an undo, before the side effect it undoes."""
        self._entries.append(Compensation(step, name, run))

    def __contains__(self, name: object) -> bool:
        return any(entry.name == name for entry in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def pop(self) -> Compensation:
        """Take the newest undo off the stack, to run it now."""
        return self._entries.pop()

    def newest(self) -> Compensation:
        """The newest undo, left on the stack (run it, then ``pop`` once it is done)."""
        return self._entries[-1]

    def discard(self, name: str) -> Compensation:
        """Take the newest undo of that name off the stack (its step did nothing), and return it."""
        for index in range(len(self._entries) - 1, -1, -1):
            if self._entries[index].name == name:
                return self._entries.pop(index)
        raise KeyError(name)

    async def unwind(self) -> None:
        """Run every undo, newest first, each to its end; the stack is empty afterwards.

        A failed undo does not stop the others; the failed ones are kept for ``retry`` and
        listed in ``left``.
        """
        self._failed = []
        self.left.clear()
        for entry in reversed(self._entries):
            try:
                await entry.run()
            except (ActivityError, ApplicationError) as failure:
                workflow.logger.error("compensation %r failed: %s", entry.name, describe(failure))
                self.left.append(f"{entry.name}: {describe(failure)}")
                count(metrics.COMPENSATIONS, step=entry.step, result="failed")
                self._failed.insert(0, entry)
                self.last_failure = failure
            else:
                count(metrics.COMPENSATIONS, step=entry.step, result="succeeded")
        self._entries.clear()

    async def retry(self) -> None:
        """Unwind again what failed last time (an operator fixed the cause)."""
        self._entries = self._failed
        await self.unwind()


async def unabandonable(work: Awaitable[None]) -> None:
    """Await work to its end: a cancel must not abandon a compensation half way."""
    task = asyncio.ensure_future(work)
    while True:  # shield AND keep awaiting
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            continue
