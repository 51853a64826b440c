"""``apply`` as rounds: the reviewed plan first, then, under ``--wait``, one more round each time a
stage of a pipeline that waited becomes ready — until nothing waits, nothing is ready, or the one
deadline of the run passes.

Each round applies its plan, follows the jobs it started (and the unfinished upstreams the blocked
stages wait for), and plans again; the next round keeps only what concerns the stages that waited
(``next_round``), so a run never acts beyond what its reviewer saw. What the user sees is the CLI's
(``RoundView``); the decisions are here, on the run's one clock. An interrupt — during a round's
steps or while following — becomes ``Interrupted``, which carries what the whole run did: the steps
of the interrupted round, the stages whose jobs it created, those still running, and those waiting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.apply.applier import ApplyInterrupted, StepResult, UploadProgress
from reconciler.plan.model import EvaluateAction, Plan
from reconciler.session.applying import ApplyRequest, another_round, applier_for, followed, next_round, waiting_on
from reconciler.session.settings import Settings, UsageProblem
from reconciler.session.target import Connection


class RoundView(Protocol):
    """How the CLI shows a run: each step as it ends, each round's summary, a later round's plan, the
    jobs followed."""

    def step(self, result: StepResult) -> None: ...

    def uploads(self, plan: Plan) -> contextlib.AbstractContextManager[UploadProgress | None]: ...

    def summary(self, results: list[StepResult]) -> None:
        """The end of a round (and the reports of the gates it found failed)."""
        ...

    def ready(self, plan: Plan) -> None:
        """A later round's plan: the stages that waited are ready."""
        ...

    def follow(self, jobs: dict[str, str], left: float) -> bool:
        """Follow ``jobs`` (ID → name) for at most ``left`` seconds; False when one failed or time ran out.
        Raises ``KeyboardInterrupt`` when the user stops it."""
        ...


@dataclass
class Rounds:
    results: list[StepResult] = field(default_factory=list)
    """The steps of every round."""
    last: list[StepResult] = field(default_factory=list)
    """The steps of the last round (what it deferred is what is left)."""
    finished: bool = True
    """False when a followed job failed or the deadline passed while following."""
    plan: Plan | None = None
    """The plan of the last round."""


class Interrupted(Exception):
    """The run was stopped (Ctrl-C, SIGTERM): what it did before, in this round and in earlier ones."""

    def __init__(self, plan: Plan, earlier: list[StepResult], stop: ApplyInterrupted | None,
                 following: dict[str, str]) -> None:
        super().__init__("interrupted")
        self.plan, self.earlier, self.stop, self.following = plan, earlier, stop, following

    @property
    def created(self) -> list[str]:
        """Stages whose jobs this run created (or found created) in the rounds that ended."""
        return sorted({r.name for r in self.earlier if r.action in ("create", "replace")
                       and r.outcome in ("done", "skipped")})

    @property
    def waiting(self) -> list[tuple[str, str]]:
        return [(a.name, a.blocked_by.reason if a.blocked_by else "") for a in self.plan.blocked]


def refuse_flags_with_saved_plan(**flags: object) -> None:
    """A saved plan is applied as it was reviewed: the flags that shape a plan belong to ``plan --out``."""
    given = [f"--{name.replace('_', '-')}" for name, on in flags.items() if on]
    if given:
        raise UsageProblem(f"{' and '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to plan "
                           "(--out PLANFILE); a saved plan is applied as it was reviewed")


def apply_rounds(conn: Connection, settings: Settings, request: ApplyRequest, plan: Plan,
                 replan: Callable[[], Plan] | None, view: RoundView,
                 evaluator: Callable[[EvaluateAction], StepResult] | None = None) -> Rounds:
    """Apply ``plan``; under ``--wait``, follow what it started and carry a pipeline through (``replan``:
    None for a saved plan, which is applied once, as reviewed; ``evaluator`` runs evaluate steps)."""
    clock = settings.clock
    started, done = clock.monotonic(), Rounds()
    while True:
        done.plan = plan
        with view.uploads(plan) as progress:
            try:
                done.last = applier_for(conn, settings, request, clock, progress, evaluator).apply(plan, view.step)
            except ApplyInterrupted as stop:
                raise Interrupted(plan, done.results, stop, {}) from None
        done.results += done.last
        view.summary(done.last)
        jobs = {**followed(done.last), **waiting_on(plan, conn.reader)} if request.wait else {}
        if jobs:
            try:
                done.finished = view.follow(jobs, max(0.0, request.timeout - (clock.monotonic() - started)))
            except KeyboardInterrupt:
                raise Interrupted(plan, done.results, None, jobs) from None
        if not (request.wait and replan is not None and another_round(plan, done.last, done.finished)):
            return done
        plan = next_round(replan(), plan)
        if not plan.has_changes or len(plan.blocked) == len(plan.actions):
            return done  # nothing ready: the stages that still wait were reported
        view.ready(plan)
