"""One JSON error shape for every failure: ``{"error": {"code": ..., "message": ...}}``.

Temporal being briefly unreachable (a restart, a network blip) is an expected condition, not
a bug: the caller gets ``503`` with ``Retry-After`` and the log one WARNING line, no traceback.
Only what nobody expected is a ``500`` with its traceback at ERROR.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from connection import RETRY_AFTER_OUTAGE, outage_reason
from contracts.problems import first_problem

from ._request_ids import REQUEST_ID_HEADER, request_id_of

__all__ = ["ApiProblem", "install_error_handlers", "problem"]

log = structlog.get_logger("numberflow.ingress")


class ApiProblem(Exception):
    """An answer other than success, with a stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error response."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to the shape; never send a stack trace."""

    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "InvalidRequest", first_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "HttpError", str(exc.detail))

    # Registered by class (not under ``Exception``): these handlers run inside the middleware
    # stack, and Starlette re-raises what reaches the ``Exception`` handler to the server,
    # which would log the traceback again.
    @app.exception_handler(RPCError)
    @app.exception_handler(RPCTimeoutOrCancelledError)
    async def _temporal(request: Request, exc: Exception) -> JSONResponse:
        reason = outage_reason(exc)
        if reason is None:
            return _internal_error(request, exc)
        log.warning(
            "temporal unavailable",
            path=request.url.path,
            request_id=request_id_of(request.scope) or "-",
            reason=reason,
            retry_after_seconds=RETRY_AFTER_OUTAGE,
        )
        return problem(
            503,
            "TemporalUnavailable",
            f"{reason}; retry in {RETRY_AFTER_OUTAGE} s",
            {"Retry-After": str(RETRY_AFTER_OUTAGE)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged at ERROR with its traceback, answered 500 with the request id to quote."""
    # Starlette may call this outside the middleware stack: the request id is passed by hand.
    request_id = request_id_of(request.scope) or "-"
    log.error("unhandled error", path=request.url.path, request_id=request_id, exc_info=exc)
    answer = problem(
        500, "InternalError", f"internal error; the ingress logs have request {request_id}"
    )
    answer.headers[REQUEST_ID_HEADER] = request_id
    return answer
