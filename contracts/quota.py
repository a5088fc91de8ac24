"""The tenant's budget of ACS searches and purchases: what the sagas and the keeper exchange.

Microsoft limits, per Azure tenant, how many searches (5 a week for a new tenant) and purchases
(1) may be made, raises them only by a support request, and counts every request against
them, refused or not. So numberflow keeps one budget per ACS resource, a workflow (the
*quota keeper*), and a saga asks it before each request that spends: one ask, one request.
The keeper answers every ask with ``admitted`` or ``queued`` (place and when room comes), by
signal, and admits the queue in arrival order as room comes (the window rolls, an operator
grants more, or a limit ACS taught it lifts).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .ids import resource_host

__all__ = [
    "QUOTA_ANSWER_SIGNAL",
    "QUOTA_ASK_SIGNAL",
    "QUOTA_MARGIN",
    "QUOTA_WITHDRAW_SIGNAL",
    "QuotaAnswer",
    "QuotaAsk",
    "QuotaGrant",
    "QuotaKeeperInput",
    "QuotaKeeperState",
    "QuotaKind",
    "QuotaLimits",
    "QuotaLine",
    "QuotaRefusal",
    "QuotaRequest",
    "QuotaSpend",
    "QuotaView",
    "QuotaWait",
    "QuotaWithdrawal",
    "quota_keeper_id",
]

QUOTA_ASK_SIGNAL = "ask"
"""Keeper's signal: a saga asks to spend one request (input: ``QuotaAsk``)."""
QUOTA_WITHDRAW_SIGNAL = "withdraw"
"""Keeper's signal: a saga that will not spend its ask (cancelled, rejected, expired)."""
QUOTA_ANSWER_SIGNAL = "quota-answer"
"""Saga's signal: the keeper's answer to an ask (input: ``QuotaAnswer``)."""
QUOTA_MARGIN = timedelta(minutes=5)
"""Added to when the window has room again: the keeper counts an ask when it admits it, ACS
when the request arrives a moment later, so the keeper waits a little longer than ACS."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuotaKind(StrEnum):
    """What a request spends: a search or browse, or a purchase."""

    SEARCHES = "searches"
    PURCHASES = "purchases"


class QuotaLimits(_Model):
    """Requests per kind allowed in a rolling window (``None``: no limit of that kind)."""

    searches: int | None = Field(None, ge=0)
    purchases: int | None = Field(None, ge=0)
    window: timedelta = timedelta(days=7)

    def of(self, kind: QuotaKind) -> int | None:
        """The limit of one kind."""
        return self.searches if kind is QuotaKind.SEARCHES else self.purchases

    @property
    def limited(self) -> bool:
        """Whether any limit is set at all."""
        return self.searches is not None or self.purchases is not None


class QuotaRefusal(_Model):
    """ACS refused the request an admitted ask made, for a limit, asking to wait this long."""

    ask_id: str
    retry_after: timedelta


class QuotaRequest(_Model):
    """What a saga asks for: one request of ``kind`` (the activity adds who and the limits)."""

    ask_id: str
    ticket_id: str
    kind: QuotaKind
    refused: QuotaRefusal | None = None
    """The saga's previous admitted ask of this kind, which ACS refused: the keeper learns that
    the tenant has no room until ``Retry-After`` passes, and queues this ask first."""


class QuotaAsk(_Model):
    """One saga's ask to spend one request of ``kind``, as the keeper receives it."""

    request: QuotaRequest
    saga_id: str
    """The asking saga's workflow id: where the keeper signals its answer."""
    limits: QuotaLimits
    """The limits the asking worker is configured with (an operator's grant overrides them)."""


class QuotaWithdrawal(_Model):
    """A saga gives up its ask; one admitted but never spent is given back."""

    ask_id: str


class QuotaAnswer(_Model):
    """The keeper's answer to one ask: admitted, or queued with its place."""

    ask_id: str
    admitted: bool
    place: int | None = None
    """1 for the next to be admitted."""
    room_at: datetime | None = None
    """When the window has room again; ``None`` when only a grant makes room (limit 0)."""


class QuotaWait(_Model):
    """What a saga waiting for budget shows in its status."""

    kind: QuotaKind
    place: int | None
    room_at: datetime | None
    since: datetime


class QuotaSpend(_Model):
    """One admitted request, counted in the window from ``at``."""

    ask_id: str
    ticket_id: str
    kind: QuotaKind
    at: datetime


class QuotaGrant(_Model):
    """New limits an operator sets after Microsoft granted a support request."""

    searches: int | None = Field(None, ge=0)
    purchases: int | None = Field(None, ge=0)
    by: str = Field(min_length=1, max_length=128)


class QuotaKeeperState(_Model):
    """What the keeper carries across continue-as-new."""

    spent: tuple[QuotaSpend, ...] = ()
    queue: tuple[QuotaAsk, ...] = ()
    granted: dict[QuotaKind, int] = {}
    blocked_until: dict[QuotaKind, datetime] = {}


class QuotaKeeperInput(_Model):
    """The keeper's start: its resource and the state it carries."""

    resource: str
    limits: QuotaLimits = QuotaLimits()
    state: QuotaKeeperState = QuotaKeeperState()
    continue_as_new_after: int = 2_000


class QuotaLine(_Model):
    """One kind's budget as ``numberflow quota`` shows it."""

    kind: QuotaKind
    limit: int | None
    granted: bool
    """Whether the limit is an operator's grant, not the workers' settings."""
    used: int
    remaining: int | None
    room_at: datetime | None
    blocked_until: datetime | None
    """A limit ACS answered with, until ``Retry-After`` passes."""
    queue: tuple[str, ...]
    """Tickets waiting, first to be admitted first."""


class QuotaView(_Model):
    """The keeper's budget: each kind's limit, use and queue."""

    resource: str
    window: timedelta
    lines: tuple[QuotaLine, ...]


def quota_keeper_id(endpoint: str) -> str:
    """One keeper per ACS resource: ``quota-{resource host}``."""
    return f"quota-{resource_host(endpoint)}"
