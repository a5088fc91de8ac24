"""The part of the Azure SDK's ``devtools_testutils`` the phone-numbers tests import, live only.

Upstream, the recording decorators route traffic through a test proxy that records or plays
back; in live mode without recording they just call the test, which is the only mode run
here. Playback has no recordings to play, so it is refused rather than half-supported.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

__all__ = ["AzureRecordedTestCase", "add_general_regex_sanitizer", "is_live", "recorded_by_proxy"]

Test = TypeVar("Test")


def is_live() -> bool:
    """Whether the suite talks to a service (``AZURE_TEST_RUN_LIVE``), as upstream decides it."""
    return os.environ.get("AZURE_TEST_RUN_LIVE", "").lower() in ("true", "yes", "1")


if not is_live():
    raise RuntimeError("these stand-ins run the suite live only: set AZURE_TEST_RUN_LIVE=true")


def recorded_by_proxy(test: Test) -> Test:
    """Live and not recording: the test runs as written."""
    return test


def add_general_regex_sanitizer(**_: Any) -> None:
    """Sanitizers rewrite recordings; nothing is recorded."""


class AzureRecordedTestCase:
    """The base class's live/playback switch."""

    @property
    def is_live(self) -> bool:
        return is_live()

    def is_playback(self) -> bool:
        return not self.is_live
