"""The clients' manners toward the tenant's limits, read from the emulator's journal.

Shared by the saga's tests and the chaos harness: no limit exceeded, and no request repeated
within the ``Retry-After`` of a refusal of its kind (a grant in between resets that).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = ["limit_violations"]


def limit_violations(journal: list[dict[str, Any]]) -> list[str]:
    """Every request that broke a limit or came too soon after a refusal, one line each."""
    violations: list[str] = []
    blocked: dict[str, datetime] = {}
    for entry in journal:
        if "grant" in entry:
            blocked.clear()  # a new limit: asking at once is right
            continue
        at = datetime.fromisoformat(entry["at"])
        kind = entry["kind"]
        if kind in blocked and at < blocked[kind]:
            violations.append(f"{kind} requested at {entry['at']}, within a refusal's Retry-After")
        if entry["refusedFor"] is not None:
            blocked[kind] = at + timedelta(seconds=entry["refusedFor"])
        elif entry["limit"] is not None and entry["inWindow"] > entry["limit"]:
            violations.append(f"{kind} limit {entry['limit']} exceeded at {entry['at']}")
    return violations
