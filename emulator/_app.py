"""The emulator's ASGI application: auth, api-version, faults, then the state machines."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
import uuid
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ._clock import Clock, format_time
from ._config import EmulatorConfig
from ._errors import ApiError
from ._faults import FaultBook
from ._hmac import verify_request
from ._limits import SEARCHES
from ._numbers import PhoneNumbersState
from ._reply import Reply
from ._routes import ROUTES, Call, Route
from ._sip import PREVIEW_VERSION, SipState

__all__ = ["ConnectionDropped", "Emulator", "EmulatorApp", "create_app"]

_ADMIN = "/_emulator/"
_JSON = "application/json; charset=utf-8"


_SEARCHES = frozenset(
    {"PhoneNumbers_SearchAvailablePhoneNumbers", "PhoneNumbers_BrowseAvailableNumbers"}
)
"""Requests that look for numbers to buy: each spends the tenant's search limit."""


class ConnectionDropped(Exception):  # noqa: N818 - it is an event, not an error of the app
    """Raised after a partial answer so the server closes the connection (a ``drop`` fault)."""


class Emulator:
    """Everything one emulated ACS resource holds; the admin API resets and inspects it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.faults = FaultBook(config.seed)
        self.reset()

    def reset(self) -> None:
        """Back to the seeded inventory, an empty SIP document, real time and no faults."""
        self.numbers = PhoneNumbersState(self.config)
        self.sip = SipState(self.config.verified_domains)
        self.request_counts: Counter[str] = Counter()
        self.clock.reset()
        self.faults.clear()

    def state(self) -> dict[str, Any]:
        """A snapshot for tests and operators."""
        now = self.clock.now()
        self.numbers.settle(now)
        return {
            "now": format_time(now),
            "phoneNumbers": self.numbers.snapshot(),
            "sip": self.sip.get(PREVIEW_VERSION),
            "limits": self.numbers.limits.to_wire(now),
            "requestCounts": dict(self.request_counts),
            "faults": [rule.to_wire() for rule in self.faults.rules],
        }


class EmulatorApp:
    """ASGI callable; ``.emulator`` gives in-process tests direct access to the state."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.emulator = Emulator(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # pragma: no cover - websockets are not served
            return
        request = Request(scope, receive)
        body = await request.body()
        started = time.perf_counter()
        if scope["path"].startswith(_ADMIN):
            reply = self._admin(request, body)
            versions: tuple[str, ...] = ()
        else:
            route, params = _match(scope["method"], scope["path"])
            versions = route.versions if route else ()
            try:
                reply = await self._serve(request, body, route, params, send)
            except ConnectionDropped:
                raise
            except ApiError as error:
                reply = Reply(error.status, error.envelope(), error.headers)
        await _send_reply(send, reply, versions, time.perf_counter() - started)

    async def _serve(
        self, request: Request, body: bytes, route: Route | None, params: dict[str, str], send: Send
    ) -> Reply:
        em = self.emulator
        scope = request.scope
        if route is None:
            if params:
                raise ApiError(405, "MethodNotAllowed", f"{scope['method']} is not allowed here.")
            raise ApiError(404, "NotFound", "The requested resource does not exist.")
        em.request_counts[route.operation] += 1
        query = dict(request.query_params)
        api_version = _check_api_version(query.get("api-version"), route)
        if em.config.require_auth:
            raw_query = scope.get("query_string", b"").decode("latin-1")
            target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            verify_request(
                method=scope["method"],
                target=target + (f"?{raw_query}" if raw_query else ""),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                access_key=em.config.access_key,
                bearer_tokens=em.config.bearer_tokens,
                skew_seconds=em.config.clock_skew_seconds,
            )
        kind = route.lro_kind or (params["oid"].split("_")[0] if "oid" in params else None)
        verdict = em.faults.decide(
            scope["method"], scope["path"], route.operation, kind, route.lro_kind is not None
        )
        if verdict.latency:
            await asyncio.sleep(verdict.latency)
        if verdict.drop == "before":
            await _drop(send)
        if verdict.error is not None:
            raise verdict.error
        if scope["method"] == "PATCH" and not request.headers.get("content-type", "").startswith(
            "application/merge-patch+json"
        ):
            raise ApiError(415, "UnsupportedMediaType", "Unsupported Media Type.")
        now = em.clock.now()
        em.numbers.settle(now)
        if route.operation in _SEARCHES:
            em.numbers.limits.spend(SEARCHES, now)
        call = Call(
            em.numbers,
            em.sip,
            scope["path"],
            params,
            query,
            _parse_json(body),
            api_version,
            now,
            verdict.lro,
            em.config.lro_retry_after,
        )
        reply = route.handler(call)
        if verdict.drop == "after":
            await _drop(send)
        return reply

    def _admin(self, request: Request, body: bytes) -> Reply:
        em = self.emulator
        client = request.scope.get("client")
        if client and not _is_loopback(client[0]):
            return Reply(
                403, {"error": {"code": "Forbidden", "message": "Admin API is loopback-only."}}
            )
        path = request.scope["path"][len(_ADMIN) :].rstrip("/")
        method = request.scope["method"]
        try:
            data = _parse_json(body)
            if (method, path) == ("POST", "reset"):
                em.reset()
                return Reply(200, {"reset": True})
            if (method, path) == ("GET", "state"):
                return Reply(200, em.state())
            if (method, path) == ("POST", "clock/advance"):
                seconds = data.get("seconds") if isinstance(data, dict) else None
                if not isinstance(seconds, int | float) or seconds < 0:
                    raise ApiError(400, "InvalidInput", 'Give {"seconds": N} with N >= 0.')
                now = em.clock.advance(float(seconds))
                em.numbers.settle(now)
                return Reply(200, {"now": format_time(now)})
            if (method, path) == ("POST", "faults"):
                return Reply(201, em.faults.add(data).to_wire())
            if (method, path) == ("GET", "faults"):
                return Reply(200, {"faults": [r.to_wire() for r in em.faults.rules]})
            if (method, path) == ("DELETE", "faults"):
                em.faults.clear()
                return Reply(204)
            if (method, path) == ("GET", "limits"):
                return Reply(200, em.numbers.limits.to_wire(em.clock.now()))
            if (method, path) == ("POST", "limits"):
                em.numbers.limits.grant(data, em.clock.now())  # a support request granted
                return Reply(200, em.numbers.limits.to_wire(em.clock.now()))
            if (method, path) == ("POST", "reservations"):
                # a reservation the resource already has (one made before the emulator started)
                reservation_id = data.get("id") if isinstance(data, dict) else None
                if not isinstance(reservation_id, str):
                    raise ApiError(400, "InvalidInput", 'Give {"id": "<uuid>"}.')
                return em.numbers.upsert_reservation(reservation_id, {}, em.clock.now())
            if (method, path) == ("POST", "sip/domains"):
                return Reply(201, em.sip.verify_domain(data))
            if (method, path) == ("POST", "numbers/onboard"):  # a port-in or special order
                em.numbers.settle(em.clock.now())
                return Reply(201, em.numbers.onboard(data, em.clock.now()))
            if (method, path) == ("POST", "numbers/purchase"):
                number = data.get("phoneNumber") if isinstance(data, dict) else None
                if not isinstance(number, str):
                    raise ApiError(400, "InvalidInput", 'Give {"phoneNumber": "+1..."}.')
                em.numbers.settle(em.clock.now())
                return Reply(201, em.numbers.force_purchase(number, em.clock.now()))
        except ApiError as error:
            return Reply(error.status, error.envelope())
        return Reply(
            404, {"error": {"code": "NotFound", "message": f"No admin endpoint {method} {path}."}}
        )


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """Build the emulator ASGI app."""
    return EmulatorApp(config or EmulatorConfig())


def _match(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    path_matched = False
    for route in ROUTES:
        match = route.pattern.match(path)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict()
        path_matched = True
    return None, {"": ""} if path_matched else {}


def _check_api_version(version: str | None, route: Route) -> str:
    if not version:
        raise ApiError(
            400, "MissingApiVersionParameter", "The api-version query parameter is required."
        )
    if version not in route.versions:
        raise ApiError(
            400,
            "UnsupportedApiVersion",
            f"The HTTP resource that matches the request URI does not support the API version '{version}'.",
        )
    return version


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "InvalidInput", "The request body is not valid JSON.") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


async def _drop(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"trunc', "more_body": True})
    raise ConnectionDropped("fault injected: connection dropped")


async def _send_reply(send: Send, reply: Reply, versions: tuple[str, ...], elapsed: float) -> None:
    content = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
    headers = {
        "MS-CV": uuid.uuid4().hex[:22],
        "X-Processing-Time": f"{int(elapsed * 1000)}ms",
        "Content-Length": str(len(content)),
        **reply.headers,
    }
    if content:
        headers["Content-Type"] = _JSON if reply.status < 400 else "application/json"
    if versions:
        headers["api-supported-versions"] = ", ".join(versions)
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
