"""Timeouts and retry policies of the saga's activity calls, named once."""

from __future__ import annotations

from datetime import timedelta
from typing import Unpack

from temporalio import workflow
from temporalio.common import RetryPolicy

from contracts.error_types import (
    ACS_NON_RETRYABLE,
    CALLBACK_NOT_CONFIGURED,
    CALLBACK_REFUSED,
    HOLD_EXPIRED,
)

__all__ = [
    "adjusted",
    "UNDO_STEP",
    "SIDE_EFFECT_STEP",
    "RELEASE_STEP",
    "POLL_STEP",
    "HEARTBEAT",
    "CALLBACK_STEP",
    "ACS_STEP",
    "ACS_CALL",
    "ACS_CALL_TIMEOUT",
    "ANSWER",
    "CALLBACK",
    "CALLBACK_DEADLINE",
    "COMPENSATION",
    "COMPENSATION_TIMEOUT",
    "CONFIGURE_BATCH",
    "CONFIGURE_CONCURRENCY",
    "HOLD_MARGIN",
    "LISTING",
    "LISTING_STEP",
    "LRO_DEADLINE",
    "MAX_HOLD_RENEWALS",
    "POLL",
    "REMINDER_BEFORE",
]

ACS_CALL_TIMEOUT = timedelta(seconds=20)
"""One ACS request, plus the client's own GET retries; short so a dead worker is noticed."""

ACS_CALL = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
    non_retryable_error_types=[*ACS_NON_RETRYABLE, HOLD_EXPIRED],
)
"""Forward ACS steps: transient failures (429, 5xx, transport) retry with backoff; the rest
fail the step at once."""

POLL = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=2),
    non_retryable_error_types=list(ACS_NON_RETRYABLE),
)
"""LRO polls: the retries are the polling loop; ``LRO_DEADLINE`` bounds it. Each pending poll
sets its own next delay (``acs.POLL_SCHEDULE``'s grid, or the service's ``Retry-After``); these
intervals apply only after a failed poll (ACS unreachable, 5xx)."""

ANSWER = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
"""The SIP writer completing its askers: only Temporal is involved, so retry until it answers."""

LRO_DEADLINE = timedelta(minutes=30)
"""How long the saga waits for one ACS long-running operation before failing the step."""

COMPENSATION_TIMEOUT = timedelta(minutes=10)
COMPENSATION = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=12,
    non_retryable_error_types=list(ACS_NON_RETRYABLE),
)
"""Compensations are idempotent and retried for a while; then an operator is told exactly what
is left (``compensation_failed``) rather than retrying forever in silence."""

CALLBACK_DEADLINE = timedelta(hours=1)
"""How long one callback is retried, and how long a finished run waits for its callbacks."""
CALLBACK = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[CALLBACK_NOT_CONFIGURED, CALLBACK_REFUSED],
)
"""Callbacks: a receiver that is down is retried with backoff until the deadline."""

HOLD_MARGIN = timedelta(minutes=1)
"""A hold this close to expiry is treated as lapsed: the purchase would race the expiry."""

MAX_HOLD_RENEWALS = 3
"""New holds taken in a row because the previous one lapsed, before the saga gives up."""

CONFIGURE_CONCURRENCY = 5
"""Capability updates in flight at once for one saga."""
CONFIGURE_BATCH = 100
"""Numbers one capability activity updates: 1,000 numbers are ten activities."""

REMINDER_BEFORE = timedelta(days=1)
"""A parked saga reminds the ticket system this long before its attention deadline (at most
half the deadline)."""

HEARTBEAT = timedelta(seconds=30)
"""Activities that work through many numbers heartbeat; a dead worker is noticed this soon."""

# -- activity option bundles: how each kind of step is run, named once ----------------------


def adjusted(
    config: workflow.ActivityConfig, **changes: Unpack[workflow.ActivityConfig]
) -> workflow.ActivityConfig:
    """A bundle with some options changed (a longer timeout for a bigger step)."""
    merged = config.copy()
    merged.update(changes)
    return merged


ACS_STEP: workflow.ActivityConfig = {
    "start_to_close_timeout": ACS_CALL_TIMEOUT,
    "retry_policy": ACS_CALL,
}
"""A forward ACS request with nothing to undo if a cancel abandons it (a read, a record)."""

LISTING = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
    non_retryable_error_types=list(ACS_NON_RETRYABLE),
)
"""Reading a resource's whole inventory (reconcile): a few tries, then the run reports the
listing as incomplete instead of reading "missing" into what it could not list."""
LISTING_STEP: workflow.ActivityConfig = {
    "start_to_close_timeout": ACS_CALL_TIMEOUT * 3,
    "retry_policy": LISTING,
}
"""Options of the inventory listing."""

SIDE_EFFECT_STEP: workflow.ActivityConfig = {
    **ACS_STEP,
    "cancellation_type": workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
}
"""A forward ACS request that changes something: a cancel waits for it to finish, so the
compensation that follows knows what it did."""

POLL_STEP: workflow.ActivityConfig = {
    "start_to_close_timeout": ACS_CALL_TIMEOUT,
    "schedule_to_close_timeout": LRO_DEADLINE,
    "retry_policy": POLL,
}
"""Polling one long-running operation until it ends, at most ``LRO_DEADLINE``."""

UNDO_STEP: workflow.ActivityConfig = {
    "start_to_close_timeout": ACS_CALL_TIMEOUT,
    "retry_policy": COMPENSATION,
}
"""One request of a compensation."""

RELEASE_STEP: workflow.ActivityConfig = {
    "start_to_close_timeout": COMPENSATION_TIMEOUT,
    "heartbeat_timeout": HEARTBEAT,
    "retry_policy": COMPENSATION,
}
"""Releasing numbers: one release operation per number, waited for, heartbeating."""

CALLBACK_STEP: workflow.ActivityConfig = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": CALLBACK_DEADLINE,
    "retry_policy": CALLBACK,
}
"""One stage-change callback, retried until ``CALLBACK_DEADLINE``."""
