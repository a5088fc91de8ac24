"""Names of numberflow's own metrics, defined once (workflows, activities, dashboards, tests).

Recorded through the Temporal SDK's meters, so they are served with the SDK's metrics by the
worker's Prometheus endpoint. Labels never carry a phone number or a secret.
"""

from __future__ import annotations

__all__ = [
    "ACS_LRO_POLLS",
    "ACS_REQUESTS",
    "ACS_REQUEST_SECONDS",
    "ACS_RETRY_AFTER_SECONDS",
    "ACS_THROTTLED",
    "COMPENSATIONS",
    "COMPENSATION_FAILED",
    "MONTHLY_COST_COMMITTED",
    "NEEDS_ATTENTION",
    "NUMBERS_PURCHASED",
    "NUMBERS_RELEASED",
    "PROVISIONINGS_ENDED",
    "PROVISIONINGS_IN_STAGE",
    "PROVISIONINGS_STARTED",
    "QUOTA_REFUSED",
    "QUOTA_REMAINING",
    "QUOTA_WAITING",
    "STAGE_SECONDS",
]

PROVISIONINGS_STARTED = "numberflow_provisionings_started"
PROVISIONINGS_ENDED = "numberflow_provisionings_ended"
"""Label ``outcome``: completed, completed_with_skips, rejected, expired, cancelled, failed."""
PROVISIONINGS_IN_STAGE = "numberflow_provisionings_in_stage"
"""Gauge; label ``stage`` (awaiting_quota, awaiting_approval, needs_attention): running sagas
there now, as Temporal's visibility counts them (every worker reports the same figure: take
``max``)."""
NUMBERS_PURCHASED = "numberflow_numbers_purchased"
NUMBERS_RELEASED = "numberflow_numbers_released"
"""Numbers ACS confirmed released: compensations, ticket releases and orphan clean-ups."""
MONTHLY_COST_COMMITTED = "numberflow_monthly_cost_committed_cents"
"""Label ``currency``: the monthly cost of completed provisionings, in hundredths."""
NEEDS_ATTENTION = "numberflow_needs_attention"
"""Labels ``step`` and ``error_code``: a saga parked for an operator."""
COMPENSATIONS = "numberflow_compensations"
"""Labels ``step`` (hold, numbers, route) and ``result`` (succeeded, failed): undo steps run."""
COMPENSATION_FAILED = "numberflow_compensation_failed"
"""Sagas that ended ``compensation_failed``: work is left for an operator."""
STAGE_SECONDS = "numberflow_stage_duration"
"""Histogram; label ``stage``: time spent in a stage (``awaiting_approval`` is the human)."""
ACS_REQUESTS = "numberflow_acs_requests"
"""Labels ``operation`` (method and path template, no number) and ``status_class`` (2xx...)."""
ACS_REQUEST_SECONDS = "numberflow_acs_request_duration"
ACS_THROTTLED = "numberflow_acs_throttled"
"""Label ``operation``: answers 429 (too many requests)."""
ACS_RETRY_AFTER_SECONDS = "numberflow_acs_retry_after"
"""Histogram; label ``operation``: the wait a throttled answer asked for."""
ACS_LRO_POLLS = "numberflow_acs_lro_polls"
"""Label ``operation``: the long-running operation's kind (search, purchase, release...)."""
QUOTA_WAITING = "numberflow_quota_waiting"
"""Gauge; labels ``kind`` (searches, purchases) and ``resource``: sagas waiting for ACS budget."""
QUOTA_REMAINING = "numberflow_quota_remaining"
"""Gauge; labels ``kind`` and ``resource``: requests the tenant's window has room for (-1: no
limit set)."""
QUOTA_REFUSED = "numberflow_quota_refused"
"""Labels ``kind`` and ``resource``: requests ACS refused for a tenant limit (the keeper's count
was behind the service's: another user of the tenant, or a limit set too high)."""
