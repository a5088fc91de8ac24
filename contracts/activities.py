"""Inputs and results of the activities (one model each way, so fields can be added)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from .provision import Capabilities, HoldStrategy, ProvisionRequest, Stage, TrunkSpec

__all__ = [
    "AttachRouteInput",
    "CallbackInput",
    "CapabilityBatchInput",
    "CapabilityBatchResult",
    "CapabilityFailure",
    "CapabilityUpdateInput",
    "DetachRouteInput",
    "HoldInput",
    "HoldResult",
    "LroHandle",
    "LroOutcome",
    "OwnedNumbers",
    "PurchaseInput",
    "ReleaseHoldInput",
    "NumberOnRecord",
    "NumbersInspection",
    "ReleaseNumbersInput",
    "ReleaseNumbersResult",
    "RouteResult",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class HoldInput(_Model):
    """Acquire a hold: the request, and the hold id when the workflow chooses it."""

    request: ProvisionRequest
    hold_id: str
    """Reservation UUID from ``workflow.uuid4()``; ignored for searches (the service names them)."""
    browses: int | None = None
    """At most this many browses (each is one of the tenant's limited searches), counted
    across the activity's attempts; ``None``: as many as filling the reservation takes."""


class HoldResult(_Model):
    """Numbers held, their monthly cost and how long the hold lasts."""

    strategy: HoldStrategy
    hold_id: str
    numbers: tuple[str, ...]
    monthly_cost: Decimal
    currency: str
    expires_at: datetime | None
    no_resell_required: bool = False
    browses_left: bool = False
    """The reservation is short of the quantity only because ``browses`` ran out: browsing
    still offered numbers, so another browse may top it up."""


class ReleaseHoldInput(_Model):
    """Let a hold go (idempotent; a hold that is gone or was bought is fine)."""

    strategy: HoldStrategy
    hold_id: str


class LroHandle(_Model):
    """A started ACS operation; ``None``-equivalent: ``done=True`` when nothing had to start."""

    operation_id: str | None = None
    operation_location: str | None = None
    kind: str
    resource_id: str | None = None
    location: str | None = None
    done: bool = False


class LroOutcome(_Model):
    """How an operation ended."""

    succeeded: bool
    error_code: str | None = None
    error_message: str | None = None


class PurchaseInput(_Model):
    """Buy what a hold holds."""

    strategy: HoldStrategy
    hold_id: str
    numbers: tuple[str, ...]
    agree_to_not_resell: bool


class CapabilityUpdateInput(_Model):
    """Set one number's capabilities."""

    phone_number: str
    capabilities: Capabilities


class CapabilityBatchInput(_Model):
    """Set many numbers' capabilities in one activity (a large ticket's history stays small)."""

    phone_numbers: tuple[str, ...]
    capabilities: Capabilities


class CapabilityFailure(_Model):
    """A number whose capability update ACS refused or failed."""

    phone_number: str
    error_code: str
    error_message: str | None = None


class CapabilityBatchResult(_Model):
    """Every number of the batch has the capabilities, except these."""

    failures: tuple[CapabilityFailure, ...] = ()


class ReleaseNumbersInput(_Model):
    """Release numbers this saga bought (those not owned any more are skipped)."""

    numbers: tuple[str, ...]
    purchased_at: dict[str, datetime] | None = None
    """When given, only a number that still carries this purchase date is released. A retried
    release (its worker died after ACS released) must not release the number again once
    another ticket has bought it: that purchase has another date."""


class OwnedNumbers(_Model):
    """Which of some numbers the resource owns now, with the purchase date ACS recorded."""

    purchased_at: dict[str, datetime]


class ReleaseNumbersResult(_Model):
    """Release operations started, and numbers that were already gone."""

    started: tuple[LroHandle, ...]
    already_gone: tuple[str, ...]
    by_service_desk: tuple[str, ...] = ()
    """Not released: their country releases only through Microsoft's service desk (by
    configuration, or ACS said so); a person must ask it, and confirm."""


class NumberOnRecord(_Model):
    """A number the resource owns, as ACS records it: what a claim checks and remembers."""

    phone_number: str
    capabilities: Capabilities
    monthly_cost: Decimal
    currency: str


class NumbersInspection(_Model):
    """Which of the named numbers the resource owns (with their records), and which it does not."""

    owned: tuple[NumberOnRecord, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def monthly_cost(self) -> Decimal:
        """What the owned numbers cost per month together (what an approver is shown)."""
        return sum((n.monthly_cost for n in self.owned), Decimal(0))

    @property
    def currency(self) -> str | None:
        """The owned numbers' currency (one resource bills in one)."""
        return self.owned[0].currency if self.owned else None


class AttachRouteInput(_Model):
    """Route calls for ``numbers`` to ``trunks`` under ``route_name``."""

    ticket_id: str
    route_name: str
    numbers: tuple[str, ...]
    trunks: tuple[TrunkSpec, ...]


class DetachRouteInput(_Model):
    """Remove the ticket's route, then the trunks it added that no route uses any more."""

    ticket_id: str
    route_name: str
    trunks_added: tuple[str, ...] = ()


class RouteResult(_Model):
    """The route as written, and the trunks this call had to add."""

    route_name: str
    number_pattern: str
    trunks_added: tuple[str, ...]
    parts: tuple[str, ...] = ()
    """Every route of a ticket too large for one pattern (``<route>``, ``<route>-part2``...)."""


class CallbackInput(_Model):
    """One stage change to tell the ticket system about (the URL is not sent in the body)."""

    url: str
    ticket_id: str
    stage: Stage
    at: datetime
    outcome: Stage | None = None
    note: str | None = None
