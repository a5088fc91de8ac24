"""What a state method answers: status, JSON body (or none) and headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply"]


@dataclass(frozen=True)
class Reply:
    """An HTTP answer before it is encoded."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
