"""Async iteration over ACS list operations that page with ``nextLink``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

from ._pipeline import Pipeline

__all__ = ["AsyncPager"]

T = TypeVar("T")


class AsyncPager(Generic[T]):
    """Lazily fetches pages and yields items; nothing is sent until iteration starts.

    ``nextLink`` may be relative or absolute; its query is kept (except ``api-version``, which
    the pipeline sets), so the service decides how the next page is addressed.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        path: str,
        *,
        items_key: str,
        parse: Callable[[Any], T],
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int = 10_000,
    ) -> None:
        self._pipeline = pipeline
        self._path = path
        self._items_key = items_key
        self._parse = parse
        self._params = dict(params or {})
        self._headers = dict(headers or {})
        self._max_pages = max_pages

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.by_page():
            for item in page:
                yield item

    async def by_page(self) -> AsyncIterator[list[T]]:
        """Yield one list per page."""
        link: str | None = self._path
        params: Mapping[str, Any] | None = self._params
        for _ in range(self._max_pages):
            if link is None:
                return
            body = await self._pipeline.request_json(
                "GET", link, params=params, headers=self._headers
            )
            yield [self._parse(item) for item in body.get(self._items_key) or []]
            link = body.get("nextLink") or None
            params = None  # the link carries its own query
        raise RuntimeError(f"more than {self._max_pages} pages from {self._path}; stopping")

    async def to_list(self) -> list[T]:
        """Collect every item of every page."""
        return [item async for item in self]
