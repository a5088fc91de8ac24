"""Errors the emulator answers with, in the service's ``{"error": {...}}`` envelope."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "sip_config_error"]


class ApiError(Exception):
    """An error response: HTTP status plus the envelope's fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        inner_code: str | None = None,
        inner_message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.inner_code = inner_code
        self.inner_message = inner_message
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.inner_code is not None:
            error["innererror"] = {"code": self.inner_code, "message": self.inner_message or ""}
        return {"error": error}


def sip_config_error(inner_code: str, inner_message: str, *, status: int = 422) -> ApiError:
    """A SIP validation failure: fixed outer code and message, the specifics inside."""
    return ApiError(
        status,
        "UnprocessableConfiguration",
        "One or more request inputs are not valid.",
        inner_code=inner_code,
        inner_message=inner_message,
        headers={"x-ms-error-code": "UnprocessableConfiguration"},
    )
