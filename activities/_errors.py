"""The single place where ``acs.AcsError`` becomes a Temporal ``ApplicationError``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from acs import AcsError

__all__ = ["acs_errors_as_application_errors", "to_application_error"]


def to_application_error(error: AcsError) -> ApplicationError:
    """Keep the class name as the type, the ACS codes as details, and the retry decision.

    ``Retry-After`` from the service becomes the next retry delay, so Temporal's backoff
    waits as long as the service asked.
    """
    code = error.inner_code or error.code
    # SIP validation says what is wrong in the inner message ("Missing Domain for coresponding
    # Trunk"); the outer one is generic ("One or more request inputs are not valid.").
    message = error.inner_message or error.message
    return ApplicationError(
        f"{code}: {message}" if code and code not in message else message,
        {
            "code": error.code,
            "inner_code": error.inner_code,
            "inner_message": error.inner_message,
            "status": error.status_code,
            "target": error.target,
            "retry_after": error.retry_after,
            **error.support_ids(),
        },
        type=type(error).__name__,
        non_retryable=not error.retryable,
        next_retry_delay=timedelta(seconds=error.retry_after) if error.retry_after else None,
    )


@contextmanager
def acs_errors_as_application_errors() -> Iterator[None]:
    """Translate any ``AcsError`` raised inside the block."""
    try:
        yield
    except AcsError as error:
        raise to_application_error(error) from error
