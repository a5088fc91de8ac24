"""Names of numberflow's own metrics, defined once (workflows, activities, dashboards, tests).

Recorded through the Temporal SDK's meters, so they are served with the SDK's metrics by the
worker's Prometheus endpoint. Labels never carry a phone number or a secret.
"""

from __future__ import annotations

__all__ = [
    "ACS_REQUESTS",
    "ACS_REQUEST_SECONDS",
    "COMPENSATIONS_FAILED",
    "MONTHLY_COST_COMMITTED",
    "NEEDS_ATTENTION",
    "NUMBERS_PURCHASED",
    "PROVISIONINGS_ENDED",
    "PROVISIONINGS_STARTED",
    "STAGE_SECONDS",
]

PROVISIONINGS_STARTED = "numberflow_provisionings_started"
PROVISIONINGS_ENDED = "numberflow_provisionings_ended"
"""Label ``outcome``: completed, completed_with_skips, rejected, expired, cancelled, failed."""
NUMBERS_PURCHASED = "numberflow_numbers_purchased"
MONTHLY_COST_COMMITTED = "numberflow_monthly_cost_committed_cents"
"""Label ``currency``: the monthly cost of completed provisionings, in hundredths."""
NEEDS_ATTENTION = "numberflow_needs_attention"
"""Labels ``step`` and ``error_code``: a saga parked for an operator."""
COMPENSATIONS_FAILED = "numberflow_compensations_failed"
STAGE_SECONDS = "numberflow_stage_duration"
"""Histogram; label ``stage``: time spent in a stage (``awaiting_approval`` is the human)."""
ACS_REQUESTS = "numberflow_acs_requests"
"""Labels ``operation`` (method and path template, no number) and ``status_class`` (2xx...)."""
ACS_REQUEST_SECONDS = "numberflow_acs_request_duration"
