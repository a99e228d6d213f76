"""The time a service acts on. Real time in production; tests move it forward instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """``now()`` is wall-clock UTC plus an offset that only ``advance`` changes (tests, demos)."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta():
            raise ValueError("time only moves forward")
        self._offset += delta
        return self.now()
