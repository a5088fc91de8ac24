"""Contract of the SIP single writer: the document, the ledger, and the updates' payloads."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .ids import resource_host
from .provision import Capabilities, Fqdn, NumberSource, TrunkSpec

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_ROUTES",
    "MAX_TRUNKS",
    "ROUTE_PART_SEPARATOR",
    "SIP_WORKFLOW_TYPE",
    "SUBMIT_SIGNAL",
    "AttachRouteRequest",
    "DetachRouteRequest",
    "EnsureTrunksRequest",
    "LedgerEntry",
    "NumbersClaim",
    "NumbersOwnership",
    "OnboardedNumber",
    "RemoveTrunkRequest",
    "RouteMatch",
    "RouteSpec",
    "RouteWritten",
    "SipAnswer",
    "SipDocument",
    "SipRequestKind",
    "SipSubmission",
    "SipRoutingInput",
    "SipRoutingState",
    "dotnet_compatible_pattern",
    "exact_number_pattern",
    "is_part_of",
    "route_parts",
    "sip_workflow_id",
]

SIP_WORKFLOW_TYPE = "SipRoutingWorkflow"
"""Workflow type of the writer, for callers that must not import workflow code."""
SUBMIT_SIGNAL = "submit"
"""The writer's signal that takes a ``SipSubmission``."""

MAX_TRUNKS = 250
MAX_ROUTES = 250
MAX_PATTERN_LENGTH = 1024
"""ACS's limit on a route's ``numberPattern``."""
ROUTE_PART_SEPARATOR = "-part"
"""A ticket whose numbers need several routes names them ``<route>``, ``<route>-part2``..."""

# Constructs Python's `re` and .NET's Regex read differently (or only one of them knows). ACS
# evaluates patterns with .NET; numberflow places routes with Python: both must agree.
_DIVERGENT = (
    (re.compile(r"\(\?P[<=]"), "Python-only named groups (?P<...>)/(?P=...)"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "possessive quantifiers (.NET has none)"),
    (re.compile(r"\\Z"), r"\Z (.NET also matches before a final newline)"),
    (re.compile(r"-\["), "character-class subtraction [a-z-[...]] (.NET only)"),
    (re.compile(r"\\[pP]\{"), r"Unicode categories \p{...} (.NET only)"),
)


def dotnet_compatible_pattern(pattern: str) -> str:
    """Return the pattern if it compiles and means the same in Python and .NET, else raise."""
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"number pattern must be 1 to {MAX_PATTERN_LENGTH} characters")
    for construct, why in _DIVERGENT:
        if construct.search(pattern):
            raise ValueError(f"number pattern uses {why}; write it so .NET and Python agree")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"number pattern does not compile: {exc}") from exc
    return pattern


def exact_number_pattern(numbers: tuple[str, ...]) -> str:
    """A pattern that matches exactly these numbers and nothing else."""
    return "^(" + "|".join(re.escape(n) for n in sorted(set(numbers))) + ")$"


def route_parts(route_name: str, numbers: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, exact pattern) of the routes that together take exactly these numbers.

    One route while the pattern fits ACS's 1,024 characters (about 68 US numbers); beyond,
    consecutive slices of the sorted numbers, each as long as fits, named ``<route>``,
    ``<route>-part2``, ``<route>-part3``...: a ticket of 1,000 numbers needs 15 routes.
    """
    parts: list[tuple[str, ...]] = [()]
    length = len("^()$")
    for number in sorted(set(numbers)):
        cost = len(re.escape(number)) + (1 if parts[-1] else 0)
        if parts[-1] and length + cost > MAX_PATTERN_LENGTH:
            parts.append(())
            length, cost = len("^()$"), len(re.escape(number))
        parts[-1] = (*parts[-1], number)
        length += cost
    return tuple(
        (
            route_name if i == 0 else f"{route_name}{ROUTE_PART_SEPARATOR}{i + 1}",
            exact_number_pattern(part),
        )
        for i, part in enumerate(parts)
    )


def is_part_of(name: str, route_name: str) -> bool:
    """Whether ``name`` is ``route_name`` or one of its ``-partN`` routes."""
    if name == route_name:
        return True
    suffix = name.removeprefix(route_name + ROUTE_PART_SEPARATOR)
    return suffix != name and suffix.isdigit()


def sip_workflow_id(endpoint: str) -> str:
    """One writer per ACS resource: ``sip-routing-{resource host}``."""
    return f"sip-routing-{resource_host(endpoint)}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RouteSpec(_Model):
    """A voice route as the writer keeps it (the ACS ``TrunkRoute``)."""

    name: str = Field(min_length=1, max_length=256)
    number_pattern: str
    trunks: tuple[str, ...] = ()
    description: str | None = Field(None, max_length=1024)

    @field_validator("number_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return dotnet_compatible_pattern(value)


class SipDocument(_Model):
    """The direct-routing document: trunks (FQDN → port, in order) and routes (in order)."""

    trunks: dict[str, int] = Field(default_factory=dict)
    routes: tuple[RouteSpec, ...] = ()

    def route_for(self, number: str) -> RouteMatch:
        """Which route and trunk a call to ``number`` takes: the first matching route wins."""
        for index, route in enumerate(self.routes):
            if re.match(route.number_pattern, number):
                return RouteMatch(
                    number=number,
                    route=route.name,
                    position=index,
                    trunk=next(iter(route.trunks), None),
                )
        return RouteMatch(number=number)


class RouteMatch(_Model):
    """Answer of the ``route_for`` query."""

    number: str
    route: str | None = None
    position: int | None = None
    trunk: str | None = None


class OnboardedNumber(_Model):
    """A number a ticket claimed from outside (a port, a special order): never bought here.

    Its record outlives the claim: a number given back stays in the resource (``returned_at``)
    and is nobody's orphan; one an operator released says who and when.
    """

    number: str
    source: NumberSource
    capabilities_before: Capabilities
    """What it had when claimed: what a compensation or a release gives it back."""
    claimed_at: datetime | None = None
    returned_at: datetime | None = None
    """Given back by its ticket (compensated or released): in the resource, owned by no one."""
    released_by: str | None = None
    """The operator who released it from the resource (``release --release-numbers``)."""
    released_at: datetime | None = None

    @property
    def kept(self) -> bool:
        """Given back to the resource and still there (not released by an operator)."""
        return self.returned_at is not None and self.released_by is None


class LedgerEntry(_Model):
    """What one ticket owns on this resource."""

    ticket_id: str
    numbers: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    updated_at: datetime | None = None
    onboarded: tuple[OnboardedNumber, ...] = ()
    """The ticket's numbers that came from outside, and those it gave back or had released."""
    release_pending_manual: tuple[str, ...] = ()
    """Numbers whose release waits for Microsoft's service desk (still in ``numbers``)."""

    def onboarded_owned(self) -> tuple[OnboardedNumber, ...]:
        """The onboarded numbers the ticket owns now (never released on numberflow's own)."""
        return tuple(o for o in self.onboarded if o.number in self.numbers)

    @property
    def holds_anything(self) -> bool:
        """Whether the entry is worth keeping: something owned, or a record of the outside."""
        return bool(self.numbers or self.routes or self.onboarded)


