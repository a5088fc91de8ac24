"""``SipRoutingWorkflow``: the one writer of one ACS resource's direct-routing document.

``PATCH /sip`` replaces the routes list wholesale and has no ETag, so two writers that read,
modify and write at once lose a route. Every numberflow change goes through this workflow
instead. Sagas submit by signal (``submit``; no in-flight limit, unlike Updates) and the run
loop commits whatever is waiting as one batch: one fresh read, every request applied in
arrival order to that document (each refused alone if it must be), one PATCH, then each asking
activity is completed with its answer (group commit). The Updates of the first version are
still served, one at a time under the same lock. It also keeps the ledger of which ticket owns
which numbers and routes, and continues as new before its history grows long, carrying that
state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities.sip import SipDocumentActivities
    from activities.writer import SipWriterActivities
    from contracts.error_types import (
        INVALID_SIP_REQUEST,
        NUMBER_CLAIMED,
        ROUTE_NAME_TAKEN,
        ROUTE_SHADOWED,
        TRUNK_IN_USE,
    )
    from contracts.ids import SIP_ROUTING_WORKFLOW_TYPE
    from contracts.provision import TrunkSpec
    from contracts.sip import (
        MAX_ROUTES,
        MAX_TRUNKS,
        SUBMIT_SIGNAL,
        AttachRouteRequest,
        DetachRouteRequest,
        EnsureTrunksRequest,
        LedgerEntry,
        NumbersOwnership,
        RemoveTrunkRequest,
        RouteMatch,
        RouteSpec,
        RouteWritten,
        SipAnswer,
        SipDocument,
        SipRequestKind,
        SipRoutingInput,
        SipRoutingState,
        SipSubmission,
        is_part_of,
    )

    from ._ledger import Ledger
    from ._policies import (
        ACS_STEP,
        ANSWER,
        adjusted,
    )
    from ._sip_writing import (
        BatchPlan,
        failed_answer,
        placement_index,
        refused_not_failed,
        route_wire,
        routes_for,
    )

__all__ = ["SipRoutingWorkflow"]

ROUTE_OWNERSHIP = "route-ownership"
"""Patch: attach refuses a name numberflow did not write; detach touches only owned routes."""


@workflow.defn(name=SIP_ROUTING_WORKFLOW_TYPE)
class SipRoutingWorkflow:
    """Serialises SIP changes for one resource; answers which route a number takes."""

    @workflow.init
    def __init__(self, start: SipRoutingInput) -> None:
        self._resource = start.resource
        self._ledger = Ledger(start.state.ledger)
        self._last: SipDocument = start.state.last_written or SipDocument()
        self._limit = start.continue_as_new_after
        self._lock = asyncio.Lock()
        self._queue: list[SipSubmission] = list(start.state.pending)
        self._answered: dict[str, SipAnswer] = {}
        """Request id → its answer, this run: a retried submission is answered, not redone."""

    @workflow.run
    async def run(self, start: SipRoutingInput) -> None:  # noqa: ARG002 - read in init
        """Commit submissions in batches until the history is long, then continue as new."""
        while not self._may_continue_as_new():
            await workflow.wait_condition(lambda: bool(self._queue) or self._may_continue_as_new())
            if self._queue:
                batch, self._queue = self._queue, []
                await self._commit(batch)
        workflow.continue_as_new(
            SipRoutingInput(
                resource=self._resource,
                state=SipRoutingState(
                    ledger=self._ledger.entries, last_written=self._last, pending=tuple(self._queue)
                ),
                continue_as_new_after=self._limit,
            )
        )

    def _may_continue_as_new(self) -> bool:
        """Long enough, and nothing half done (queued submissions travel with the state)."""
        return (
            self._history_is_long() and workflow.all_handlers_finished() and not self._lock.locked()
        )

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() >= self._limit
        )

    # -- submissions (group commit) ------------------------------------------------------------

    @workflow.signal(name=SUBMIT_SIGNAL)
    def submit(self, submission: SipSubmission) -> None:
        """Queue a request; the run loop answers it after the next batch."""
        self._queue.append(submission)

    async def _commit(self, batch: list[SipSubmission]) -> None:
        """Apply the new requests as one read-modify-write, then answer every asker.

        A request seen before (an activity's retry) is answered from its first answer.
        """
        fresh: list[SipSubmission] = []
        for submission in batch:
            if submission.request_id not in self._answered and not any(
                f.request_id == submission.request_id for f in fresh
            ):
                fresh.append(submission)
        async with self._lock:
            answers = await self._apply_batch(fresh) if fresh else {}
        # A failure worth retrying is not remembered: the retry must be tried again.
        self._answered.update({k: a for k, a in answers.items() if not a.retryable})
        known = {**self._answered, **answers}
        replies = [
            known[s.request_id].model_copy(update={"task_token": s.task_token}) for s in batch
        ]
        try:
            await workflow.execute_activity_method(
                SipWriterActivities.answer_requests,
                replies,
                **adjusted(ACS_STEP, retry_policy=ANSWER),
            )
        except ActivityError as error:  # never the writer's end: unanswered askers time out
            workflow.logger.error("could not answer %d requests: %s", len(replies), error)

    async def _apply_batch(self, fresh: list[SipSubmission]) -> dict[str, SipAnswer]:
        """The requests together; if ACS refuses that write, each alone.

        Alone, the request ACS refuses (e.g. a trunk of an unverified domain) fails with ACS's
        own error, and the others of the batch go through.
        """
        ledger_before = self._ledger.snapshot()
        try:
            return await self._apply_together(fresh)
        except ActivityError as error:
            self._ledger.restore(ledger_before)
            if len(fresh) == 1 or error.retry_state is not RetryState.NON_RETRYABLE_FAILURE:
                # ACS is down or slow, not refusing: every asker retries later, together
                return dict.fromkeys((s.request_id for s in fresh), failed_answer(error))
        answers: dict[str, SipAnswer] = {}
        for submission in fresh:
            ledger_before = self._ledger.snapshot()
            try:
                answers |= await self._apply_together([submission])
            except ActivityError as error:
                self._ledger.restore(ledger_before)
                answers[submission.request_id] = failed_answer(error)
        return answers

    async def _apply_together(self, fresh: list[SipSubmission]) -> dict[str, SipAnswer]:
        """One read, each request planned in order on it, one PATCH (one more for old trunks).

        The ledger changes as the batch is planned: a detach after an attach of the same
        batch must see that route as owned.
        """
        touches_document = any(
            s.kind in (SipRequestKind.ATTACH, SipRequestKind.DETACH) for s in fresh
        )
        document = await self._read() if touches_document else self._last
        plan = BatchPlan(document)
        answers: dict[str, SipAnswer] = {}
        for submission in fresh:
            try:
                written = self._plan(submission, plan)
            except ApplicationError as refusal:
                answers[submission.request_id] = SipAnswer(
                    task_token="", error_type=refusal.type, error_message=refusal.message
                )
                continue
            answers[submission.request_id] = SipAnswer(task_token="", written=written)
        if plan.routes != document.routes or plan.added_trunks:
            patch: dict[str, Any] = {"routes": [route_wire(r) for r in plan.routes]}
            if plan.added_trunks:
                patch["trunks"] = plan.added_trunks
            document = await self._write(patch)
        in_use = {t for r in document.routes for t in r.trunks}
        unused = sorted(f for f in plan.trunks_to_drop if f in document.trunks and f not in in_use)
        if unused:
            await self._write({"trunks": dict.fromkeys(unused)})
        return answers

    def _plan(self, submission: SipSubmission, plan: BatchPlan) -> RouteWritten | None:
        """Apply one request to the batch's document; raise ``ApplicationError`` to refuse it."""
        kind = submission.kind
        if kind is SipRequestKind.ATTACH and submission.attach is not None:
            request = submission.attach
            with refused_not_failed():
                self._check_trunk_room_in(plan, request.trunks)
                written = routes_for(request)
            for route in written:
                self._check_name_is_ours(plan.document(), request, route.name)
            others = tuple(r for r in plan.routes if not self._is_ticket_route(r.name, request))
            names = {r.name for r in others} | {r.name for r in written}
            if len(names) > MAX_ROUTES:
                raise ApplicationError(
                    f"the resource would have more than {MAX_ROUTES} routes",
                    type=INVALID_SIP_REQUEST,
                    non_retryable=True,
                )
            index = self._position(others, request)
            plan.routes = (*others[:index], *written, *others[index:])
            missing = tuple(t for t in request.trunks if t.fqdn not in plan.trunks)
            for trunk in missing:
                plan.trunks[trunk.fqdn] = trunk.port
                plan.added_trunks[trunk.fqdn] = {"sipSignalingPort": trunk.port}
            route_names = tuple(r.name for r in written)
            self._ledger.own(request.ticket_id, numbers=request.numbers, routes=route_names)
            return RouteWritten(
                route_name=written[0].name,
                number_pattern=written[0].number_pattern,
                position=index,
                trunks_added=tuple(t.fqdn for t in missing),
                parts=route_names if len(route_names) > 1 else (),
            )
        if kind is SipRequestKind.DETACH and submission.detach is not None:
            detach = submission.detach
            if self._ledger.owner_of(detach.route_name) != detach.ticket_id:
                return None  # not this ticket's: a compensation undoes only its own saga
            parts = self._ledger.parts_owned(detach.ticket_id, detach.route_name)
            plan.routes = tuple(
                r for r in plan.routes if r.name != detach.route_name and r.name not in parts
            )
            plan.trunks_to_drop |= set(detach.remove_unused_trunks)
            self._ledger.disown(detach.ticket_id, routes=(detach.route_name, *parts))
            return None
        if kind is SipRequestKind.RECORD and submission.ownership is not None:
            owned = submission.ownership
            self._ledger.own(
                owned.ticket_id,
                numbers=owned.numbers,
                release_pending_manual=owned.release_pending_manual,
            )
            return None
        if kind is SipRequestKind.FORGET and submission.ownership is not None:
            forgotten = submission.ownership
            self._ledger.disown(
                forgotten.ticket_id, numbers=forgotten.numbers, released_by=forgotten.released_by
            )
            return None
        if kind is SipRequestKind.CLAIM and submission.claim is not None:
            claim = submission.claim
            refusal = self._ledger.claim_refusal(
                claim.ticket_id, tuple(o.number for o in claim.numbers)
            )
            if refusal is not None:
                raise ApplicationError(refusal, type=NUMBER_CLAIMED, non_retryable=True)
            self._ledger.own(claim.ticket_id, onboarded=claim.numbers)
            return None
        raise ApplicationError(
            f"a {kind} submission without its request", type=INVALID_SIP_REQUEST, non_retryable=True
        )

    def _check_trunk_room_in(self, plan: BatchPlan, trunks: tuple[TrunkSpec, ...]) -> None:
        if len(set(plan.trunks) | {t.fqdn for t in trunks}) > MAX_TRUNKS:
            raise ValueError(f"the resource would have more than {MAX_TRUNKS} trunks")

    # -- updates (the first version's path, still served) --------------------------------------

    @workflow.update
    async def ensure_trunks(self, request: EnsureTrunksRequest) -> SipDocument:
        """Make sure the trunks exist with these ports."""
        async with self._lock:
            current = await self._read()
            patch = {
                t.fqdn: {"sipSignalingPort": t.port}
                for t in request.trunks
                if current.trunks.get(t.fqdn) != t.port
            }
            if patch:
                return await self._write({"trunks": patch})
            return current

    @ensure_trunks.validator
    def _validate_ensure(self, request: EnsureTrunksRequest) -> None:
        self._check_trunk_room(request.trunks)

    @workflow.update
    async def attach_route(self, request: AttachRouteRequest) -> RouteWritten:
        """Write the ticket's routes where they receive its numbers; idempotent by route name.

        Up to ~68 numbers fit one route's pattern; more are split over consecutive routes
        (``<route>``, ``<route>-part2``...), written together in one PATCH and owned together.
        """
        with refused_not_failed():
            written = routes_for(request)
        async with self._lock:
            current = await self._read()
            if workflow.patched(ROUTE_OWNERSHIP):
                for route in written:
                    self._check_name_is_ours(current, request, route.name)
            others = tuple(r for r in current.routes if not self._is_ticket_route(r.name, request))
            index = self._position(others, request)
            routes = (*others[:index], *written, *others[index:])
            missing = tuple(t for t in request.trunks if t.fqdn not in current.trunks)
            if routes != current.routes or missing:
                patch: dict[str, Any] = {"routes": [route_wire(r) for r in routes]}
                if missing:
                    patch["trunks"] = {t.fqdn: {"sipSignalingPort": t.port} for t in missing}
                await self._write(patch)
            names = tuple(r.name for r in written)
            self._ledger.own(request.ticket_id, numbers=request.numbers, routes=names)
            return RouteWritten(
                route_name=written[0].name,
                number_pattern=written[0].number_pattern,
                position=index,
                trunks_added=tuple(t.fqdn for t in missing),
                parts=names if len(names) > 1 else (),
            )

    def _is_ticket_route(self, name: str, request: AttachRouteRequest) -> bool:
        """The request's route, or one of its parts this ticket wrote before."""
        if name == request.route_name:
            return True
        return is_part_of(name, request.route_name) and (
            self._ledger.owner_of(name) == request.ticket_id
        )

    @attach_route.validator
    def _validate_attach(self, request: AttachRouteRequest) -> None:
        self._check_trunk_room(request.trunks)
        written = routes_for(request)  # patterns ACS accepts (each <= 1,024 chars)
        for route in written:
            self._check_name_is_ours(self._last, request, route.name)
        names = {r.name for r in self._last.routes} | {r.name for r in written}
        if len(names) > MAX_ROUTES:
            raise ValueError(f"the resource would have more than {MAX_ROUTES} routes")
        others = tuple(r for r in self._last.routes if not self._is_ticket_route(r.name, request))
        natural = placement_index(others, request.numbers)
        if request.position is not None and request.position > natural < len(others):
            raise ValueError(
                f"position {request.position} is after route {others[natural].name!r} "
                f"(at {natural}), which would take these numbers' calls"
            )

    def _check_name_is_ours(
        self, document: SipDocument, request: AttachRouteRequest, name: str
    ) -> None:
        """A route name belongs to the ticket that wrote it; any other route is not ours.

        Raises the refusal as an ``ApplicationError`` so that, from the validator or from the
        handler, it reaches the caller with its type (``RouteNameTaken``).
        """
        owner = self._ledger.owner_of(name)
        if owner is not None and owner != request.ticket_id:
            reason = f"route name {name!r} belongs to ticket {owner}"
        elif owner is None and any(r.name == name for r in document.routes):
            reason = f"route name {name!r} is taken by a route numberflow did not write"
        else:
            return
        raise ApplicationError(reason, type=ROUTE_NAME_TAKEN, non_retryable=True)

    def _position(self, others: tuple[RouteSpec, ...], request: AttachRouteRequest) -> int:
        natural = placement_index(others, request.numbers)
        if request.position is None:
            return natural
        if request.position > natural < len(others):
            shadow = others[natural].name
            raise ApplicationError(
                f"position {request.position} is after route {shadow!r} (at {natural}), "
                "which would take these numbers' calls",
                type=ROUTE_SHADOWED,
                non_retryable=True,
            )
        return min(request.position, len(others))

    @workflow.update
    async def detach_route(self, request: DetachRouteRequest) -> SipDocument:
        """Remove the ticket's route, then the listed trunks no route uses any more.

        Only a route the ledger says this ticket owns is touched: a name the ticket does not
        own (another ticket's, or one numberflow never wrote) is left alone, so a
        compensation can only undo what its own saga did.
        """
        async with self._lock:
            owner = self._ledger.owner_of(request.route_name)
            if owner != request.ticket_id and workflow.patched(ROUTE_OWNERSHIP):
                return self._last
            parts = self._ledger.parts_owned(request.ticket_id, request.route_name)
            current = await self._read()
            routes = tuple(
                r for r in current.routes if r.name != request.route_name and r.name not in parts
            )
            if routes != current.routes:
                current = await self._write({"routes": [route_wire(r) for r in routes]})
            in_use = {t for r in current.routes for t in r.trunks}
            unused = [
                f for f in request.remove_unused_trunks if f in current.trunks and f not in in_use
            ]
            if unused:
                current = await self._write({"trunks": dict.fromkeys(unused)})
            self._ledger.disown(request.ticket_id, routes=(request.route_name, *parts))
            return current

    @workflow.update
    async def remove_trunk(self, request: RemoveTrunkRequest) -> SipDocument:
        """Delete a trunk (refused while a route uses it)."""
        async with self._lock:
            current = await self._read()
            users = [r.name for r in current.routes if request.fqdn in r.trunks]
            if users:
                raise ApplicationError(
                    f"trunk {request.fqdn} is used by routes {users}",
                    type=TRUNK_IN_USE,
                    non_retryable=True,
                )
            if request.fqdn not in current.trunks:
                return current
            return await self._write({"trunks": {request.fqdn: None}})

    @remove_trunk.validator
    def _validate_remove_trunk(self, request: RemoveTrunkRequest) -> None:
        users = [r.name for r in self._last.routes if request.fqdn in r.trunks]
        if users:
            raise ValueError(f"trunk {request.fqdn} is used by routes {users}; detach them first")

    @workflow.update
    def record_numbers(self, ownership: NumbersOwnership) -> LedgerEntry:
        """The ticket owns these numbers (fed by the provisioning saga after its purchase)."""
        return self._ledger.own(ownership.ticket_id, numbers=ownership.numbers)

    @workflow.update
    def forget_numbers(self, ownership: NumbersOwnership) -> LedgerEntry:
        """The ticket no longer owns these numbers (released)."""
        return self._ledger.disown(ownership.ticket_id, numbers=ownership.numbers)

    # -- queries -------------------------------------------------------------------------------

    @workflow.query
    def config(self) -> SipDocument:
        """The document as this writer last wrote (or read) it."""
        return self._last

    @workflow.query
    def route_for(self, number: str) -> RouteMatch:
        """Which route and trunk a call to ``number`` takes (first match wins)."""
        return self._last.route_for(number)

    @workflow.query
    def ledger(self) -> dict[str, LedgerEntry]:
        """Ticket → numbers and routes it owns."""
        return self._ledger.snapshot()

    # -- internals -----------------------------------------------------------------------------

    async def _read(self) -> SipDocument:
        self._last = await workflow.execute_activity_method(
            SipDocumentActivities.read_sip_document,
            **ACS_STEP,
        )
        return self._last

    async def _write(self, patch: dict[str, Any]) -> SipDocument:
        self._last = await workflow.execute_activity_method(
            SipDocumentActivities.patch_sip_document,
            patch,
            **ACS_STEP,
        )
        return self._last

    def _check_trunk_room(self, trunks: tuple[TrunkSpec, ...]) -> None:
        fqdns = set(self._last.trunks) | {t.fqdn for t in trunks}
        if len(fqdns) > MAX_TRUNKS:
            raise ValueError(f"the resource would have more than {MAX_TRUNKS} trunks")
