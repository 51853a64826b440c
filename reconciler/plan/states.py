"""What a manifest's ``state`` asks of its live job: one rule, for tag-matched and adopted jobs alike.

The planner first decides *which* job is the manifest's (the newest with its tags, or the one it
adopts by ``job_id``) and whether that job still has the manifest's spec. For a job that does —
or that is adopted, and so is never replaced — what remains is this table of (the job's phase, the
wanted state) → a move (SPEC §3). Phases are defined once, per provider
(``reconciler.providers.statuses``): a status the provider does not have is ``unknown``.

| phase      | active        | paused                      | cancelled |
|------------|---------------|-----------------------------|-----------|
| early      | none          | pause (once running)        | cancel    |
| running    | none          | pause                       | cancel    |
| paused     | resume        | none                        | cancel    |
| pausing    | settle        | none                        | cancel    |
| resuming   | none          | settle                      | cancel    |
| succeeded  | none          | none                        | none      |
| failed     | report failed | report failed               | none      |
| cancelled  | run again     | run again                   | none      |
| unknown    | leave         | leave                       | leave     |

``settle``: the job is on its way to the other state; the plan notes that another apply finishes
the change once it gets there. ``run again``: a new job (tag-matched), or a note that removing
``job_id`` makes one (adopted). ``leave``: the status is not one ftctl knows; nothing is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from reconciler.manifests.model import State as Wanted
from reconciler.providers.statuses import Phase

Move = Literal["none", "pause", "resume", "cancel", "settle", "run_again", "report_failed", "leave"]

_ROWS: dict[Phase, tuple[Move, Move, Move]] = {
    #              active           paused           cancelled
    "early":      ("none",          "pause",         "cancel"),
    "running":    ("none",          "pause",         "cancel"),
    "paused":     ("resume",        "none",          "cancel"),
    "pausing":    ("settle",        "none",          "cancel"),
    "resuming":   ("none",          "settle",        "cancel"),
    "succeeded":  ("none",          "none",          "none"),
    "failed":     ("report_failed", "report_failed", "none"),
    "cancelled":  ("run_again",     "run_again",     "none"),
    "unknown":    ("leave",         "leave",         "leave"),
}
RULES: Mapping[tuple[Phase, Wanted], Move] = MappingProxyType({
    (phase, wanted): move for phase, moves in _ROWS.items() for wanted, move in zip(get_args(Wanted), moves,
                                                                                       strict=True)})
"""The table above, as data: every (phase, wanted state) pair has exactly one move."""


def move(phase: Phase, wanted: Wanted) -> Move:
    """What to do to a job in ``phase`` whose manifest wants ``wanted`` (its spec being settled)."""
    return RULES[(phase, wanted)]


def pause_reason(phase: Phase, status: str) -> str:
    """Why a pause is planned, and when it can happen."""
    return "state: paused" if phase == "running" else f"state: paused (once running; now {status})"


def settle_note(status: str, wanted: Wanted) -> str:
    return f"it is {status}; apply again once it has got there to make it {wanted}"