class EnsureTrunksRequest(_Model):
    """Make sure these trunks exist (ports updated if they differ)."""

    trunks: tuple[TrunkSpec, ...] = Field(min_length=1, max_length=MAX_TRUNKS)


class AttachRouteRequest(_Model):
    """Attach a ticket's route for its numbers to trunks."""

    ticket_id: str
    route_name: str = Field(min_length=1, max_length=256)
    numbers: tuple[str, ...] = Field(min_length=1)
    trunks: tuple[TrunkSpec, ...] = Field(min_length=1, max_length=MAX_TRUNKS)
    position: int | None = Field(None, ge=0)
    """Pin the route at this index; refused if an earlier route would take its numbers."""


class DetachRouteRequest(_Model):
    """Remove a ticket's route, then the trunks it added that no route uses any more."""

    ticket_id: str
    route_name: str
    remove_unused_trunks: tuple[Fqdn, ...] = ()


class RemoveTrunkRequest(_Model):
    """Delete a trunk no route uses."""

    fqdn: Fqdn


class NumbersOwnership(_Model):
    """Record (or forget) that a ticket owns numbers."""

    ticket_id: str
    numbers: tuple[str, ...]
    release_pending_manual: bool = False
    """Record: these owned numbers' release waits for Microsoft's service desk."""
    released_by: str | None = None
    """Forget: an operator released them from the resource (onboarded numbers say who)."""


class NumbersClaim(_Model):
    """A ticket claims numbers from outside; refused if another ticket owns one of them."""

    ticket_id: str
    numbers: tuple[OnboardedNumber, ...] = Field(min_length=1)


class RouteWritten(_Model):
    """What an attach wrote."""

    route_name: str
    number_pattern: str
    """The first route's pattern (the only one for up to ~68 numbers)."""
    position: int
    trunks_added: tuple[str, ...]
    parts: tuple[str, ...] = ()
    """Every route written for the ticket's numbers, in order (empty before parts existed)."""


class SipRequestKind(StrEnum):
    """What a submission asks of the writer."""

    ATTACH = "attach"
    DETACH = "detach"
    RECORD = "record"
    FORGET = "forget"
    CLAIM = "claim"


class SipSubmission(_Model):
    """One request to the writer, by signal; answered by completing the asking activity.

    Signals have no in-flight limit (Updates have ten per workflow), and the writer takes
    every submission waiting into one read-modify-write of the document: one batch, one PATCH.
    """

    request_id: str
    """The asking activity (workflow, run, activity id): the same across its retries."""
    task_token: str
    """Base64 of the asking activity attempt's task token: the writer completes it."""
    kind: SipRequestKind
    attach: AttachRouteRequest | None = None
    detach: DetachRouteRequest | None = None
    ownership: NumbersOwnership | None = None
    claim: NumbersClaim | None = None


class SipAnswer(_Model):
    """How the writer completes one asking activity: with a result, or failed with a refusal."""

    task_token: str
    written: RouteWritten | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_details: tuple[Any, ...] = ()
    """The refusal's details as ACS's error carried them (code, support ids)."""
    retryable: bool = False


class SipRoutingState(_Model):
    """Everything the writer carries across continue-as-new."""

    ledger: dict[str, LedgerEntry] = Field(default_factory=dict)
    last_written: SipDocument | None = None
    pending: tuple[SipSubmission, ...] = ()
    """Submissions not yet committed when the run continued as new (a busy writer)."""


class SipRoutingInput(_Model):
    """Start (or continue) the writer of one resource."""

    resource: str
    state: SipRoutingState = SipRoutingState()
    continue_as_new_after: int = Field(3_000, ge=10)
    """History length after which the run continues as new (below the ~4,000 suggestion)."""
