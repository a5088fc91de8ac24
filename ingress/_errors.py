"""One JSON error shape for every failure: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def problem(status: int, code: str, message: str) -> JSONResponse:
    """The error response."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette calls this outside the middleware stack: the request id is passed by hand.
        request_id = request_id_of(request.scope) or "-"
        log.error("unhandled error", path=request.url.path, request_id=request_id, exc_info=exc)
        answer = problem(
            500, "InternalError", f"internal error; the ingress logs have request {request_id}"
        )
        answer.headers[REQUEST_ID_HEADER] = request_id
        return answer
