"""The provisioning saga's contract: its request, its status query, its result, its updates.

Every model is frozen and validated, so a bad request fails when it is built, before a
workflow starts and before anything reaches ACS.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from .ids import TicketId
from .quota import QuotaWait

__all__ = [
    "MAX_QUANTITY",
    "ApprovalDecision",
    "ApprovalMode",
    "ApprovalPolicy",
    "ApprovalRecord",
    "Decision",
    "DecisionKind",
    "Budget",
    "Capabilities",
    "Delivery",
    "DeliveryRecord",
    "ManualOrder",
    "NumberSource",
    "PhoneNumber",
    "CapabilityType",
    "HoldStrategy",
    "NumberType",
    "AssignmentType",
    "PartialPolicy",
    "ProvisionRequest",
    "ProvisionResult",
    "ProvisionStatus",
    "Rejection",
    "RoutingSpec",
    "Stage",
    "TimelineEntry",
    "TrunkSpec",
    "decision_refusal",
]

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class Model(BaseModel):
    """Frozen, strict about unknown fields: a typo in a request is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NumberType(StrEnum):
    """Kind of number."""

    GEOGRAPHIC = "geographic"
    TOLL_FREE = "tollFree"
    MOBILE = "mobile"


class AssignmentType(StrEnum):
    """Who the numbers are for."""

    PERSON = "person"
    APPLICATION = "application"


class CapabilityType(StrEnum):
    """One capability's direction."""

    NONE = "none"
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INBOUND_OUTBOUND = "inbound+outbound"


class Capabilities(Model):
    """Calling and SMS capabilities."""

    calling: CapabilityType
    sms: CapabilityType


class HoldStrategy(StrEnum):
    """How numbers are held while a human approves."""

    RESERVATION = "reservation"
    """Browse + reservation keyed by a workflow-chosen UUID; deleted on compensation."""
    SEARCH = "search"
    """Classic search; the hold cannot be cancelled and lapses by itself."""


class PartialPolicy(StrEnum):
    """What to do when fewer numbers are in stock than asked for."""

    FAIL = "fail"
    ACCEPT = "accept"


class StepFailurePolicy(StrEnum):
    """What a permanent failure of a step after the purchase does."""

    COMPENSATE = "compensate"
    """Undo everything at once (failures before the purchase always do)."""
    HOLD = "hold"
    """Park in ``needs_attention`` until an operator retries, skips or aborts."""


class AttentionTimeoutAction(StrEnum):
    """What ends a ``needs_attention`` wait nobody answered by its deadline."""

    ABORT = "abort"
    SKIP = "skip"


class ApprovalMode(StrEnum):
    """Whether a human must approve."""

    REQUIRED = "required"
    AUTO_UNDER_COST = "auto_under_cost"


def _iso_country(value: str) -> str:
    # phonenumbers' regions: the ISO 3166-1 alpha-2 codes that have a numbering plan.
    if not re.fullmatch(r"[A-Z]{2}", value) or value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as US")
    return value


def _e164(value: str) -> str:
    # A pattern, not phonenumbers.parse: this runs whenever a workflow decodes its input, in
    # the sandbox, where parse's lazy per-region metadata imports (under a lock) are slow.
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", value):
        raise ValueError("must be a phone number in E.164 form such as +14255550123")
    return value


def _calling_code(country: str) -> int:
    """The country's calling code, from phonenumbers' static table (no metadata loaded)."""
    return next(
        code
        for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
        if country in regions
    )


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("must be an ISO 4217 currency code such as USD")
    return value


def _fqdn(value: str) -> str:
    labels = value.split(".")
    if not 1 <= len(value) <= 249 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ValueError("must be a fully qualified host name such as sbc1.example.com")
    return value.lower()


