"""``ftctl eval`` and the evaluate step of ``apply`` (SPEC §11): the trained model of each manifest
with ``eval:`` whose current job succeeded is sampled on every item, and so is its baseline; each
answer is graded locally; the report (per model the mean, counts, per-grader means, the gate's
verdict, the worst items) is stored in the cache, where ``plan`` reads the gate's verdict.

The trained model is the job's ``fine_tuned_model``, asked for on the target, or under ``endpoint``
(its ``api_base``, its ``deployment`` name) where it is served elsewhere. The baseline is the job's
``model`` as the API returned it (``base``), nothing (``none``), or the model named. A report made
from the first ``--limit`` items only is shown, never stored: a gate judges the whole file; nor is
one where a completion failed for good (a rerun asks for what is missing, and grades only that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.api.client import Target, Transport
from reconciler.api.completions import Completions, Usage
from reconciler.api.models import LiveJob
from reconciler.evals.model import Models
from reconciler.providers import detect
from reconciler.session.eval_cache import Cache
from reconciler.session.eval_report import EvalReport, judge, scores, worst
from reconciler.session.eval_run import Runner, read_items
from reconciler.session.gates import Evaluated

Ticker = Callable[[str, int], Callable[[], None]]
"""Given a name and how many answers it grades, what to call as each one is graded (a progress bar)."""


@dataclass(frozen=True)
class Skipped:
    """A manifest with ``eval:`` that cannot be evaluated now, and why."""

    name: str
    reason: str
    gated: bool


@dataclass
class Evaluator:
    """Runs evaluations against one target: its ``Completions`` (and those of endpoints), one cache."""

    cache: Cache
    models: Models
    """The target's models: trained models served there, baselines, and the graders' own models."""
    parallelism: int = 4
    ticker: Ticker = lambda name, total: lambda: None
    endpoints: dict[str, Models] = field(default_factory=dict)

    def skipped(self, evaluated: Evaluated, job: LiveJob | None) -> Skipped | None:
        """Why ``job`` (the name's current job) cannot be evaluated, if it cannot."""
        gated = evaluated.evaluation.gate is not None
        if job is None:
            return Skipped(evaluated.name, "it has no job yet", gated)
        if job.status != "succeeded":
            return Skipped(evaluated.name, f"its job {job.id} is {job.status}", gated)
        if not job.fine_tuned_model:
            return Skipped(evaluated.name, f"its job {job.id} names no fine-tuned model", gated)
        return None

    def trained(self, evaluated: Evaluated, job: LiveJob) -> tuple[Models, str]:
        endpoint = evaluated.evaluation.endpoint
        model = job.fine_tuned_model or ""
        if endpoint is None:
            return self.models, model
        if endpoint.api_base not in self.endpoints:
            raise ValueError(f"no models for endpoint {endpoint.api_base}")
        return self.endpoints[endpoint.api_base], endpoint.deployment or model

    def evaluate(self, evaluated: Evaluated, job: LiveJob, limit: int | None = None) -> EvalReport:
        """Sample, grade and report; the report stored unless ``limit`` cut the items."""
        assert job.fine_tuned_model, "a succeeded job with its model (skipped() says otherwise)"
        e = evaluated.evaluation
        items = read_items(evaluated.file, self.cache.root, limit)
        baseline = {"base": job.model or None, "none": None}.get(e.baseline, e.baseline)
        models, model = self.trained(evaluated, job)
        tasks = [(models, model, item) for item in items]
        if baseline is not None:
            tasks += [(self.models, baseline, item) for item in items]
        runner = Runner(e.grader, evaluated.grader, e.sampling.model_dump(exclude_none=True), self.cache,
                        evaluated.manifest_dir, self.models, self.parallelism, self.ticker(evaluated.name, len(tasks)))
        graded = runner.run(tasks)
        ours, theirs = graded[:len(items)], graded[len(items):]
        lost = [g for g in graded if not g.answered]  # completions failed for good: no verdict on them
        mine = scores(job.fine_tuned_model, ours)
        base = scores(baseline, theirs) if baseline is not None else None
        report = EvalReport(
            name=evaluated.name, job_id=job.id, model=job.fine_tuned_model, baseline=baseline, score=mine.score,
            baseline_score=base.score if base else None, items=mine.items, errors=mine.errors,
            baseline_errors=base.errors if base else None, parts=mine.parts, baseline_parts=base.parts if base else {},
            gate=judge(e.gate, mine.score, base.score if base else None, lost) if e.gate is not None else None,
            worst=worst(ours), unanswered=len(lost), failure=lost[0].score.error if lost else None,
            limited=limit is not None)
        if limit is None and not report.unanswered:
            self.cache.put("reports", evaluated.report_key(self.cache, job.fine_tuned_model),
                           report.model_dump(mode="json"))
        return report


def completions_for(transport: Transport, evaluated: list[Evaluated]) -> tuple[Completions, dict[str, Models]]:
    """The target's completions, and those of each endpoint the evaluations name (the target's key,
    the headers of the provider its URL shows)."""
    target = Completions(transport)
    endpoints: dict[str, Models] = {}
    for e in evaluated:
        endpoint = e.evaluation.endpoint
        if endpoint is not None and endpoint.api_base not in endpoints:
            own = transport.target
            endpoints[endpoint.api_base] = Completions(Transport(Target(endpoint.api_base, own.key,
                                                                        detect(endpoint.api_base),
                                                                        label=endpoint.api_base, bearer=own.bearer)))
    return target, endpoints


def usage_of(target: Models, endpoints: dict[str, Models]) -> Usage:
    """What every request of a run cost, as the answers said (``Completions`` count it; fakes do not)."""
    total = Usage()
    for c in [target, *endpoints.values()]:
        if isinstance(c, Completions):
            total.requests += c.usage.requests
            total.prompt_tokens += c.usage.prompt_tokens
            total.completion_tokens += c.usage.completion_tokens
    return total
