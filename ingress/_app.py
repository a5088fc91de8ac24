"""The ingress ASGI app: verify, validate, then start / update / cancel / query workflows.

No business logic lives here: every decision is the workflow's (its validators answer
approvals), the ingress only translates HTTP to Temporal calls and back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter, ValidationError
from temporalio.client import Client

from contracts.callback_hosts import NO_CALLBACKS, CallbackHosts, CallbackRefused
from contracts.ids import TICKET_ID_RULE, is_ticket_id, workflow_id_for
from contracts.problems import first_problem
from contracts.provision import Decision, DecisionKind, ProvisionStatus
from contracts.signing import SIGNATURE_HEADER, SignatureError, bearer_token_matches, verify
from contracts.task_queues import TASK_QUEUE
from contracts.ticket_mapping import JiraInbound, ServiceNowInbound
from contracts.tickets import (
    ApprovedEvent,
    CancelledEvent,
    CreatedEvent,
    InterventionRequestedEvent,
    NumbersDeliveredEvent,
    RejectedEvent,
    ReleaseConfirmedEvent,
    ReleaseRequestedEvent,
    TicketEvent,
)
from provisioning import (
    NoWorkerAnswered,
    ProvisioningNotFound,
    ProvisioningRefused,
    Release,
    cancel_provisioning,
    confirm_released,
    decide,
    deliver,
    intervene,
    read_status,
    start_provisioning,
    start_release,
)

from ._errors import ApiProblem, install_error_handlers, problem
from ._jira import jira_system
from ._metrics import instrument
from ._request_ids import RequestIdMiddleware
from ._servicenow import servicenow_system
from ._ticket_endpoints import ticket_system_endpoint
from ._ticket_systems import MappedEvent

__all__ = ["create_app"]

_EVENTS: TypeAdapter[Any] = TypeAdapter(TicketEvent)


_WEBHOOK_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TicketEvent"}}},
    },
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": 't=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">',
        }
    ],
}
_WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A redelivered created: the ticket's run, nothing started"},
    401: {"description": "Bad or missing signature"},
    404: {"description": "The ticket has no provisioning; nothing was started"},
    409: {"description": "Refused: the run has ended, or the decision cannot be taken"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid event"},
    503: {"description": "Temporal unavailable (see Retry-After), or no worker answered in time"},
}
_STATUS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or wrong bearer token"},
    404: {"description": "No provisioning for this ticket"},
    503: {"description": "Temporal unavailable (see Retry-After), or no worker answered in time"},
}


def create_app(
    client: Client,
    secrets: Sequence[str],
    *,
    status_tokens: Sequence[str] = (),
    callback_hosts: CallbackHosts = NO_CALLBACKS,
    task_queue: str = TASK_QUEUE,
    max_body_bytes: int = 64 * 1024,
    clock: Callable[[], float] = time.time,
    metrics_registry: CollectorRegistry | None = None,
    jira: JiraInbound | None = None,
    servicenow: ServiceNowInbound | None = None,
) -> FastAPI:
    """Build the ingress for one Temporal client and the current secrets.

    ``secrets`` verify webhook signatures; ``status_tokens`` are the bearer tokens that may
    read a provisioning's status (none: nobody may); ``callback_hosts`` is where a ticket's
    callback URL may point (none: tickets with a callback URL are refused). With ``jira`` or
    ``servicenow``, ``POST /v1/tickets/<system>`` takes that system's own events, translated
    by its mapping.
    """
    if not secrets:
        raise ValueError("at least one webhook secret is required")
    app = FastAPI(
        title="numberflow ingress",
        version="1",
        description="Ticket webhooks in, provisioning status out.",
    )
    install_error_handlers(app)
    if metrics_registry is not None:
        instrument(app, metrics_registry)
    app.add_middleware(RequestIdMiddleware)  # outside the metrics: their time is in its line

    async def ticket_webhook(request: Request) -> JSONResponse:
        body = await _bounded_body(request, max_body_bytes)
        try:
            verify(request.headers.get(SIGNATURE_HEADER), body, secrets, now=clock())
        except SignatureError as error:
            raise ApiProblem(401, "BadSignature", str(error)) from None
        try:
            event = _EVENTS.validate_json(body)
            request.state.event = event.event
        except ValidationError as error:
            raise ApiProblem(422, "InvalidEvent", first_problem(error)) from None
        return await _dispatch(client, task_queue, callback_hosts, event)

    app.post(
        "/webhooks/tickets",
        status_code=202,
        summary="Receive a signed ticket event",
        openapi_extra=_WEBHOOK_OPENAPI,
        responses=_WEBHOOK_RESPONSES,
    )(ticket_webhook)
    app.get(
        "/provisionings/{ticket_id}",
        response_model=ProvisionStatus,
        summary="A saga's status (Authorization: Bearer <status token>)",
        responses=_STATUS_RESPONSES,
    )(_status_reader(client, status_tokens))
    systems = [
        *([jira_system(jira)] if jira is not None else []),
        *([servicenow_system(servicenow)] if servicenow is not None else []),
    ]

    async def read_body(request: Request) -> bytes:
        return await _bounded_body(request, max_body_bytes)

    async def act(event: MappedEvent) -> JSONResponse:
        return await _dispatch(client, task_queue, callback_hosts, event)

    for system in systems:
        app.post(
            f"/v1/tickets/{system.name}",
            status_code=202,
            summary=f"Receive {system.name}'s own events (see the README)",
            responses=_TICKET_SYSTEM_RESPONSES,
        )(ticket_system_endpoint(system, read_body=read_body, act=act, clock=clock))
    _add_probes(app, client)
    _publish_event_schema(app)
    return app


_TICKET_SYSTEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A duplicate delivery, or an event that means nothing (with why)"},
    401: {"description": "Not authenticated or signed as configured, or an event too old"},
    409: {"description": "Refused (the reason)"},
    422: {"description": "Not JSON, or a number request whose fields make no valid request"},
    503: {"description": "Temporal unavailable (see Retry-After), or no worker answered"},
}


def _status_reader(
    client: Client, status_tokens: Sequence[str]
) -> Callable[[str, Request], Awaitable[JSONResponse]]:
    """``GET /provisionings/{ticket_id}``: the saga's status, for holders of a status token."""

    async def provisioning_status(ticket_id: str, request: Request) -> JSONResponse:
        if not status_tokens:
            raise ApiProblem(401, "Unauthorized", "status reads are disabled: no status tokens")
        if not bearer_token_matches(request.headers.get("authorization"), status_tokens):
            raise ApiProblem(401, "Unauthorized", "a valid bearer token is required")
        _check_ticket(ticket_id)
        try:
            status = await read_status(client, ticket_id)
        except ProvisioningNotFound as missing:
            raise ApiProblem(404, "NotFound", str(missing)) from None
        except NoWorkerAnswered as silent:
            raise ApiProblem(503, "NoWorker", str(silent)) from None
        return JSONResponse(status.model_dump(mode="json"))

    return provisioning_status