CountryCode = Annotated[str, AfterValidator(_iso_country)]
CurrencyCode = Annotated[str, AfterValidator(_currency)]
PhoneNumber = Annotated[str, AfterValidator(_e164)]
"""A phone number in E.164 form (``+`` and up to 15 digits) that can exist."""
Fqdn = Annotated[str, AfterValidator(_fqdn)]
Money = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]


class Budget(Model):
    """The most the numbers may cost per month, all together."""

    max_monthly_cost: Money
    currency: CurrencyCode


class ApprovalPolicy(Model):
    """Who approves, until when, and when no one needs to."""

    mode: ApprovalMode = ApprovalMode.REQUIRED
    auto_approve_below: Money | None = None
    """With ``auto_under_cost``: approve without a human when the monthly cost is at most this."""
    deadline: timedelta = timedelta(hours=72)
    approvers: tuple[str, ...] = ()
    """When not empty, only these people may approve or reject."""

    @model_validator(mode="after")
    def _check(self) -> ApprovalPolicy:
        if not timedelta(minutes=1) <= self.deadline <= timedelta(days=30):
            raise ValueError("deadline must be between 1 minute and 30 days")
        if self.mode is ApprovalMode.AUTO_UNDER_COST and self.auto_approve_below is None:
            raise ValueError("auto_under_cost needs auto_approve_below")
        return self


class TrunkSpec(Model):
    """A SIP trunk (session border controller)."""

    fqdn: Fqdn
    port: int = Field(5061, ge=1, le=65535)

    @staticmethod
    def fields_of(text: str) -> dict[str, str]:
        """``fqdn[:port]`` (how people write a trunk) as a trunk's fields, validated later."""
        host, _, port = text.strip().partition(":")
        return {"fqdn": host, **({"port": port} if port else {})}


class RoutingSpec(Model):
    """Where calls to the new numbers go."""

    trunks: tuple[TrunkSpec, ...] = Field(min_length=1, max_length=250)
    route_name: str | None = Field(None, min_length=1, max_length=256)
    """Defaults to ``ticket-{ticket_id}``."""

    @model_validator(mode="after")
    def _unique(self) -> RoutingSpec:
        fqdns = [t.fqdn for t in self.trunks]
        if len(fqdns) != len(set(fqdns)):
            raise ValueError("a trunk is listed twice")
        return self


MAX_QUANTITY = 1000
"""Numbers one ticket may ask for: reserved in rounds, routed over as many routes as needed."""


class NumberSource(StrEnum):
    """Where a ticket's numbers come from."""

    PURCHASE = "purchase"
    """Held, approved and bought by the saga (the default)."""
    EXISTING = "existing"
    """Already in the resource (ported in, or delivered by a special order): named by the
    request, claimed for the ticket, configured and routed, never released on its own."""
    MANUAL_ORDER = "manual_order"
    """Ordered from Microsoft by hand (above the tenant's limits, special numbers): the saga
    records the order and waits for the numbers to be delivered, then treats them as
    ``existing``."""

    @property
    def buys(self) -> bool:
        """Whether numberflow buys (and so may release) the ticket's numbers."""
        return self is NumberSource.PURCHASE


def _unique_numbers(numbers: tuple[str, ...]) -> tuple[str, ...]:
    if len(numbers) != len(set(numbers)):
        raise ValueError("a number is listed twice")
    return numbers


Numbers = Annotated[
    tuple[PhoneNumber, ...], Field(max_length=MAX_QUANTITY), AfterValidator(_unique_numbers)
]


