"""What every pipeline run needs (``reliability/pipelines.py``): a project of pipelines, the sandbox's
manual clock advanced while ftctl runs, ``apply --wait`` run as a user runs it, and the audit of the jobs
every stage ended up with.

The audit reads every job the sandbox holds, cancelled ones too, and counts: a stage job
created twice for the same spec (which includes its base model: one create per stage per upstream
result); a stage job whose base was already stale when it was created (its model is not the result of
the upstream's newest job made before it, cancelled duplicates aside); a job cancelled that nothing
replaced; more than one active job of a stage. Converged: every stage's current job has succeeded on
its upstream's current result, and the first stages on their manifest's spec.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reliability.harness import REPO
from reliability.sandbox import SandboxProcess

STAGES = (("sft", None), ("dpo", "sft"), ("polish", "dpo"))  # (stage, the stage it trains on)


def make_pipelines(root: Path, pipelines: int, epochs: int = 2) -> dict[str, str | None]:
    """``root`` with ``.git`` and ``manifests/`` holding ``pipelines`` pipelines (``p0-sft`` →
    ``p0-dpo`` → ``p0-polish``, …); the names with the name each trains on (None: a base model)."""
    (root / "manifests" / "data").mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)
    for data in ("support/train.jsonl", "ranking/prefs.jsonl"):
        (root / "manifests" / "data" / Path(data).name).write_bytes((REPO / "manifests" / "data" / data).read_bytes())
    upstream: dict[str, str | None] = {}
    for p in range(pipelines):
        for stage, base in STAGES:
            name = f"p{p}-{stage}"
            doc: dict[str, Any] = {"name": name, "suffix": name}
            if base is None:
                doc.update(model="gpt-4.1-mini", training_file="data/train.jsonl",
                           method={"type": "supervised", "hyperparameters": {"n_epochs": epochs}})
            elif stage == "dpo":
                doc.update(model={"from": f"p{p}-{base}"}, training_file="data/prefs.jsonl", method={"type": "dpo"})
            else:
                doc.update(model={"from": f"p{p}-{base}"}, training_file="data/train.jsonl")
            (root / "manifests" / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
            upstream[name] = None if base is None else f"p{p}-{base}"
    return upstream


@dataclass
class PipelineAudit:
    duplicates_created: int  # stage jobs beyond the first of the same name and spec (base model included)
    stale_bases: int  # stage jobs created on a result its upstream had already replaced (or none at all)
    wrongly_cancelled: int  # cancelled jobs that no job of their name replaced and no copy of theirs stands for
    extra_active: int  # active jobs of a stage beyond one
    behind: int  # stages whose current job is not (yet) succeeded on what it should be built on

    @property
    def safe(self) -> bool:
        return self.duplicates_created == self.stale_bases == self.wrongly_cancelled == self.extra_active == 0

    @property
    def converged(self) -> bool:
        return self.safe and self.behind == 0


def audit(server: SandboxProcess, upstream: dict[str, str | None], epochs: int) -> PipelineAudit:
    """What the sandbox holds now (its faults must be off)."""
    return audit_jobs(list(reversed(server.listing("fine_tuning/jobs"))), upstream, epochs)


def audit_jobs(every: list[dict[str, Any]], upstream: dict[str, str | None], epochs: int) -> PipelineAudit:
    """The audit of ``every`` job, oldest first (cancelled ones too), for the stages ``upstream`` names,
    whose first stages should now train for ``epochs``."""
    jobs = [j for j in every if (j.get("metadata") or {}).get("ftctl-name") in upstream]
    order = {j["id"]: i for i, j in enumerate(jobs)}
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    specs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        by_name[job["metadata"]["ftctl-name"]].append(job)
        specs[job["metadata"]["ftctl-name"], job["metadata"].get("ftctl-spec", "")].append(job)
    stale = 0
    for name, base in upstream.items():
        if base is None:
            continue
        for job in by_name[name]:
            made = [u for u in by_name[base] if order[u["id"]] < order[job["id"]] and u["status"] != "cancelled"]
            if not made or made[-1].get("fine_tuned_model") != job["model"]:
                stale += 1
    wrongly_cancelled = 0
    for job in jobs:
        if job["status"] != "cancelled":
            continue
        name = job["metadata"]["ftctl-name"]
        copies = specs[name, job["metadata"].get("ftctl-spec", "")]
        replaced = [j for j in by_name[name] if order[j["id"]] > order[job["id"]] and j["status"] != "cancelled"]
        if all(j["status"] == "cancelled" for j in copies) and not replaced:
            wrongly_cancelled += 1
    behind = 0
    for name, base in upstream.items():
        live = [j for j in by_name[name] if j["status"] != "cancelled"]
        if not live or live[-1]["status"] != "succeeded":
            behind += 1
        elif base is None:
            behind += live[-1]["hyperparameters"].get("n_epochs") != epochs
        else:
            built = [u for u in by_name[base] if u["status"] != "cancelled"]
            behind += not built or built[-1].get("fine_tuned_model") != live[-1]["model"]
    ended = ("succeeded", "failed", "cancelled")
    return PipelineAudit(
        duplicates_created=sum(len(js) - 1 for js in specs.values()), stale_bases=stale,
        wrongly_cancelled=wrongly_cancelled,
        extra_active=sum(max(0, sum(1 for j in js if j["status"] not in ended) - 1) for js in by_name.values()),
        behind=behind)


class Clock:
    """The sandbox's manual clock advanced by ``step`` seconds every ``every`` seconds while in use."""

    def __init__(self, server: SandboxProcess, step: float = 30, every: float = 0.1) -> None:
        self.server, self.step, self.every = server, step, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="sandbox-clock")

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.server.advance(self.step)

    def __enter__(self) -> Clock:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


APPLY = ("apply", "--auto-approve", "--wait", "--timeout", "10m", "--poll-interval", "0.1s", "--parallelism", "4")


def apply_wait(root: Path, server: SandboxProcess) -> int:
    """``apply --auto-approve --wait`` while time passes; its exit code."""
    with Clock(server):
        return subprocess.run([sys.executable, "-m", "reconciler", *APPLY], cwd=root, env=server.env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900).returncode


def started(root: Path, server: SandboxProcess) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", *APPLY], cwd=root, env=server.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
