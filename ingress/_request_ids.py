"""One id per request: bound to every log line it causes, echoed in ``X-Request-Id``.

A caller's own id (a proxy's or the ticket system's) is kept when it is short and plain, so
one id follows a delivery across systems; otherwise a fresh one is made. The request's one
access line is written here, with that id, its route and status, and how long it took.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "request_id_of"]

REQUEST_ID_HEADER = "X-Request-Id"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""What a caller's id may be: nothing that could forge a log field or a header."""

log = structlog.get_logger("numberflow.ingress")


def request_id_of(scope: Scope) -> str | None:
    """The id this middleware gave the request (for handlers outside its context)."""
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


class RequestIdMiddleware:
    """Pure ASGI, so the binding covers the endpoint and the body streaming alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = offered if _PLAIN_ID.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client sees if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        begun = time.monotonic()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = getattr(scope.get("route"), "path", None)
                log.info(
                    "request",
                    method=scope["method"],
                    route=route or scope["path"][:200],
                    status=status,
                    duration_ms=round((time.monotonic() - begun) * 1000, 1),
                )
