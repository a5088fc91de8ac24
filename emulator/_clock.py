"""The emulator's clock: real time plus an offset that the admin API can advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "format_time"]


class Clock:
    """Wall-clock time that tests can push forward (never back) to expire holds."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        """Current emulated time (UTC)."""
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        """Return to real time."""
        self._offset = timedelta()


def format_time(moment: datetime) -> str:
    """Format like the service: seven fractional digits and an explicit offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"
