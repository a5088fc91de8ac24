"""The tenant's limits on acquiring numbers: searches and purchases per rolling window.

Microsoft's "Service limits for Azure Communication Services" lists, per Azure tenant, 5
searches a week and 1 purchase, raised only by a support request, and warns that every
request accrues against the limits. Read here as: a search or a browse (both look for numbers
to buy) counts against ``searches``; a purchase request (of a search or of a reservation)
against ``purchases``; both in a rolling window of 7 days, counted when the request arrives,
whatever its answer. A refusal for a limit does not count. What the service answers at the
limit is not documented: the emulator answers 429 ``QuotaExceeded`` with a ``Retry-After``
of the seconds until the window has room again (see the README's fidelity notes).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ._clock import format_time
from ._errors import ApiError

__all__ = ["PURCHASES", "QUOTA_EXCEEDED", "SEARCHES", "LimitBook", "TenantLimits"]

SEARCHES = "searches"
PURCHASES = "purchases"
QUOTA_EXCEEDED = "QuotaExceeded"
_WEEK = 7 * 24 * 3600.0
_JOURNAL = 10_000
"""Requests and grants the journal keeps (the newest)."""


@dataclass(frozen=True)
class TenantLimits:
    """How many searches and purchases the tenant may make per window (``None``: no limit)."""

    searches: int | None = None
    purchases: int | None = None
    window_seconds: float = _WEEK

    @classmethod
    def new_tenant(cls) -> TenantLimits:
        """The service-limits page's figures for a tenant nobody raised: 5 searches, 1 purchase."""
        return cls(searches=5, purchases=1)

    @classmethod
    def preset(cls, name: str) -> TenantLimits:
        """``new-tenant`` or ``none`` (the default: nothing gets in a demo's way)."""
        presets = {"new-tenant": cls.new_tenant(), "none": cls()}
        if name not in presets:
            raise ValueError(f"limits preset {name!r}: one of {', '.join(presets)}")
        return presets[name]

    def of(self, kind: str) -> int | None:
        """The limit of one kind."""
        return self.searches if kind == SEARCHES else self.purchases


class LimitBook:
    """What the tenant spent of each limit within the window, and grants that raised them."""

    def __init__(self, limits: TenantLimits) -> None:
        self.limits = limits
        self._spent: dict[str, deque[datetime]] = {SEARCHES: deque(), PURCHASES: deque()}
        self.refused: dict[str, int] = {SEARCHES: 0, PURCHASES: 0}
        self.journal: deque[dict[str, Any]] = deque(maxlen=_JOURNAL)
        """Every request and grant, oldest first: what a test checks the clients' manners by
        (a refused request repeated within its ``Retry-After``, a limit exceeded)."""

    def spend(self, kind: str, now: datetime) -> None:
        """Count one request, or refuse it with the service's 429 when the limit is reached."""
        limit = self.limits.of(kind)
        spent = self._current(kind, now)
        if limit is not None and len(spent) >= limit:
            self.refused[kind] += 1
            reopens = self._reopens(kind, now)
            seconds = max(1, math.ceil((reopens - now).total_seconds()))
            self._note(now, kind, refused_for=seconds, limit=limit)
            raise ApiError(
                429,
                QUOTA_EXCEEDED,
                f"The tenant's limit of {limit} phone number {kind} per "
                f"{self.limits.window_seconds / 86400:g} days is reached; it has room again at "
                f"{format_time(reopens)}. A higher limit is granted by an Azure support request.",
                target=kind,
                headers={"Retry-After": str(seconds)},
            )
        spent.append(now)
        self._note(now, kind, refused_for=None, limit=limit)

    def _note(
        self, now: datetime, kind: str, *, refused_for: int | None, limit: int | None
    ) -> None:
        self.journal.append(
            {
                "at": format_time(now),
                "kind": kind,
                "inWindow": len(self._spent[kind]),
                "limit": limit,
                "refusedFor": refused_for,
            }
        )

    def grant(self, changes: Any, now: datetime) -> None:
        """Raise (or set) limits, as a granted support request does: ``{"searches": 20}``."""
        if not isinstance(changes, dict) or not changes:
            raise ApiError(400, "InvalidInput", 'Give {"searches": N} and/or {"purchases": N}.')
        for kind, value in changes.items():
            if kind not in (SEARCHES, PURCHASES) or not (
                value is None or (isinstance(value, int) and value >= 0)
            ):
                raise ApiError(
                    400, "InvalidInput", f"{kind}: a limit is a count >= 0, or null for none."
                )
        self.limits = replace(self.limits, **changes)
        self.journal.append({"at": format_time(now), "grant": changes})

    def to_wire(self, now: datetime) -> dict[str, Any]:
        """Per limit: the limit, used and remaining in the window, when it has room again."""
        wire: dict[str, Any] = {"windowSeconds": self.limits.window_seconds}
        for kind in (SEARCHES, PURCHASES):
            limit = self.limits.of(kind)
            used = len(self._current(kind, now))
            full = limit is not None and used >= limit
            wire[kind] = {
                "limit": limit,
                "used": used,
                "remaining": None if limit is None else max(0, limit - used),
                "refused": self.refused[kind],
                "reopensAt": format_time(self._reopens(kind, now)) if full else None,
            }
        wire["journal"] = list(self.journal)
        return wire

    def _current(self, kind: str, now: datetime) -> deque[datetime]:
        spent = self._spent[kind]
        window = timedelta(seconds=self.limits.window_seconds)
        while spent and spent[0] + window <= now:
            spent.popleft()
        return spent

    def _reopens(self, kind: str, now: datetime) -> datetime:
        """When the window has room for one more: the oldest counted request that must leave."""
        spent = self._current(kind, now)
        limit = self.limits.of(kind) or 0
        window = timedelta(seconds=self.limits.window_seconds)
        leaving = len(spent) - limit  # how many must leave the window before one more fits
        return spent[leaving] + window if 0 <= leaving < len(spent) else now
