"""``nextLink`` paging for every list the emulator serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ._errors import ApiError

__all__ = ["page", "read_int"]


def read_int(query: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    """Read an integer query parameter, answering 400 when it is not one."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "InvalidInput", f"'{name}' must be an integer.", target=name) from None
    if value < minimum:
        raise ApiError(400, "InvalidInput", f"'{name}' must be at least {minimum}.", target=name)
    return value


def page(
    items: Sequence[Any],
    *,
    path: str,
    query: Mapping[str, str],
    items_key: str,
    size_param: str,
    default_size: int = 100,
) -> dict[str, Any]:
    """Slice ``items`` by ``skip`` and the page size, adding a relative ``nextLink`` if more.

    The link repeats the request's own query with the next ``skip`` (the service's format was
    never captured with more than one page; this is the documented inference).
    """
    skip = read_int(query, "skip", 0)
    size = read_int(query, size_param, default_size, minimum=1)
    body: dict[str, Any] = {items_key: list(items[skip : skip + size])}
    if skip + size < len(items):
        next_query = {**query, "skip": str(skip + size), size_param: str(size)}
        body["nextLink"] = f"{path}?{urlencode(next_query)}"
    else:
        body["nextLink"] = None
    return body
