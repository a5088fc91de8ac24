"""``QuotaKeeperWorkflow``: the one budget of ACS searches and purchases for one resource.

ACS limits searches and purchases per Azure tenant, and counts every request, refused or not.
Sagas that each retried on their own would spend the week's budget on refusals, so every saga
asks this workflow before a request that spends (``contracts.quota``). The keeper admits asks
in arrival order while the rolling window has room, answers the others with their place and
when room comes, and admits them as room comes: the window rolls past an old request (a
timer), an operator grants a higher limit (the ``grant`` Update, after Microsoft raised it),
or a limit ACS taught it (a refusal's ``Retry-After``) lifts. It continues as new before its
history grows long, carrying what was spent, the queue and the grants.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from contracts import metrics
    from contracts.ids import QUOTA_KEEPER_WORKFLOW_TYPE
    from contracts.quota import (
        QUOTA_ANSWER_SIGNAL,
        QUOTA_ASK_SIGNAL,
        QUOTA_MARGIN,
        QUOTA_WITHDRAW_SIGNAL,
        QuotaAnswer,
        QuotaAsk,
        QuotaGrant,
        QuotaKeeperInput,
        QuotaKeeperState,
        QuotaKind,
        QuotaLine,
        QuotaSpend,
        QuotaView,
        QuotaWithdrawal,
    )

__all__ = ["QuotaKeeperWorkflow"]


@workflow.defn(name=QUOTA_KEEPER_WORKFLOW_TYPE)
class QuotaKeeperWorkflow:
    """Admits sagas to the requests that spend the tenant's limits, in arrival order."""

    @workflow.init
    def __init__(self, start: QuotaKeeperInput) -> None:
        self._resource = start.resource
        self._limits = start.limits
        self._spent = list(start.state.spent)
        self._queue = list(start.state.queue)
        self._granted = dict(start.state.granted)
        self._blocked = dict(start.state.blocked_until)
        self._history_limit = start.continue_as_new_after
        self._told: dict[str, int | None] = {}
        """Ask id → the place it was last told (a queued ask is told again when it moves)."""
        self._changed = True
        self._telling: set[asyncio.Task[None]] = set()
        """Answers on their way to sagas: the keeper does not wait for one to go on."""

    @workflow.run
    async def run(self, start: QuotaKeeperInput) -> None:  # noqa: ARG002 - read in init
        """Admit what fits, sleep until something changes or room comes, and again."""
        while True:
            self._changed = False
            self._admit()
            if self._may_continue_as_new():
                break
            room = self._next_room()
            timeout = max(room - workflow.now(), timedelta(seconds=1)) if room else None
            with contextlib.suppress(TimeoutError):  # the window rolled, or a refusal's wait ended
                await workflow.wait_condition(
                    lambda: self._changed or self._may_continue_as_new(), timeout=timeout
                )
        workflow.continue_as_new(
            QuotaKeeperInput(
                resource=self._resource,
                limits=self._limits,
                state=QuotaKeeperState(
                    spent=tuple(self._spent),
                    queue=tuple(self._queue),
                    granted=self._granted,
                    blocked_until=self._blocked,
                ),
                continue_as_new_after=self._history_limit,
            )
        )

    def _may_continue_as_new(self) -> bool:
        """Long enough, and no answer still on its way (its failure must be heard here)."""
        return self._history_is_long() and workflow.all_handlers_finished() and not self._telling

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._history_limit
        )

    # -- messages ------------------------------------------------------------------------------

    @workflow.signal(name=QUOTA_ASK_SIGNAL)
    def ask(self, ask: QuotaAsk) -> None:
        """Queue an ask (a retried one is not queued twice); learn from a refusal it reports."""
        self._limits = ask.limits  # the workers' settings of the moment
        request = ask.request
        if any(q.request.ask_id == request.ask_id for q in self._queue) or any(
            s.ask_id == request.ask_id for s in self._spent
        ):
            return
        refused = request.refused
        if refused is not None:
            # ACS did not count the refused request; it has no room until Retry-After.
            self._spent = [s for s in self._spent if s.ask_id != refused.ask_id]
            until = workflow.now() + refused.retry_after
            self._blocked[request.kind] = max(self._blocked.get(request.kind, until), until)
            workflow.metric_meter().create_counter(
                metrics.QUOTA_REFUSED, "ACS refusals for a tenant limit"
            ).add(1, {"kind": request.kind.value, "resource": self._resource})
            self._queue.insert(0, ask)  # it was admitted before everyone waiting now
        else:
            self._queue.append(ask)
        self._changed = True

    @workflow.signal(name=QUOTA_WITHDRAW_SIGNAL)
    def withdraw(self, withdrawal: QuotaWithdrawal) -> None:
        """Drop an ask; one admitted that the saga never used is given back."""
        self._queue = [q for q in self._queue if q.request.ask_id != withdrawal.ask_id]
        self._spent = [s for s in self._spent if s.ask_id != withdrawal.ask_id]
        self._changed = True

    @workflow.update
    def grant(self, grant: QuotaGrant) -> QuotaView:
        """Set the limits Microsoft raised; they override the workers' settings from now on."""
        for kind in QuotaKind:
            value = getattr(grant, kind.value)
            if value is not None:
                self._granted[kind] = value
                self._blocked.pop(kind, None)  # the refusal it taught is what was raised
        workflow.logger.info("quota granted by %s: %s", grant.by, self._granted)
        self._changed = True
        return self.view()

    @grant.validator
    def _validate_grant(self, grant: QuotaGrant) -> None:
        if grant.searches is None and grant.purchases is None:
            raise ValueError("grant searches, purchases or both")

    @workflow.query
    def view(self) -> QuotaView:
        """Each kind's limit, what the window has used, when room comes, and who waits."""
        now = workflow.now()
        return QuotaView(
            resource=self._resource,
            window=self._limits.window,
            lines=tuple(self._line(kind, now) for kind in QuotaKind),
        )

    def _line(self, kind: QuotaKind, now: datetime) -> QuotaLine:
        limit = self._limit(kind)
        used = len(self._in_window(kind, now))
        blocked = self._blocked.get(kind)
        return QuotaLine(
            kind=kind,
            limit=limit,
            granted=kind in self._granted,
            used=used,
            remaining=None if limit is None else max(0, limit - used),
            room_at=None if self._fits(kind, now) else self._room_at(kind, now),
            blocked_until=blocked if blocked is not None and blocked > now else None,
            queue=tuple(q.request.ticket_id for q in self._queue if q.request.kind is kind),
        )

    # -- admission -----------------------------------------------------------------------------

    def _admit(self) -> None:
        """Admit waiting asks in arrival order while their kind has room; tell the others.

        The answers go out as signals the keeper does not wait for: a fleet asking at once is
        answered in one workflow task, not one round trip after another.
        """
        now = workflow.now()
        self._forget_old_spends(now)
        answers: list[tuple[QuotaAsk, QuotaAnswer]] = []
        places = dict.fromkeys(QuotaKind, 0)
        for ask in list(self._queue):
            request = ask.request
            kind = request.kind
            if places[kind] == 0 and self._fits(kind, now):
                self._queue.remove(ask)
                self._spent.append(
                    QuotaSpend(
                        ask_id=request.ask_id, ticket_id=request.ticket_id, kind=kind, at=now
                    )
                )
                self._told.pop(request.ask_id, None)
                answers.append((ask, QuotaAnswer(ask_id=request.ask_id, admitted=True)))
                continue
            places[kind] += 1
            if self._told.get(request.ask_id, 0) != places[kind]:
                self._told[request.ask_id] = places[kind]
                answers.append(
                    (
                        ask,
                        QuotaAnswer(
                            ask_id=request.ask_id,
                            admitted=False,
                            place=places[kind],
                            room_at=self._room_at(kind, now),
                        ),
                    )
                )
        self._report(now)
        for ask, answer in answers:
            telling = asyncio.create_task(self._tell(ask, answer))
            self._telling.add(telling)
            telling.add_done_callback(self._telling.discard)

    async def _tell(self, ask: QuotaAsk, answer: QuotaAnswer) -> None:
        """Signal the saga; one that is gone gives its place (and an admission) back."""
        try:
            await workflow.get_external_workflow_handle(ask.saga_id).signal(
                QUOTA_ANSWER_SIGNAL, answer
            )
        except FailureError:
            workflow.logger.info("ticket %s left the quota queue", ask.request.ticket_id)
            self.withdraw(QuotaWithdrawal(ask_id=answer.ask_id))

    def _limit(self, kind: QuotaKind) -> int | None:
        return self._granted.get(kind, self._limits.of(kind))

    def _in_window(self, kind: QuotaKind, now: datetime) -> list[QuotaSpend]:
        """This kind's spends the window still counts (a margin longer than ACS's window)."""
        reach = self._limits.window + QUOTA_MARGIN
        return sorted(
            (s for s in self._spent if s.kind is kind and s.at + reach > now), key=lambda s: s.at
        )

    def _forget_old_spends(self, now: datetime) -> None:
        reach = self._limits.window + QUOTA_MARGIN
        self._spent = [s for s in self._spent if s.at + reach > now]
        self._blocked = {k: t for k, t in self._blocked.items() if t > now}

    def _fits(self, kind: QuotaKind, now: datetime) -> bool:
        blocked = self._blocked.get(kind)
        if blocked is not None and blocked > now:
            return False
        limit = self._limit(kind)
        return limit is None or len(self._in_window(kind, now)) < limit

    def _room_at(self, kind: QuotaKind, now: datetime) -> datetime | None:
        """When one more request of ``kind`` fits; ``None`` when only a grant makes room."""
        times = []
        blocked = self._blocked.get(kind)
        if blocked is not None and blocked > now:
            times.append(blocked)
        limit = self._limit(kind)
        spent = self._in_window(kind, now)
        if limit is not None and len(spent) >= limit:
            if limit == 0:
                return None
            leaving = spent[len(spent) - limit]  # the spend that must leave for one more
            times.append(leaving.at + self._limits.window + QUOTA_MARGIN)
        return max(times) if times else now

    def _next_room(self) -> datetime | None:
        """The earliest time a kind someone waits for has room again."""
        now = workflow.now()
        waiting = {q.request.kind for q in self._queue}
        rooms = [room for kind in waiting if (room := self._room_at(kind, now)) is not None]
        return min(rooms) if rooms else None

    def _report(self, now: datetime) -> None:
        """Gauges: asks waiting and budget remaining, per kind (remaining -1: no limit)."""
        waiting = workflow.metric_meter().create_gauge(
            metrics.QUOTA_WAITING, "Sagas waiting for ACS budget"
        )
        remaining = workflow.metric_meter().create_gauge(
            metrics.QUOTA_REMAINING, "ACS requests the window has room for"
        )
        for kind in QuotaKind:
            labels = {"kind": kind.value, "resource": self._resource}
            waiting.set(sum(q.request.kind is kind for q in self._queue), labels)
            line = self._line(kind, now)
            remaining.set(-1 if line.remaining is None else line.remaining, labels)
