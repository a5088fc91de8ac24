"""One endpoint per ticket system, one pipeline for all of them.

Authenticate, deduplicate, check the event's age, translate by the mapping, then act as the
signed endpoint does.

Every answer is one a ticket system handles well: 401 for who may not call, 200 for a copy of
a delivery already acted on or an event that means nothing (so it is not retried), 422 for a
request that cannot be valid, and what the signed endpoint answers otherwise (503 when
Temporal is away, so it re-sends).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.problems import first_problem
from contracts.signing import SignatureError

from ._errors import ApiProblem
from ._ticket_systems import DeliveryLog, Ignored, MappedEvent

__all__ = ["TicketSystem", "ticket_system_endpoint"]

Handler = Callable[[Request], Awaitable[JSONResponse]]


@dataclass(frozen=True)
class TicketSystem:
    """What differs between ticket systems; the rest of the pipeline is the same."""

    name: str
    """The endpoint's last path segment: ``/v1/tickets/<name>``."""
    authenticate: Callable[[Request, bytes], None]
    """Raises ``SignatureError`` unless the request may act."""
    delivery_of: Callable[[Request, dict[str, Any]], str | None]
    """The id every retry of one delivery carries (a header, or a field of the body)."""
    translate: Callable[[dict[str, Any]], MappedEvent | Ignored]
    max_age_seconds: float


def ticket_system_endpoint(
    system: TicketSystem,
    *,
    read_body: Callable[[Request], Awaitable[bytes]],
    act: Callable[[MappedEvent], Awaitable[JSONResponse]],
    clock: Callable[[], float],
) -> Handler:
    """The handler of ``POST /v1/tickets/<system>``."""
    deliveries = DeliveryLog()

    async def receive(request: Request) -> JSONResponse:
        body = await read_body(request)
        try:
            system.authenticate(request, body)
        except SignatureError as error:
            raise ApiProblem(401, "BadSignature", str(error)) from None
        payload = _json_object(body)
        delivery = system.delivery_of(request, payload)
        if delivery is not None and delivery in deliveries:
            return JSONResponse({"duplicate": delivery}, status_code=200)
        _refuse_stale(payload, system.max_age_seconds, clock())
        try:
            event = system.translate(payload)
        except ValidationError as error:
            raise ApiProblem(422, "InvalidEvent", first_problem(error)) from None
        if isinstance(event, Ignored):
            answer = JSONResponse({"ignored": event.reason}, status_code=200)
        else:
            request.state.event = event.event
            answer = await act(event)
        if delivery is not None:
            deliveries.remember(delivery)
        return answer

    return receive


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise ApiProblem(422, "InvalidEvent", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise ApiProblem(422, "InvalidEvent", "the body is not a JSON object")
    return payload


def _refuse_stale(payload: dict[str, Any], max_age_seconds: float, now: float) -> None:
    """An event older than allowed (by its own ``timestamp``, ms) is a replay or far too late."""
    stamp = payload.get("timestamp")
    if not isinstance(stamp, int):
        raise ApiProblem(401, "BadSignature", "the event has no timestamp (milliseconds)")
    age = now - stamp / 1000
    if abs(age) > max_age_seconds:
        raise ApiProblem(
            401,
            "BadSignature",
            f"the event happened {age:.0f} s ago; more than {max_age_seconds:.0f} s either "
            "way is refused (a replay, or a clock far off)",
        )
