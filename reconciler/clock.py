"""The one clock of a run: how time is read and waited out, injected wherever time matters.

``apply`` waits for slots and for jobs to run, ``wait`` polls, ``status`` shows ages and (with the
lifecycle table) today's date decides what may still be trained. All of them read time through a
``Clock`` handed down from the command line, so a test moves time by hand and a document's date is
fixed (``FTCTL_TODAY``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Clock:
    monotonic: Callable[[], float] = field(default=time.monotonic)
    """Seconds for measuring spans (deadlines, timeouts)."""
    sleep: Callable[[float], None] = field(default=time.sleep)
    wall: Callable[[], float] = field(default=time.time)
    """Seconds since the epoch (ages of jobs, created_at)."""
    fixed_today: date | None = None
    """The date to take for today (``FTCTL_TODAY``), else the wall clock's, in UTC."""

    def today(self) -> date:
        return self.fixed_today or datetime.fromtimestamp(self.wall(), UTC).date()


SYSTEM = Clock()
NO_WAIT = Clock(sleep=lambda seconds: None)
"""Real time, waits skipped: for runs whose waits only pace polling (tests of the logic)."""
