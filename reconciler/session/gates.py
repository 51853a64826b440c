"""Gates as ``plan`` sees them: the verdict of a gated stage's evaluation on a job, read from the
report the evaluation left in the cache (``eval_cache``), without sending anything.

A report is found by what determines it: the job's trained model, the eval section as written
and the sha256 of the eval file's bytes. Editing the items, the grader or the gate (or training a
new model) therefore leaves the stage without a verdict, and the plan evaluates it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.api.models import LiveJob
from reconciler.identity.uploads import sha256_file
from reconciler.manifests import LoadedManifest
from reconciler.manifests.evaluation import Evaluation
from reconciler.plan.model import GateVerdict
from reconciler.session.eval_cache import Cache
from reconciler.session.eval_report import EvalReport


@dataclass(frozen=True)
class Evaluated:
    """A manifest's evaluation, as the cache keys its reports."""

    name: str
    evaluation: Evaluation
    file: Path
    manifest_dir: Path
    sources: tuple[tuple[str, str], ...] = ()
    """The code of its python graders (``source_file``'s as read at load), by grader path: part of what
    determines a grade, as the section names a file and not its content."""

    @classmethod
    def of(cls, m: LoadedManifest) -> Evaluated | None:
        path = m.local_files.get(("eval", "file"))
        if m.manifest.eval is None or path is None:
            return None
        sources = tuple(sorted((".".join(map(str, where)), code) for where, code in m.python_sources.items()
                               if where[:1] == ("eval",)))
        return cls(m.name, m.manifest.eval, path, m.source.parent, sources)

    @property
    def grader(self) -> dict[str, Any]:
        """What determines how an answer is graded: the grader as written, and its python code."""
        return {"grader": self.evaluation.grader.model_dump(mode="json"), "sources": dict(self.sources)}

    def report_key(self, cache: Cache, model: str) -> str:
        section = {"eval": self.evaluation.model_dump(mode="json"), "sources": dict(self.sources)}
        return cache.report_key(model, section, sha256_file(self.file))


def stored_report(cache: Cache, evaluated: Evaluated, job: LiveJob) -> EvalReport | None:
    """The report of the evaluation of ``job``'s trained model, when there is one."""
    if not job.fine_tuned_model:
        return None
    try:
        data = cache.get("reports", evaluated.report_key(cache, job.fine_tuned_model))
    except OSError:  # the eval file is gone: no verdict (the manifest's checks say why)
        return None
    if not isinstance(data, dict):
        return None
    try:
        return EvalReport.model_validate(data)
    except ValueError:
        return None


class Gates:
    """The ``GatesLoader`` of the planner: a stage's verdict on a job from the cached report, or None."""

    def __init__(self, root: Path, manifests: list[LoadedManifest]) -> None:
        self.cache = Cache(root)
        self.evaluated = {e.name: e for e in map(Evaluated.of, manifests) if e is not None}

    def __call__(self, name: str, job: LiveJob) -> GateVerdict | None:
        evaluated = self.evaluated.get(name)
        report = stored_report(self.cache, evaluated, job) if evaluated is not None else None
        if report is None or report.gate is None:
            return None
        return report.gate.verdict
