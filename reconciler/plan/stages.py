"""Pipeline stages in the planner (SPEC §10): a manifest that takes its model from another one.

Stages are planned upstream first (``ordered``). A stage's upstream is *ready* when its current job
(the newest with its tags, or the job it adopts) has succeeded and nothing in this plan retrains it;
the stage then trains on that job's result — its fine-tuned model, its newest checkpoint (``last``)
or the checkpoint of a step — which becomes the model of its create request, hence of its spec hash:
when the upstream is retrained, the stage's hash changes once the new result is ready, and the
ordinary rules replace it. Until then the stage's create is *blocked* (``Blocker``): shown with its
reason, counted as a change, never executed. A stage's job still running on a result that is being
replaced is cancelled in the same plan. Checkpoints are read through a loader, only for a stage
that asks for one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.api.models import LiveCheckpoint, LiveJob
from reconciler.identity import Desired
from reconciler.plan.model import Blocker, GateVerdict, Stage
from reconciler.providers.statuses import TERMINAL, UNSUCCESSFUL

CheckpointsLoader = Callable[[str], list[LiveCheckpoint]]
GatesLoader = Callable[[str, LiveJob], GateVerdict | None]
"""The verdict of a stage's gate on one of its jobs, as its evaluation found it (None: not evaluated)."""


def ordered(desired: list[Desired]) -> list[Desired]:
    """Every manifest after the one it builds on (by depth in its chain, then by name)."""
    by_name = {d.name: d for d in desired}

    def depth(d: Desired) -> int:
        n, seen = 0, {d.name}
        while d.upstream is not None and d.upstream.name in by_name and d.upstream.name not in seen:
            d = by_name[d.upstream.name]
            seen.add(d.name)
            n += 1
        return n

    return sorted(desired, key=lambda d: (depth(d), d.name))


@dataclass
class Upstreams:
    """What the planner has found of each manifest so far, for the stages built on it."""

    checkpoints: CheckpointsLoader
    gates: GatesLoader = field(default=lambda name, job: None)
    gated: set[str] = field(default_factory=set)
    """Names whose evaluation has a gate: the stages built on them wait for its verdict."""
    current: dict[str, LiveJob | None] = field(default_factory=dict)
    retraining: dict[str, str] = field(default_factory=dict)
    """Names this plan trains anew (or that wait themselves), with why, in words."""
    to_evaluate: dict[str, LiveJob] = field(default_factory=dict)
    """Gated names whose current job has no verdict yet: the plan evaluates them."""
    gate_failed: dict[str, tuple[LiveJob, str]] = field(default_factory=dict)

    def resolve(self, d: Desired, mine: LiveJob | None = None) -> tuple[str | None, Blocker | None]:
        """The model ``d`` trains on now, or what it waits for. ``mine``: ``d``'s current job. A gate
        decides whether a stage is *trained* on its upstream's result: a stage whose job already trains
        on that very result is not held back by it (an edited eval section retrains nothing); a failed
        verdict is still reported."""
        assert d.upstream is not None
        name, checkpoint = d.upstream.name, d.upstream.checkpoint
        if name in self.retraining:
            return None, Blocker(name=name, reason=f"waits for {name}: {self.retraining[name]}")
        job = self.current.get(name)
        if job is None:
            return None, Blocker(name=name, reason=f"waits for {name}: it has no job yet")
        if job.status != "succeeded":
            return None, Blocker(name=name, reason=f"waits for {name}: its job {job.id} is {job.status}")
        model, missing = self._result(job, name, checkpoint)
        if model is None:
            return None, missing
        if name in self.gated:
            verdict = self.gates(name, job)
            # trained (or training) on this very result already; a failed or cancelled job is not: a new one
            # would be trained, which is what the gate decides
            built = mine is not None and mine.model == model and mine.status not in UNSUCCESSFUL
            if verdict is None and not built:
                self.to_evaluate[name] = job
                return None, Blocker(name=name, reason=f"waits for the gate of {name}: its job {job.id} is not "
                                                       "evaluated yet")
            if verdict is not None and not verdict.passed:
                self.gate_failed[name] = (job, verdict.reason)
                if not built:
                    return None, Blocker(name=name, reason=f"blocked by the gate of {name}: {verdict.reason}")
        return model, None

    def _result(self, job: LiveJob, name: str, checkpoint: str) -> tuple[str | None, Blocker | None]:
        """The model of the upstream's succeeded ``job`` that a stage takes (its final model or a checkpoint's)."""
        if checkpoint == "final":
            if job.fine_tuned_model:
                return job.fine_tuned_model, None
            return None, Blocker(name=name, reason=f"waits for {name}: its job {job.id} names no fine-tuned model")
        found = sorted(self.checkpoints(job.id), key=lambda c: c.step_number)
        if checkpoint != "last":
            step = int(checkpoint.removeprefix("step "))
            found = [c for c in found if c.step_number == step]
        if found and found[-1].fine_tuned_model_checkpoint:
            return found[-1].fine_tuned_model_checkpoint, None
        what = "no checkpoint" if checkpoint == "last" else f"no checkpoint at {checkpoint}"
        return None, Blocker(name=name, reason=f"waits for {name}: its job {job.id} has {what}")

    def outdated(self, d: Desired, job: LiveJob) -> bool:
        """Whether ``job`` (``d``'s, not ended) trains on a result of its upstream that is being replaced."""
        assert d.upstream is not None
        name = d.upstream.name
        upstream = self.current.get(name)
        if job.status in TERMINAL:
            return False
        if name in self.retraining:
            return True
        return upstream is not None and upstream.status not in TERMINAL and upstream.created_at > job.created_at


def stages(desired: list[Desired], ups: Upstreams, blocked: set[str]) -> list[Stage]:
    """Every manifest of a pipeline project, with its status (none when no manifest uses ``from``)."""
    if not any(d.upstream for d in desired):
        return []
    out = []
    for d in sorted(desired, key=lambda d: d.name):
        job = ups.current.get(d.name)
        status = "blocked" if d.name in blocked else (job.status if job is not None else "not created")
        out.append(Stage(name=d.name, upstream=d.upstream.name if d.upstream else None,
                         checkpoint=d.upstream.checkpoint if d.upstream else None, status=status))
    return out
