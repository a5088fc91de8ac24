"""``devtools_testutils.aio``: the async recording decorator, live only (see the package)."""

from __future__ import annotations

from . import recorded_by_proxy as recorded_by_proxy_async

__all__ = ["recorded_by_proxy_async"]
