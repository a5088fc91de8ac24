"""The SIP writer's pure parts: where a route goes, what a batch writes, how answers read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from contracts.error_types import INVALID_SIP_REQUEST, SIP_WRITE_FAILED
    from contracts.problems import first_problem
    from contracts.sip import AttachRouteRequest, RouteSpec, SipAnswer, SipDocument, route_parts

__all__ = [
    "BatchPlan",
    "failed_answer",
    "placement_index",
    "refused_not_failed",
    "route_wire",
    "routes_for",
]


def placement_index(routes: tuple[RouteSpec, ...], numbers: tuple[str, ...]) -> int:
    """Before the first route that would take any of these numbers (first match wins)."""
    for index, route in enumerate(routes):
        if any(re.match(route.number_pattern, n) for n in numbers):
            return index
    return len(routes)


def routes_for(request: AttachRouteRequest) -> tuple[RouteSpec, ...]:
    """The routes this request writes; raises ValueError when ACS would refuse one."""
    try:
        return tuple(
            RouteSpec(
                name=name,
                number_pattern=pattern,
                trunks=tuple(t.fqdn for t in request.trunks),
                description=f"numberflow ticket {request.ticket_id}",
            )
            for name, pattern in route_parts(request.route_name, request.numbers)
        )
    except ValidationError as error:
        raise ValueError(
            f"route {request.route_name!r} for {len(request.numbers)} numbers: "
            f"{first_problem(error, located=False)}"
        ) from None


class BatchPlan:
    """The document as one batch changes it, before the single PATCH that writes it."""

    def __init__(self, document: SipDocument) -> None:
        self.routes: tuple[RouteSpec, ...] = document.routes
        self.trunks: dict[str, int] = dict(document.trunks)
        self.added_trunks: dict[str, dict[str, int]] = {}
        self.trunks_to_drop: set[str] = set()

    def document(self) -> SipDocument:
        """The routes and trunks as planned so far (for the ownership checks)."""
        return SipDocument(trunks=self.trunks, routes=self.routes)


def failed_answer(error: ActivityError) -> SipAnswer:
    """The answer for a request whose read or write failed: ACS's error, retryable or not."""
    cause = error.cause
    permanent = error.retry_state is RetryState.NON_RETRYABLE_FAILURE
    if isinstance(cause, ApplicationError):
        return SipAnswer(
            task_token="",
            error_type=cause.type,
            error_message=cause.message,
            error_details=tuple(cause.details),
            retryable=not permanent,
        )
    return SipAnswer(
        task_token="",
        error_type=SIP_WRITE_FAILED,
        error_message=f"the SIP document could not be written: {cause or error}",
        retryable=not permanent,
    )


@contextmanager
def refused_not_failed() -> Iterator[None]:
    """In a handler, a request that fails a check is a refused Update, never a failed task.

    Validators run only when an Update is first delivered, not on replay, and the document
    may have changed between validation and the handler; so the checks are made again in
    the handler, and there they must fail the one Update, not the writer for every ticket.
    Pydantic's ``ValidationError`` is a ``ValueError`` too.
    """
    try:
        yield
    except ValueError as error:
        raise ApplicationError(str(error), type=INVALID_SIP_REQUEST, non_retryable=True) from None


def route_wire(route: RouteSpec) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "name": route.name,
        "numberPattern": route.number_pattern,
        "trunks": list(route.trunks),
    }
    if route.description:
        wire["description"] = route.description
    return wire
