"""The planner alone: N manifests against 20,000 live files and 10,000 live jobs, in memory.

The live state is generated the way the API returns it: per manifest name a current job (the same
spec, another spec — a replace whose field diff is computed — or none) and terminal history, the
rest of the 10,000 jobs orphans of the stack and jobs of other stacks; 20,000 uploaded files, half
of the manifests' local files among them. Only ``plan()`` is timed (best of 3).

Beside it, the baseline that issue 8 measured: matching each local file by scanning every live
file (9.5 s for 600 manifests against 20,000 files).

Goals (issue 8): 1,000 manifests under 0.5 s, and 10× the manifests costing at most 12× the time.
Usage: python -m bench planner [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from bench import results
from reconciler.api.models import LiveFile, LiveJob
from reconciler.identity import CreateRequest, Desired, FileRef, LocalFile, MethodSpec, parse_upload_name, spec_hash
from reconciler.plan.planner import plan

LIVE_FILES = 20_000
LIVE_JOBS = 10_000
GOAL_SECONDS_AT_1000 = 0.5
GOAL_GROWTH = 12.0
STACK = "bench"


def _request(i: int, epochs: int) -> CreateRequest:
    sha = f"{i:064x}"
    return CreateRequest(
        model="gpt-4o-mini", training_file=FileRef(sha256=sha, path=f"data/{i}.jsonl", bytes=1000 + i),
        method=MethodSpec(type="supervised", hyperparameters={"n_epochs": epochs, "batch_size": "auto",
                                                              "learning_rate_multiplier": 1.8}),
        suffix=f"m{i}", metadata={"team": "bench"})


def _job(i: int, name: str, request: CreateRequest, status: str, created: int, stack: str = STACK) -> LiveJob:
    """A job as the API returns it for ``request`` (resolved hyperparameters, file ID, a seed)."""
    hyper = {"n_epochs": request.method.hyperparameters["n_epochs"], "batch_size": 4, "learning_rate_multiplier": 1.8}
    return LiveJob.model_validate({
        "id": f"ftjob-{i}", "status": status, "created_at": created, "model": "gpt-4o-mini-2024-07-18",
        "training_file": f"file-{request.training_file.sha256}", "validation_file": None, "seed": 7,
        "integrations": [], "hyperparameters": hyper,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        "metadata": {"ftctl-stack": stack, "ftctl-name": name, "ftctl-spec": spec_hash(request.hashed())}})


def workload(manifests: int, seed: int = 1) -> tuple[list[Desired], list[LiveJob], list[LiveFile]]:
    rng = random.Random(seed)
    desired: list[Desired] = []
    jobs: list[LiveJob] = []
    files: list[LiveFile] = []
    for i in range(manifests):
        name = f"job-{i:05d}"
        request = _request(i, 3)
        ref = request.training_file
        desired.append(Desired(name=name, state="paused" if i % 10 == 9 else "active", request=request,
                               spec=spec_hash(request.hashed()), source=f"manifests/{name}.yaml:1",
                               files=(LocalFile(path=ref.path or "", sha256=ref.sha256 or "", bytes=ref.bytes or 0,
                                                used_by=(name,)),)))
        if i % 2 == 0:
            files.append(LiveFile(id=f"file-{ref.sha256}", filename=f"ftctl-{ref.sha256}-{i}.jsonl",
                                  bytes=ref.bytes or 0, purpose="fine-tune"))
        kind = rng.random()
        if kind < 0.6:  # the same spec, running (or to be paused)
            jobs.append(_job(len(jobs), name, request, "running", 100_000 + i))
        elif kind < 0.8:  # another spec, running: a replace with its field diff
            jobs.append(_job(len(jobs), name, _request(i, 2), "running", 100_000 + i))
        for h in range(2):  # history, while there is room for it among the 10,000 jobs
            if manifests * 3 <= LIVE_JOBS:
                jobs.append(_job(len(jobs), name, _request(i, 1 + h), "succeeded", i * 2 + h))
    while len(jobs) < LIVE_JOBS:  # orphans of the stack, and other stacks' jobs
        n = len(jobs)
        jobs.append(_job(n, f"orphan-{n}", _request(n, 3), "succeeded", n, stack=STACK if n % 3 else "other"))
    while len(files) < LIVE_FILES:
        n = len(files)
        files.append(LiveFile(id=f"file-other-{n}", filename=f"ftctl-{n:064x}-other.jsonl" if n % 2 else f"u{n}.jsonl",
                              bytes=n, purpose="fine-tune"))
    rng.shuffle(jobs)
    return desired, jobs, files


def _best(fn: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline_matching(desired: list[Desired], files: list[LiveFile]) -> int:
    """The old way: every local file scans every live file's name with a regex."""
    found = 0
    for d in desired:
        for f in d.files:
            for live in files:
                parsed = parse_upload_name(live.filename)
                if parsed and parsed[0] == f.sha256 and live.bytes == f.bytes:
                    found += 1
                    break
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench planner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        desired, jobs, files = workload(n)
        result = plan(desired, jobs, files.copy, STACK)  # the loader: a copy of the list, as a read gives
        seconds = _best(lambda d=desired, j=jobs, f=files: plan(d, j, f.copy, STACK))
        row: dict[str, Any] = {"manifests": n, "live_jobs": len(jobs), "live_files": len(files),
                               "seconds": round(seconds, 4), "actions": len(result.actions)}
        if n <= 1000:
            row["baseline_matching_seconds"] = round(_best(lambda d=desired, f=files: baseline_matching(d, f), 1), 3)
        rows.append(row)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(result.summary.items()) if v)
        old = row.get("baseline_matching_seconds")
        base = f"; baseline file matching alone {old:.2f} s" if old is not None else ""
        print(f"  {n:>6,} manifests × {len(jobs):,} jobs × {len(files):,} files: {seconds:.3f} s ({summary}){base}",
              flush=True)
    by_n = {r["manifests"]: r["seconds"] for r in rows}
    ok = True
    if 1000 in by_n:
        met = by_n[1000] < GOAL_SECONDS_AT_1000
        ok &= met
        print(f"  1,000 manifests: {by_n[1000]:.3f} s (goal < {GOAL_SECONDS_AT_1000} s) {'met' if met else 'NOT MET'}")
    for small, big in ((100, 1000), (1000, 10000)):
        if small in by_n and big in by_n:
            growth = by_n[big] / by_n[small]
            met = growth <= GOAL_GROWTH
            ok &= met
            print(f"  {small:,} → {big:,} manifests: ×{growth:.1f} time (goal ≤ ×{GOAL_GROWTH:.0f}) "
                  f"{'met' if met else 'NOT MET'}")
    results.store("planner", {"rows": rows, "goal_seconds_at_1000": GOAL_SECONDS_AT_1000, "goal_growth": GOAL_GROWTH,
                              "met": ok})
    return 0 if ok else 1