class ProvisionRequest(Model):
    """What a ticket asks for."""

    ticket_id: TicketId
    source: NumberSource = NumberSource.PURCHASE
    numbers: Numbers = ()
    """With ``source: existing``: the numbers to claim (already in the resource)."""
    country_code: CountryCode
    phone_number_type: NumberType
    assignment_type: AssignmentType
    capabilities: Capabilities
    """Capabilities to search (and buy) with."""
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
    area_code: str | None = Field(None, pattern=r"^[0-9]{1,6}$")
    phone_number_prefixes: tuple[Annotated[str, Field(pattern=r"^\+?[0-9]{1,15}$")], ...] = ()
    partial: PartialPolicy = PartialPolicy.FAIL
    budget: Budget | None = None
    hold_strategy: HoldStrategy = HoldStrategy.RESERVATION
    approval: ApprovalPolicy = ApprovalPolicy()
    final_capabilities: Capabilities | None = None
    """Capabilities to configure after purchase; omitted = keep what was bought."""
    routing: RoutingSpec | None = None
    callback_url: HttpUrl | None = None
    agree_to_not_resell: bool = False
    on_step_failure: StepFailurePolicy = StepFailurePolicy.HOLD
    attention_deadline: timedelta = timedelta(days=7)
    """How long a parked saga waits for an operator (1 minute to 30 days)."""
    attention_timeout_action: AttentionTimeoutAction = AttentionTimeoutAction.ABORT
    """What the deadline does to a parked step (a parked compensation is abandoned)."""

    @model_validator(mode="after")
    def _check(self) -> ProvisionRequest:
        if not timedelta(minutes=1) <= self.attention_deadline <= timedelta(days=30):
            raise ValueError("attention_deadline must be between 1 minute and 30 days")
        if self.hold_strategy is HoldStrategy.RESERVATION and self.area_code is not None:
            raise ValueError(
                "area_code works with the search strategy; with reservations give "
                "phone_number_prefixes (digits with the country code, e.g. 1425)"
            )
        self._check_source()
        return self

    def _check_source(self) -> None:
        """The fields that go with the source, and only those."""
        if self.source is not NumberSource.EXISTING:
            if self.numbers:
                raise ValueError("numbers are named only with source existing")
            return
        if not self.numbers:
            raise ValueError("source existing needs numbers: the numbers to claim")
        if self.quantity not in (1, len(self.numbers)):
            raise ValueError("with source existing the quantity is the count of numbers")
        if self.area_code is not None or self.phone_number_prefixes or self.budget is not None:
            raise ValueError(
                "area_code, phone_number_prefixes and budget choose numbers to buy; "
                "source existing names its numbers"
            )
        calling_code = _calling_code(self.country_code)
        foreign = [n for n in self.numbers if not n.startswith(f"+{calling_code}")]
        if foreign:
            raise ValueError(
                f"{len(foreign)} number(s) are not {self.country_code} numbers (+{calling_code})"
            )

    @property
    def wanted(self) -> int:
        """How many numbers the ticket gets: the quantity, or the numbers it names."""
        return len(self.numbers) or self.quantity

    @property
    def route_name(self) -> str:
        """The route this ticket owns."""
        if self.routing and self.routing.route_name:
            return self.routing.route_name
        return f"ticket-{self.ticket_id}"


class Stage(StrEnum):
    """Where a saga is; the ``ProvisioningStage`` search attribute."""

    RESERVING = "reserving"
    CLAIMING = "claiming"
    """Checking that numbers from outside are in the resource and no other ticket's; claiming."""
    AWAITING_NUMBERS = "awaiting_numbers"
    """A manual order waits for its numbers to be delivered (``numberflow deliver``)."""
    AWAITING_QUOTA = "awaiting_quota"
    """Waiting for the tenant's ACS budget (a search or a purchase); a rejection is taken."""
    AWAITING_APPROVAL = "awaiting_approval"
    PURCHASING = "purchasing"
    CONFIGURING = "configuring"
    ROUTING = "routing"
    COMPLETED = "completed"
    COMPLETED_WITH_SKIPS = "completed_with_skips"
    """Completed without the steps an operator chose to skip (the result names them)."""
    NEEDS_ATTENTION = "needs_attention"
    """A step (or a compensation) failed; waiting for an operator's retry, skip or abort."""
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


class ApprovalDecision(Model):
    """Payload of the ``approve`` update."""

    approver: str = Field(min_length=1, max_length=128)
    comment: str | None = Field(None, max_length=2000)


