"""Job statuses, defined once: what each status means (its *phase*) and which statuses each kind of
service has.

The API's ``status`` is an open string: OpenAI documents seven statuses and uses ``paused`` too;
Azure OpenAI adds ``pending`` (before training), ``pausing`` and ``resuming``. ftctl reasons about a
job by its phase, never by a list of statuses written out at the place of use. A status is *known*
only on a provider that has it (``Provider.phase``): ``pausing`` read from OpenAI is as foreign as
any new word, shown as it is and never acted on.

| phase      | statuses                              | meaning                                   |
|------------|---------------------------------------|-------------------------------------------|
| early      | validating_files, queued, pending     | accepted, not training yet (no metrics)   |
| running    | running                               | training                                  |
| paused     | paused                                | stopped by a pause; waits for a person    |
| pausing    | pausing                               | on its way to paused                      |
| resuming   | resuming                              | on its way to running                     |
| succeeded, failed, cancelled | the same words      | terminal: nothing acts on it any more     |
| unknown    | any other (or one the provider lacks) | shown as it is, never acted on            |
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

Phase = Literal["early", "running", "paused", "pausing", "resuming", "succeeded", "failed", "cancelled", "unknown"]

PHASES: Mapping[str, Phase] = MappingProxyType({
    "validating_files": "early", "queued": "early", "pending": "early",
    "running": "running", "paused": "paused", "pausing": "pausing", "resuming": "resuming",
    "succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled",
})
"""Every status any provider has, with its phase."""

TERMINAL_PHASES: frozenset[Phase] = frozenset({"succeeded", "failed", "cancelled"})
TERMINAL = frozenset(s for s, p in PHASES.items() if p in TERMINAL_PHASES)
"""Statuses of a job that has ended: the same words on every provider."""
EARLY = frozenset(s for s, p in PHASES.items() if p == "early")
"""Before training starts: no metric or checkpoint exists yet."""
SETTLED = TERMINAL | {"paused"}
"""Where a followed job stops being followed: it ended, or waits for a person."""
UNSUCCESSFUL = frozenset({"failed", "cancelled"})
"""Ended without the model it was trained for."""

OPENAI_STATUSES = frozenset({"validating_files", "queued", "running", "paused", *TERMINAL})
AZURE_STATUSES = OPENAI_STATUSES | {"pending", "pausing", "resuming"}


def phase_of(status: str, known: frozenset[str] = frozenset(PHASES)) -> Phase:
    """The phase of ``status`` among the ``known`` statuses (default: every provider's)."""
    return PHASES[status] if status in known else "unknown"


def in_progress(status: str) -> bool:
    """Accepted or training: a status whose changes alone make no difference to a plan."""
    return phase_of(status) in ("early", "running")
