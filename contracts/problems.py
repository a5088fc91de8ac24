"""How a failed pydantic validation reads in one line, for every edge that reports one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["first_problem"]

_TRANSPORT_LOCATIONS = frozenset({"body", "path", "query"})
"""Where FastAPI found the value: not part of the field's name."""


class _HasErrors(Protocol):
    def errors(self) -> Sequence[Any]: ...


def first_problem(error: _HasErrors, *, located: bool = True) -> str:
    """The first error as ``field.path: message``, or the message alone.

    Without pydantic's ``Value error, `` prefix: what an operator can act on, in one line.
    """
    first = error.errors()[0]
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in _TRANSPORT_LOCATIONS)
    return f"{where}: {message}" if located and where else message
