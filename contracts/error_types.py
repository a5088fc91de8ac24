"""``ApplicationError.type`` names: the vocabulary shared by activities, workflows and callers."""

from __future__ import annotations

__all__ = [
    "TRUNK_IN_USE",
    "ROUTE_SHADOWED",
    "ROUTE_NAME_TAKEN",
    "INVALID_SIP_REQUEST",
    "ACS_ERROR_TYPES",
    "ACS_NON_RETRYABLE",
    "APPROVAL_EXPIRED",
    "CALLBACK_FAILED",
    "CALLBACK_NOT_CONFIGURED",
    "CALLBACK_REFUSED",
    "CAPABILITY_UPDATE_FAILED",
    "CAPABILITY_UPDATE_IN_PROGRESS",
    "COMPENSATION_FAILED",
    "HOLD_EXPIRED",
    "OPERATION_PENDING",
    "OUT_OF_STOCK",
    "OVER_BUDGET",
    "PROVISIONING_FAILED",
    "PURCHASE_FAILED",
    "QUOTA_WAIT_EXPIRED",
    "REJECTED",
    "RELEASE_BLOCKED",
    "RELEASE_FAILED",
    "SIP_WRITE_FAILED",
    "SIP_WRITER_ELSEWHERE",
]

# One per acs.AcsError class; the activity layer is the only place that maps them.
ACS_TRANSPORT = "AcsTransportError"
ACS_THROTTLED = "AcsThrottledError"
ACS_SERVER = "AcsServerError"
ACS_AUTH = "AcsAuthError"
ACS_NOT_FOUND = "AcsNotFoundError"
ACS_CONFLICT = "AcsConflictError"
ACS_VALIDATION = "AcsValidationError"
ACS_OPERATION_FAILED = "AcsOperationFailedError"
ACS_PROTOCOL = "AcsProtocolError"
ACS_QUOTA_EXCEEDED = "AcsQuotaExceededError"
"""A tenant limit is spent: never retried at once (the window reopens in hours or days)."""
ACS_RELEASE_BY_SERVICE_DESK = "AcsReleaseByServiceDeskError"
"""The number's country releases only through Microsoft's service desk: a person must ask."""
ACS_ERROR_TYPES = (
    ACS_TRANSPORT,
    ACS_THROTTLED,
    ACS_SERVER,
    ACS_AUTH,
    ACS_NOT_FOUND,
    ACS_CONFLICT,
    ACS_VALIDATION,
    ACS_OPERATION_FAILED,
    ACS_PROTOCOL,
    ACS_QUOTA_EXCEEDED,
    ACS_RELEASE_BY_SERVICE_DESK,
)
ACS_RETRYABLE = (ACS_TRANSPORT, ACS_THROTTLED, ACS_SERVER)
ACS_NON_RETRYABLE = tuple(t for t in ACS_ERROR_TYPES if t not in ACS_RETRYABLE)

OPERATION_PENDING = "OperationPending"
"""Raised by the poll activity while an LRO runs; its retries are the polling loop."""
HOLD_EXPIRED = "HoldExpired"
"""The search or reservation lapsed before the purchase: acquire a new hold."""
OUT_OF_STOCK = "OutOfStock"
OVER_BUDGET = "OverBudget"
PURCHASE_FAILED = "PurchaseFailed"
CAPABILITY_UPDATE_FAILED = "CapabilityUpdateFailed"
APPROVAL_EXPIRED = "ApprovalExpired"
QUOTA_WAIT_EXPIRED = "QuotaWaitExpired"
"""The saga waited for ACS budget longer than its approval deadline: it ends ``expired``."""
REJECTED = "Rejected"
"""An approver rejected the held numbers: the saga compensates and ends ``rejected``."""
PROVISIONING_FAILED = "ProvisioningFailed"
COMPENSATION_FAILED = "CompensationFailed"
RELEASE_BLOCKED = "ReleaseBlocked"
"""ACS refused a release for now (409, another operation on the number runs): retried."""
RELEASE_BY_SERVICE_DESK = "ReleaseByServiceDesk"
"""The numbers' country releases only through Microsoft's service desk: a person must ask it,
then confirm (``numberflow confirm-released``); numberflow never calls the API for them."""
NUMBERS_NOT_IN_RESOURCE = "NumbersNotInResource"
"""Numbers a ticket names (source existing) that the ACS resource does not own."""
NUMBERS_NOT_DELIVERED = "NumbersNotDelivered"
"""A manual order's wait ended (its deadline) before any number was delivered."""

CALLBACK_FAILED = "CallbackFailed"
"""The receiver was unreachable or answered non-2xx: retried until the callback deadline."""
CALLBACK_NOT_CONFIGURED = "CallbackNotConfigured"
"""The worker has no callback secret: nothing can be signed, so nothing is sent."""
CALLBACK_REFUSED = "CallbackRefused"
"""The URL or its resolved address is outside the callback allow-list: never retried."""
CAPABILITY_UPDATE_IN_PROGRESS = "CapabilityUpdateInProgress"
"""An update started by an earlier attempt still runs: retried, the activity waits it out."""
RELEASE_FAILED = "ReleaseFailed"
"""ACS reported a number's release operation failed."""
SIP_WRITE_FAILED = "SipWriteFailed"
"""The SIP writer could not read or write the document (ACS down or slow): the asker retries."""
SIP_WRITER_ELSEWHERE = "SipWriterElsewhere"
"""The resource's SIP writer runs on another task queue than this worker's: nothing here would
ever serve it, so the request is refused instead of waiting forever (a deployment error)."""

# The SIP writer's refusals: a request that cannot be written as asked.
ROUTE_SHADOWED = "RouteShadowed"
"""The asked position is after a route that would take the numbers' calls."""
ROUTE_NAME_TAKEN = "RouteNameTaken"
"""The route name belongs to another ticket, or to a route numberflow did not write."""
INVALID_SIP_REQUEST = "InvalidSipRequest"
"""The request breaks a rule of the document (too many routes or trunks, a bad pattern)."""
NUMBER_CLAIMED = "NumberClaimed"
"""A number another ticket owns in the ledger: claimed by nobody else until it gives it back."""
TRUNK_IN_USE = "TrunkInUse"
"""A trunk a route still uses cannot be removed."""
