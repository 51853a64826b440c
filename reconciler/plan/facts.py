"""What a plan relied on, beyond the manifests: the target it was made for and the live facts.

A saved plan is applied only on its target (``TargetInfo``), and only while the live state it read
still holds: ``LiveFacts`` keeps the stack's managed jobs (their status folded to what a plan
depends on, ``status_class``) and the uploads it reuses, with a fingerprint to compare and, when
they differ, ``differences`` in words for the message that refuses the stale plan (SPEC §6).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from reconciler.api.models import LiveFile, LiveJob
from reconciler.manifests.strict import Frozen
from reconciler.providers import OPENAI, Provider


def canonical(data: Any) -> str:
    """``data`` as JSON with sorted keys and no spaces: the text a digest is taken of."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class TargetInfo(Frozen):
    """Where a plan was made for: a saved plan is applied there and nowhere else (SPEC §6)."""

    provider: str
    api_base: str | None = None
    sandbox_db: str | None = None
    """The embedded sandbox's database, relative to the project root."""
    sandbox_id: str | None = None
    """The random identity of that database: another project's sandbox is another target."""

    @property
    def label(self) -> str:
        return f"the embedded sandbox ({self.sandbox_db})" if self.sandbox_db is not None else str(self.api_base)


def _words(status: str) -> str:
    return "in progress" if status == "in-progress" else status


def status_class(status: str, provider: Provider = OPENAI) -> str:
    """Statuses that make no difference to a plan fold together, so progress is not "drift" (as the
    target's provider knows its statuses: another's is kept as it is)."""
    return "in-progress" if provider.phase(status) in ("early", "running") else status


class JobFact(Frozen):
    job_id: str
    name: str
    spec: str | None
    status: str
    """The status class (``status_class``): what the plan depends on."""


class UploadFact(Frozen):
    file_id: str
    filename: str
    bytes: int


class LiveFacts(Frozen):
    """The live state a plan relied on: the stack's managed jobs and the uploads it reuses."""

    jobs: list[JobFact] = Field(default_factory=list)
    uploads: list[UploadFact] = Field(default_factory=list)

    @classmethod
    def of(cls, managed: list[LiveJob], uploads: list[LiveFile], provider: Provider = OPENAI) -> LiveFacts:
        # model_construct: the values come from validated models already (thousands of jobs per plan)
        jobs = [JobFact.model_construct(job_id=j.id, name=j.name or "", spec=j.spec,
                                        status=status_class(j.status, provider)) for j in managed]
        files = [UploadFact.model_construct(file_id=f.id, filename=f.filename, bytes=f.bytes) for f in uploads]
        return cls.model_construct(jobs=sorted(jobs, key=lambda f: f.job_id),
                                   uploads=sorted(files, key=lambda f: f.file_id))

    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(canonical(self.model_dump(mode="json")).encode()).hexdigest()

    def differences(self, now: LiveFacts) -> list[str]:
        """What changed from these facts to ``now``, in words (empty when nothing did)."""
        out: list[str] = []
        then_jobs, now_jobs = {j.job_id: j for j in self.jobs}, {j.job_id: j for j in now.jobs}
        for job_id, job in then_jobs.items():
            later = now_jobs.get(job_id)
            if later is None:
                out.append(f"job {job_id} ({job.name}) is gone")
            elif later != job:
                out.append(f"job {job_id} ({job.name}) is now {_words(later.status)} (was {_words(job.status)})")
        out += [f"a new job {j.job_id} ({j.name}) appeared" for i, j in now_jobs.items() if i not in then_jobs]
        present = {f.file_id: f for f in now.uploads}
        out += [f"the uploaded file {f.file_id} ({f.filename}) is gone" for f in self.uploads
                if present.get(f.file_id) != f]
        return out
