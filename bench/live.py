"""A large live state to plan against: a project of N manifests and a sandbox database holding, as
an organisation's account would, the stack's current jobs and their predecessors among other teams' jobs, and
20,000 uploaded files.

The stack's current jobs are made by the sandbox's own create (``create_job``) from the bodies ftctl
would send for the manifests (loaded by ftctl's own loader), so a plan of the project finds each
manifest up to date. History (older specs, finished) and other stacks' jobs are copies of them with
other tags and times, and the remaining files other uploads; both are written in one transaction
each, in-process, before the server starts: seeding 10,000 jobs takes seconds, not an apply.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from reconciler.identity import tags
from reconciler.sandbox.app import create_app
from reconciler.sandbox.lifecycle import Job
from reconciler.sandbox.routes.jobs import create_job
from reconciler.sandbox.state import new_id
from reconciler.sandbox.store import Store
from reconciler.session.desired import check_data, desired_of
from reconciler.session.settings import Settings

STACK = "bench"
DAY = 86_400.0


@dataclass(frozen=True)
class Seeded:
    manifests: int
    jobs: int
    managed: int  # the stack's jobs: current and history
    files: int


def supervised_project(root: Path, manifests: int) -> list[str]:
    """``root`` with ``.git`` and ``manifests/``: one supervised job per manifest, each with its own
    ten-example training file."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    data = root / "manifests" / "data"
    data.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(manifests):
        name = f"job-{i:05d}"
        lines = [json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": f"Question {k} for {name}?"},
                                          {"role": "assistant", "content": f"Answer {k} of {name}."}]})
                 for k in range(10)]
        (data / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
        (root / "manifests" / f"{name}.yaml").write_text(
            f"name: {name}\nmodel: gpt-4o-mini-2024-07-18\ntraining_file: data/{name}.jsonl\nsuffix: b{i:05d}\n")
        names.append(name)
    return names


def seed(root: Path, db: Path, jobs: int, files: int = 20_000) -> Seeded:
    """Fill the sandbox database ``db`` (manual clock) for the project at ``root``: one current job per
    manifest, a finished earlier one per manifest while they fit in half the room left, the rest
    other stacks' jobs; ``files`` uploads, the manifests' among them."""
    settings = Settings(root=root, stack=STACK, sandbox=True)
    desired = desired_of(*check_data([root / "manifests"], settings), settings)
    if jobs < len(desired):
        raise ValueError(f"{jobs} jobs cannot hold a current job for each of {len(desired)} manifests")
    store = Store(db, "manual")
    try:
        sandbox, _ = create_app(store)
        now = store.now()
        current: list[Job] = []
        for d in desired:
            local = d.files[0]
            file_id = "file-" + local.sha256[:24]
            store.blob(file_id).write_bytes((root / local.path).read_bytes())
            store.add_file({"id": file_id, "bytes": local.bytes, "created_at": int(now), "filename": local.filename,
                            "purpose": "fine-tune"})
            body = d.request.body(tags(STACK, d.name, d.spec), {local.sha256: file_id})
            job = store.get_job(create_job(sandbox, body)["id"])
            assert job is not None
            current.append(job)
        history = min(len(current), (jobs - len(current)) // 2)
        older: list[Job] = []
        for n in range(jobs - len(current)):
            template = current[n % len(current)]
            metadata = dict(template.request["metadata"])
            if n < history:  # the same name, an older spec, finished long ago
                metadata["ftctl-spec"] = f"v1-{n:032x}"
            else:  # another team's stack, or a job made by hand
                metadata = {"ftctl-stack": "other", "ftctl-name": f"other-{n}", "ftctl-spec": f"v1-{n:032x}"} \
                    if n % 2 else {"team": f"t{n % 7}"}
            older.append(dataclasses.replace(template, id=new_id("ftjob-"), created_at=now - DAY * (1 + n % 300),
                                             request={**template.request, "metadata": metadata}))
        store.add_jobs(older)
        store.add_files({"id": f"file-other{n:08d}", "bytes": 1000 + n, "created_at": int(now - DAY),
                         "filename": f"upload-{n}.jsonl", "purpose": "fine-tune"}
                        for n in range(files - len(desired)))
    finally:
        store.close()
    return Seeded(manifests=len(desired), jobs=jobs, managed=len(current) + history, files=files)
