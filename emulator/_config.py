"""How one emulator instance behaves: credentials, seed, timings, domains."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._limits import TenantLimits

__all__ = ["DEFAULT_ACCESS_KEY", "EmulatorConfig"]

DEFAULT_ACCESS_KEY = "ZW11bGF0b3ItdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
"""base64 of ``emulator-test-key-0123456789abcdef``; a local key, not a secret."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of one emulator.

    Attributes:
        access_key: base64 key that HMAC signatures are checked against.
        seed: Seeds the inventory and every random choice (browse samples, fault odds).
        lro_seconds: How long an LRO takes from start to its terminal status.
        search_hold_seconds: How long a search holds its numbers (the service: about 16 min).
        reservation_idle_seconds: A reservation expires this long after its last change.
        reservation_max_seconds: ... and never later than this after its creation.
        verified_domains: Domains whose hosts may be trunks (subdomains included).
        bearer_tokens: Tokens accepted as ``Authorization: Bearer``; empty = HMAC only.
        clock_skew_seconds: Allowed distance of ``x-ms-date`` from the real time.
        numbers_per_area_code: Inventory size per area code.
        lro_retry_after: ``Retry-After`` seconds on LRO polls (the service sends none).
        require_auth: Check signatures at all (off only for tests of other layers).
        limits: The tenant's searches and purchases per rolling week (default: none).
        release_quarantine_seconds: How long a released number is not offered again.
        service_desk_release_countries: Countries (ISO codes) whose releases go through
            Microsoft's service desk: the release API refuses them.
    """

    access_key: str = DEFAULT_ACCESS_KEY
    seed: int = 0
    lro_seconds: float = 2.0
    search_hold_seconds: float = 16 * 60
    reservation_idle_seconds: float = 15 * 60
    reservation_max_seconds: float = 2 * 60 * 60
    verified_domains: tuple[str, ...] = ("example.com",)
    bearer_tokens: frozenset[str] = field(default_factory=frozenset)
    clock_skew_seconds: float = 15 * 60
    numbers_per_area_code: int = 25
    lro_retry_after: int | None = None
    require_auth: bool = True
    limits: TenantLimits = field(default_factory=TenantLimits)
    release_quarantine_seconds: float = 24 * 60 * 60
    service_desk_release_countries: frozenset[str] = field(default_factory=frozenset)
