"""An evaluation's report (SPEC §11): per model the mean score (errors count 0), the item and error
counts and, for a multi grader, the mean of each of its graders; the gate's verdict in words; the
worst items of the trained model with their answers. Kept in the cache as JSON, read back by
``plan`` for a gate's verdict, printed by ``ftctl eval`` (``eval_render``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from reconciler.evals.model import Score
from reconciler.manifests.evaluation import Gate
from reconciler.plan.model import GateVerdict

WORST = 5
"""How many of the worst items a report shows."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class GateResult(_Model):
    passed: bool
    reason: str
    min_score: float | None = None
    min_gain: float | None = None

    @property
    def verdict(self) -> GateVerdict:
        return GateVerdict(passed=self.passed, reason=self.reason)


class Worst(_Model):
    line: int
    """The item's line in the eval file."""
    prompt: str
    """The last user message of its prompt."""
    answer: str
    score: float
    error: str | None = None


class ModelScores(_Model):
    model: str
    score: float
    items: int
    errors: int
    parts: dict[str, float] = {}


class EvalReport(_Model):
    name: str
    job_id: str
    model: str
    baseline: str | None
    score: float
    baseline_score: float | None
    items: int
    errors: int
    baseline_errors: int | None = None
    parts: dict[str, float] = {}
    """A multi grader's graders: the trained model's mean of each."""
    baseline_parts: dict[str, float] = {}
    gate: GateResult | None = None
    worst: list[Worst] = []
    unanswered: int = 0
    """Completions that failed for good (trained and baseline): such a report is shown, never stored, and
    its gate is not passed (a baseline that never answered would otherwise make any gain)."""
    failure: str | None = None
    """Why the first of them failed."""
    limited: bool = False
    """Only the first ``--limit`` items were evaluated: the verdict is shown, never kept for the gates."""

    @property
    def passed(self) -> bool:
        return self.gate is None or self.gate.passed

    @property
    def gain(self) -> float | None:
        return None if self.baseline_score is None else self.score - self.baseline_score


@dataclass(frozen=True)
class Graded:
    """One item's answer by one model, and its score."""

    line: int
    prompt: str
    answer: str
    score: Score
    answered: bool = True
    """False: the completion failed for good (the score is 0, its error says why)."""


def scores(model: str, graded: Sequence[Graded]) -> ModelScores:
    n = len(graded)
    names = sorted({name for g in graded for name in g.score.parts})
    parts = {name: _mean([g.score.parts[name].value if name in g.score.parts else 0.0 for g in graded])
             for name in names}
    return ModelScores(model=model, score=_mean([g.score.value for g in graded]), items=n,
                       errors=sum(1 for g in graded if g.score.error is not None), parts=parts)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def worst(graded: Sequence[Graded], n: int = WORST) -> list[Worst]:
    """The ``n`` items the trained model scored lowest (in file order among equals)."""
    lowest = sorted(graded, key=lambda g: (g.score.value, g.line))[:n]
    return [Worst(line=g.line, prompt=g.prompt, answer=g.answer, score=g.score.value, error=g.score.error)
            for g in lowest]


def judge(gate: Gate, score: float, baseline: float | None, lost: Sequence[Graded] = ()) -> GateResult:
    """The gate's verdict: every threshold it sets met, each said in words; none while completions
    failed (``lost``): their answers count 0, which proves nothing."""
    if lost:
        return GateResult(passed=False, reason=f"no verdict: {len(lost)} completion{'s' if len(lost) != 1 else ''} "
                          f"failed ({lost[0].score.error})", min_score=gate.min_score, min_gain=gate.min_gain)
    said, passed = [], True
    if gate.min_score is not None:
        ok = score >= gate.min_score
        passed &= ok
        said.append(f"score {number(score, gate.min_score)} {'≥' if ok else '<'} {number(gate.min_score)}")
    if gate.min_gain is not None:
        gain = score - (baseline or 0.0)
        ok = gain >= gate.min_gain
        passed &= ok
        said.append(f"gain {number(gain, gate.min_gain)} {'≥' if ok else '<'} {number(gate.min_gain)}")
    return GateResult(passed=passed, reason=", ".join(said), min_score=gate.min_score, min_gain=gate.min_gain)


def number(value: float, against: float | None = None) -> str:
    """Two decimals, or as many as it takes not to look equal to the threshold it is compared with."""
    for places in (2, 3, 4, 6):
        shown = f"{round(value, places) + 0.0:.{places}f}"  # + 0.0: no "-0.00"
        if against is None or (float(shown) == against) == (value == against):
            return shown
    return repr(value)
