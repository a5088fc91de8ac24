"""How a ticket system's tickets become numberflow's events: declared in a file, not coded.

A TOML file (``NUMBERFLOW_TICKET_MAPPING``) says, per ticket system, which tickets are number
requests, where each field of the provisioning request is read from, and which status change
means approved, rejected, cancelled or release. It is validated when the ingress starts: every
mistake is one line naming where it is (``jira.request.fields.contry_code: …``).

Field paths go into the ticket's fields: ``customfield_10050.value`` reads the ``value`` of a
select field, ``customfield_10054[].emailAddress`` the e-mail of every user of a multi-user
picker, ``customfield_10052`` a plain value.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "CatalogRequestMapping",
    "JiraInbound",
    "JiraMapping",
    "RequestFields",
    "ServiceNowInbound",
    "ServiceNowMapping",
    "MappingError",
    "RequestField",
    "RequestMapping",
    "TicketAction",
    "TicketMapping",
    "load_mapping",
    "read_path",
]

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\])?)*$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestField(StrEnum):
    """What a ticket's fields can give the provisioning request."""

    COUNTRY_CODE = "country_code"
    PHONE_NUMBER_TYPE = "phone_number_type"
    ASSIGNMENT_TYPE = "assignment_type"
    CALLING = "calling"
    """The calling capability to buy with."""
    SMS = "sms"
    QUANTITY = "quantity"
    PHONE_NUMBER_PREFIXES = "phone_number_prefixes"
    TRUNKS = "trunks"
    """``sbc1.example.com:5061, sbc2.example.com`` (text), or a list of such."""
    APPROVERS = "approvers"
    SOURCE = "source"
    NUMBERS = "numbers"
    """With ``source: existing``: the numbers to claim (text or list)."""


class TicketAction(StrEnum):
    """What a status change means to numberflow."""

    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    RELEASE_REQUESTED = "release_requested"


def _field_path(value: str) -> str:
    if not _PATH.match(value):
        raise ValueError(
            f"{value!r} is not a field path (e.g. customfield_10050.value, "
            "customfield_10054[].emailAddress)"
        )
    return value


FieldPath = Annotated[str, AfterValidator(_field_path)]
"""A path into a ticket's fields (checked one by one: every bad path is its own mistake)."""


class RequestFields(_Model):
    """Where a number request's fields come from in a ticket."""

    fields: dict[RequestField, FieldPath] = Field(min_length=1)
    """Request field → path in the ticket's fields."""
    values: dict[RequestField, dict[str, str]] = {}
    """Request field → the ticket's values translated (e.g. ``Toll-free`` → ``tollFree``)."""
    fixed: dict[str, Any] = {}
    """Request fields the form does not ask (e.g. ``assignment_type``, ``routing``)."""


class RequestMapping(RequestFields):
    """Which Jira issues are number requests, and where the request's fields come from."""

    issue_types: tuple[str, ...] = Field(min_length=1)
    """Issue types whose tickets ask for numbers; others are ignored."""


class CatalogRequestMapping(RequestFields):
    """Which ServiceNow requested items are number requests, and where their fields come from."""

    catalog_items: tuple[str, ...] = Field(min_length=1)
    """Catalog items (their display names) whose requested items ask for numbers."""


class JiraMapping(_Model):
    """Jira (Cloud or Service Management): number-request issues and their statuses."""

    request: RequestMapping
    statuses: dict[str, TicketAction] = Field(min_length=1)
    """Status an issue moves to → what it means (``Approved = "approved"``)."""


def _change(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*=.+", value):
        raise ValueError(f"{value!r} is not field=value (e.g. approval=approved, state=4)")
    return value


Change = Annotated[str, AfterValidator(_change)]
"""``field=value``: a requested item's field changed to that value."""


class ServiceNowMapping(_Model):
    """ServiceNow: requested items (``sc_req_item``) of number-request catalog items."""

    request: CatalogRequestMapping
    changes: dict[Change, TicketAction] = Field(min_length=1)
    """``field=value`` a requested item changed to → what it means (``"approval=approved"``);
    state values differ per instance, so they are the instance's own."""


class TicketMapping(_Model):
    """Every ticket system numberflow listens to."""

    jira: JiraMapping | None = None
    servicenow: ServiceNowMapping | None = None


@dataclass(frozen=True)
class JiraInbound:
    """The Jira endpoint's configuration: secrets, mapping, and how old an event may be."""

    secrets: Sequence[str]
    mapping: JiraMapping
    max_age_seconds: float = 600.0


@dataclass(frozen=True)
class ServiceNowInbound:
    """The ServiceNow endpoint's configuration: who may call, the mapping, the age allowed."""

    basic_users: Sequence[str]
    """``user:password`` pairs accepted by Basic authentication."""
    tokens: Sequence[str]
    """Bearer tokens (an API key) accepted instead."""
    hmac_keys: Sequence[str]
    """When any: the body must also carry a base64 HMAC-SHA256 by one of them."""
    mapping: ServiceNowMapping
    max_age_seconds: float = 600.0


class MappingError(ValueError):
    """The mapping file cannot be used: one line per mistake."""


def load_mapping(path: Path) -> TicketMapping:
    """Read and validate the mapping file; ``MappingError`` lists every mistake."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MappingError(f"{path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise MappingError(f"{path}: not TOML: {error}") from None
    try:
        return TicketMapping.model_validate(data)
    except ValidationError as error:
        lines = [
            f"{path}: {'.'.join(str(p) for p in problem['loc']) or '(top)'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        ]
        raise MappingError("\n".join(lines)) from None


def read_path(fields: dict[str, Any], path: str) -> Any:
    """The value at ``path`` in a ticket's fields, or ``None`` when a step is missing."""
    values: list[Any] = [fields]
    many = False
    for step in path.split("."):
        key, spread = step.removesuffix("[]"), step.endswith("[]")
        values = [v.get(key) for v in values if isinstance(v, dict)]
        if spread:
            many = True
            values = [item for v in values if isinstance(v, list) for item in v]
    values = [v for v in values if v is not None]
    if many:
        return values
    return values[0] if values else None