class Rejection(Model):
    """Payload of the ``reject`` update."""

    approver: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=2000)


class DecisionKind(StrEnum):
    """What an approver decided."""

    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def verb(self) -> str:
        """The command that asks for it (``approve``, ``reject``), for messages."""
        return "approve" if self is DecisionKind.APPROVED else "reject"


class Decision(Model):
    """Payload of the ``decide`` signal: an approval or a rejection.

    The CLI and the ingress decide by this signal rather than by the ``approve``/``reject``
    Updates: a signal is a history event, so replay applies it in the order the first run
    did, while an Update accepted by a worker that had just restarted can be replayed out of
    order (temporalio/sdk-python#1591) and wedge the saga.
    """

    decision: DecisionKind
    approver: str = Field(min_length=1, max_length=128)
    note: str | None = Field(None, max_length=2000)
    """The comment of an approval; the reason of a rejection (required)."""

    @model_validator(mode="after")
    def _reason(self) -> Decision:
        if self.decision is DecisionKind.REJECTED and not self.note:
            raise ValueError("a rejection needs a reason (note)")
        return self


class InterventionKind(StrEnum):
    """What an operator tells a parked saga."""

    RETRY = "retry"
    SKIP = "skip"
    ABORT = "abort"
    ABANDON = "abandon"
    """For a parked compensation: stop trying, end ``compensation_failed`` with the list."""
    CONFIRM_RELEASED = "confirm_released"
    """For a release only Microsoft's service desk can do: it is done (the numbers are gone)."""


class Intervention(Model):
    """Payload of the ``intervene`` signal and Update."""

    action: InterventionKind
    by: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(None, max_length=2000)
    trunks: tuple[TrunkSpec, ...] | None = Field(None, min_length=1, max_length=250)
    """With ``retry`` of routing: route to these trunks instead (validated like the request)."""

    @model_validator(mode="after")
    def _check(self) -> Intervention:
        if self.action in (InterventionKind.SKIP, InterventionKind.ABORT) and not self.reason:
            raise ValueError(f"{self.action.value} needs a reason")
        if self.trunks is not None and self.action is not InterventionKind.RETRY:
            raise ValueError("trunks only go with retry")
        return self


class Attention(Model):
    """Why a saga waits for an operator, and what it accepts."""

    step: str
    """``configuring``, ``routing`` or ``compensation``."""
    error_code: str
    message: str
    actions: tuple[InterventionKind, ...]
    since: datetime
    deadline: datetime


def intervention_refusal(attention: Attention | None, intervention: Intervention) -> str | None:
    """Why an intervention cannot be taken now, or ``None`` when it can (one rule for all)."""
    if attention is None:
        return "the saga is not waiting for an operator"
    if intervention.action not in attention.actions:
        allowed = ", ".join(a.value for a in attention.actions)
        return (
            f"{intervention.action.value} is not allowed for {attention.step} (allowed: {allowed})"
        )
    if intervention.trunks is not None and attention.step != "routing":
        return "trunks can only be changed when routing failed"
    return None


def decision_refusal(
    stage: Stage,
    decided: str | None,
    approvers: tuple[str, ...],
    approver: str,
    *,
    rejecting: bool = False,
) -> str | None:
    """Why a decision cannot be taken now, or ``None`` when it can.

    The one rule for the Updates' validators, the ``decide`` signal, and the clients that
    check it before they signal. A saga waiting for ACS budget takes a rejection (nobody
    need wait for the budget of a ticket that will be rejected), not an approval.
    """
    if stage is Stage.AWAITING_QUOTA and not rejecting:
        return "waiting for ACS budget (stage is awaiting_quota); only a rejection is taken now"
    if stage not in (Stage.AWAITING_APPROVAL, Stage.AWAITING_QUOTA):
        return f"not awaiting approval (stage is {stage.value})"
    if decided is not None:
        return f"already {decided}"
    if approvers and approver not in approvers:
        return f"{approver!r} is not an approver of this ticket"
    return None