def _add_probes(app: FastAPI, client: Client) -> None:
    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Temporal is reachable")
    async def readyz() -> JSONResponse:
        try:
            await client.service_client.check_health()
        except Exception:  # noqa: BLE001 - any failure means not ready
            return problem(503, "NotReady", "Temporal is not reachable")
        return JSONResponse({"status": "ready"})


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, read while streaming and refused as soon as it passes ``limit`` bytes.

    A chunked upload has no Content-Length to check first; reading it whole before the size
    check let an unsigned sender make the process hold any amount of memory.
    """
    too_large = ApiProblem(413, "TooLarge", f"body over {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _check_ticket(ticket_id: str) -> None:
    if not is_ticket_id(ticket_id):
        raise ApiProblem(422, "InvalidRequest", f"ticket_id: {TICKET_ID_RULE}")


def _accepted(workflow_id: str, ticket_id: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"workflow_id": workflow_id, "status_url": f"/provisionings/{ticket_id}", **extra},
        status_code=202,
    )


async def _dispatch(
    client: Client, task_queue: str, callback_hosts: CallbackHosts, event: Any
) -> JSONResponse:
    """One handler per event kind; each answers with the run it started or decided."""
    match event:
        case CreatedEvent():
            return await _created(client, task_queue, callback_hosts, event)
        case ApprovedEvent():
            decision = Decision(
                decision=DecisionKind.APPROVED, approver=event.approver, note=event.comment
            )
            return await _decided(client, event.ticket_id, decision)
        case RejectedEvent():
            decision = Decision(
                decision=DecisionKind.REJECTED, approver=event.approver, note=event.reason
            )
            return await _decided(client, event.ticket_id, decision)
        case CancelledEvent():
            with _refusals_as_problems():
                await cancel_provisioning(client, event.ticket_id)
            return _accepted(workflow_id_for(event.ticket_id), event.ticket_id)
        case InterventionRequestedEvent():
            return await _intervened(client, event)
        case ReleaseRequestedEvent():
            by = event.by if event.release_numbers else None
            with _refusals_as_problems():
                release = await start_release(
                    client, event.ticket_id, task_queue, release_numbers_by=by
                )
            if release.finished_before is not None:
                return _already_released(release, event.ticket_id)
            return _accepted(release.handle.id, event.ticket_id)
        case NumbersDeliveredEvent():
            with _refusals_as_problems():
                record = await deliver(client, event.ticket_id, event.delivery())
            taken = record.model_dump(mode="json") if record is not None else None
            return _accepted(workflow_id_for(event.ticket_id), event.ticket_id, delivery=taken)
        case ReleaseConfirmedEvent():
            with _refusals_as_problems():
                confirmed = await confirm_released(client, event.ticket_id, event.confirmation())
            return _accepted(workflow_id_for(event.ticket_id), event.ticket_id, **vars(confirmed))
    raise AssertionError(f"no handler for {type(event).__name__}")  # the union is closed


async def _created(
    client: Client, task_queue: str, callback_hosts: CallbackHosts, event: CreatedEvent
) -> JSONResponse:
    ticket = event.request.ticket_id
    try:
        run = await start_provisioning(
            client, event.request, task_queue, callback_hosts=callback_hosts
        )
    except CallbackRefused as refusal:
        raise ApiProblem(422, "InvalidEvent", f"request.callback_url: {refusal}") from None
    if run.started:
        return _accepted(run.workflow_id, ticket, run_id=run.run_id)
    # A redelivery: answer with the run the ticket already has; nothing new starts.
    return _already_done(run.workflow_id, ticket, run.run_id, run.status, "already provisioned")


def _already_released(release: Release, ticket_id: str) -> JSONResponse:
    """A repeated release: the run that already released the ticket; nothing new starts."""
    assert release.finished_before is not None
    return _already_done(
        release.handle.id,
        ticket_id,
        release.handle.run_id,
        "COMPLETED",
        f"already released at {release.finished_before.isoformat(timespec='seconds')}",
    )


def _already_done(
    workflow_id: str, ticket_id: str, run_id: str | None, status: str, note: str
) -> JSONResponse:
    return JSONResponse(
        {
            "workflow_id": workflow_id,
            "status_url": f"/provisionings/{ticket_id}",
            "run_id": run_id,
            "status": status,
            "note": note,
        },
        status_code=200,
    )


async def _decided(client: Client, ticket_id: str, decision: Decision) -> JSONResponse:
    with _refusals_as_problems():
        await decide(client, ticket_id, decision)
    return _accepted(workflow_id_for(ticket_id), ticket_id)


async def _intervened(client: Client, event: InterventionRequestedEvent) -> JSONResponse:
    try:
        intervention = event.intervention()
    except ValidationError as error:
        raise ApiProblem(422, "InvalidEvent", first_problem(error, located=False)) from None
    with _refusals_as_problems():
        await intervene(client, event.ticket_id, intervention)
    return _accepted(workflow_id_for(event.ticket_id), event.ticket_id)


@contextlib.contextmanager
def _refusals_as_problems() -> Iterator[None]:
    """The answers of ``provisioning`` as HTTP: refused 409, unknown 404, no worker 503."""
    try:
        yield
    except ProvisioningRefused as refusal:
        raise ApiProblem(409, "Refused", str(refusal)) from None
    except ProvisioningNotFound as missing:
        raise ApiProblem(404, "NotFound", str(missing)) from None
    except NoWorkerAnswered as silent:
        raise ApiProblem(503, "NoWorker", str(silent)) from None


def _publish_event_schema(app: FastAPI) -> None:
    """Put the TicketEvent schema (and its parts) into the OpenAPI components."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        schema = _EVENTS.json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components["TicketEvent"] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