class Delivery(Model):
    """Payload of the ``deliver`` signal: numbers of a manual order, now in the resource."""

    numbers: Annotated[Numbers, Field(min_length=1)]
    by: str = Field(min_length=1, max_length=128)
    delivery_id: str = Field(min_length=1, max_length=128)
    """Chosen by the sender: finds this delivery's record, and makes a re-sent one a no-op."""
    note: str | None = Field(None, max_length=2000)


class DeliveryRecord(Model):
    """A delivery as the saga took it: which numbers it accepted, which it refused and why."""

    delivery_id: str
    by: str
    at: datetime
    accepted: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    """``<number>: <reason>`` (not in the resource, another ticket's, beyond the order)."""


class ManualOrder(Model):
    """What a ``manual_order`` ticket asked Microsoft for, and when."""

    quantity: int
    country_code: str
    phone_number_type: NumberType
    capabilities: Capabilities
    phone_number_prefixes: tuple[str, ...] = ()
    ordered_at: datetime
    deadline: datetime
    """When the wait for the numbers ends (the attention deadline's policy applies)."""


class ApprovalRecord(Model):
    """A decision as the saga recorded it."""

    decision: str
    """``approved``, ``auto_approved`` or ``rejected``."""
    by: str
    at: datetime
    monthly_cost: Decimal | None
    """``None`` for a rejection taken before any number was held (waiting for budget)."""
    note: str | None = None


class TimelineEntry(Model):
    """When the saga entered a stage."""

    stage: Stage
    at: datetime
    note: str | None = None


class ProvisionStatus(Model):
    """The ``status`` query: everything an operator needs to see about one saga."""

    ticket_id: str
    stage: Stage
    outcome: Stage | None = None
    """Why it ended, once it has: completed, rejected, expired, cancelled or failed."""
    source: NumberSource = NumberSource.PURCHASE
    numbers: tuple[str, ...] = ()
    monthly_cost: Decimal | None = None
    currency: str | None = None
    hold_strategy: HoldStrategy
    hold_id: str | None = None
    hold_expires_at: datetime | None = None
    approvals: tuple[ApprovalRecord, ...] = ()
    approved_cost: Decimal | None = None
    approvers: tuple[str, ...] = ()
    """Who may decide (empty: anyone)."""
    ignored_decisions: tuple[str, ...] = ()
    """Decisions signalled when none could be taken, with the reason."""
    attention: Attention | None = None
    """While ``needs_attention``: the failed step, the error, the allowed actions, the deadline."""
    quota_wait: QuotaWait | None = None
    """While ``awaiting_quota``: which budget, the saga's place, when the window has room."""
    refused_interventions: tuple[str, ...] = ()
    """Interventions signalled when they could not be taken, with the reason."""
    order: ManualOrder | None = None
    """With ``source: manual_order``: what was ordered, when, and until when it is waited for."""
    deliveries: tuple[DeliveryRecord, ...] = ()
    """Deliveries taken so far, each with the numbers accepted and refused."""
    skipped: tuple[str, ...] = ()
    """Steps an operator (or the attention deadline) chose to skip."""
    route_name: str | None = None
    errors: tuple[str, ...] = ()
    left_for_operator: tuple[str, ...] = ()
    """After ``compensation_failed``: exactly what is still held, owned or routed."""
    timeline: tuple[TimelineEntry, ...] = ()


class ProvisionResult(Model):
    """What the saga returns when it completes (also after rejection or expiry)."""

    ticket_id: str
    outcome: Stage
    numbers: tuple[str, ...] = ()
    monthly_cost: Decimal | None = None
    currency: str | None = None
    route_name: str | None = None
    note: str | None = None
    skipped: tuple[str, ...] = ()
    """With ``completed_with_skips``: the steps left out."""
