"""``ftctl plan`` over HTTP: requests and wall time for 10, 100 and 1,000 manifests against 1,000 and
10,000 live jobs and 20,000 files, the sandbox answering every request after 20 ms.

Each size gets a project and a sandbox seeded in-process (``bench.live``: one current job per
manifest, one earlier job of each name where there is room, the rest other stacks' jobs), then
``ftctl plan --detailed-exitcode`` runs as a user runs it, in a child process; the wall time is the
child's, start-up and validation included, best of 3. The sandbox counts the requests.

Beside it, two hand-written scripts with the official SDK (timed in-process, SDK import excluded,
best of 3: they are given every advantage ftctl is not): a naive one, per manifest
``fine_tuning.jobs.list(metadata={stack, name})`` (auto-paginated) plus one listing of the files;
and a competent one, which lists the stack's jobs once (``metadata={stack}``, auto-paginated) and
the files once, and matches names in memory — the fair floor for the requests a plan needs.

Then every manifest gets new data (a line added to each training file), so the plan must list the
files and match each new digest against them (none is uploaded yet): ``plan`` is timed again and
its requests counted, a plan of 1,000 replaces.

Goals (issues 12, 25): at most ceil(managed jobs / 100) + 3 requests (+ the file pages with new
data), and under 1.5 s at 1,000 manifests against 10,000 jobs.
Usage: python -m bench plan [--sizes 10,100,1000] [--jobs 1000,10000] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import results
from bench.live import STACK, Seeded, seed, supervised_project
from reliability.sandbox import KEY, SandboxProcess

GOAL_SECONDS = 1.5
GOAL_AT = (1000, 10_000)
FILE_PAGE = 10_000
"""Files per page of the file listing (the API's default and largest ``limit``)."""


def _requests(server: SandboxProcess) -> int:
    return int(server.admin("GET", "stats")["total"])


def ftctl_plan(root: Path, server: SandboxProcess, repeat: int = 3, changes: bool = False) -> tuple[float, int]:
    """Best wall time of ``repeat`` plans, and the requests one plan sends (``changes``: the plan must
    find every manifest to change, else up to date)."""
    times, sent = [], 0
    for _ in range(repeat):
        before = _requests(server)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode"], cwd=root,
                              env=server.env(FTCTL_STACK=STACK), capture_output=True, text=True, timeout=300)
        times.append(time.perf_counter() - started)
        sent = _requests(server) - before
        if done.returncode != (2 if changes else 0) or ("No changes" in done.stdout) != (not changes):
            raise RuntimeError(f"plan did not find the seeded jobs {'to change' if changes else 'up to date'} "
                               f"(exit {done.returncode}): {done.stdout[-400:]}{done.stderr[-400:]}")
    return min(times), sent


def script_baseline(names: list[str], server: SandboxProcess, repeat: int = 3) -> tuple[float, int]:
    """A per-manifest script with the official SDK: one filtered job listing per manifest; best of
    ``repeat`` runs, in-process (the SDK's import not counted), and the requests one run sends."""

    def current(client: Any) -> set[str]:
        return {name for name in names if any(
            j.status not in ("cancelled", "failed")
            for j in client.fine_tuning.jobs.list(metadata={"ftctl-stack": STACK, "ftctl-name": name}, limit=100))}

    return _best_of(names, server, repeat, "the script", current)


def competent_script(names: list[str], server: SandboxProcess, repeat: int = 3) -> tuple[float, int]:
    """A competent script with the official SDK: the stack's jobs listed once (auto-paginated), the
    files once, names matched in memory; best of ``repeat`` runs, and the requests one run sends."""

    def current(client: Any) -> set[str]:
        return {(j.metadata or {}).get("ftctl-name") or "" for j in
                client.fine_tuning.jobs.list(metadata={"ftctl-stack": STACK}, limit=100)
                if j.status not in ("cancelled", "failed")}

    return _best_of(names, server, repeat, "the competent script", current)


def _best_of(names: list[str], server: SandboxProcess, repeat: int, who: str,
             current: Callable[[Any], set[str]]) -> tuple[float, int]:
    """A script run ``repeat`` times, in-process: it lists the files once, then finds the current job
    of each name as ``current`` does; its best time, and the requests one run sends."""
    import openai  # test-only dependency: make bench installs the test extras

    client = openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0)
    times, sent = [], 0
    for _ in range(repeat):
        before = _requests(server)
        started = time.perf_counter()
        uploads = {f.filename for f in client.files.list(purpose="fine-tune")}
        found = len(set(names) & current(client))
        times.append(time.perf_counter() - started)
        sent = _requests(server) - before
        if found != len(names) or not uploads:
            raise RuntimeError(f"{who} found {found} of {len(names)} current jobs")
    return min(times), sent


def new_data(root: Path, names: list[str]) -> None:
    """Give every manifest new data: a line added to each training file, of the shape of the others."""
    for name in names:
        with (root / "manifests" / "data" / f"{name}.jsonl").open("a") as out:
            out.write(json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                               {"role": "user", "content": f"New question for {name}?"},
                                               {"role": "assistant", "content": "A new answer."}]}) + "\n")


def one_size(manifests: int, jobs: int, latency_ms: int, baseline: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ftctl-plan-bench-") as tmp:
        root = Path(tmp) / "project"
        names = supervised_project(root, manifests)
        seeded: Seeded = seed(root, Path(tmp) / "sandbox.db", jobs)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual") as server:
            server.admin("PUT", "faults", {"rate": 0, "latency_ms": latency_ms})
            seconds, sent = ftctl_plan(root, server)
            row: dict[str, Any] = {"manifests": manifests, "live_jobs": jobs, "managed_jobs": seeded.managed,
                                   "live_files": seeded.files, "requests": sent,
                                   "request_goal": math.ceil(seeded.managed / 100) + 3, "seconds": round(seconds, 3)}
            if baseline:
                script_seconds, script_sent = script_baseline(names, server)
                row.update(script_requests=script_sent, script_seconds=round(script_seconds, 3))
                competent_seconds, competent_sent = competent_script(names, server)
                row.update(competent_requests=competent_sent, competent_seconds=round(competent_seconds, 3))
            new_data(root, names)
            changed_seconds, changed_sent = ftctl_plan(root, server, changes=True)
            pages = math.ceil(seeded.files / FILE_PAGE) + 1  # the last page may be followed by an empty one
            row.update(new_data_requests=changed_sent, new_data_seconds=round(changed_seconds, 3),
                       new_data_request_goal=row["request_goal"] + pages)
            return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--jobs", default="1000,10000")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--no-baseline", action="store_true", help="Skip the per-manifest script.")
    args = parser.parse_args(argv)
    rows = []
    ok = True
    for jobs in (int(j) for j in args.jobs.split(",")):
        for n in (int(s) for s in args.sizes.split(",")):
            row = one_size(n, jobs, args.latency_ms, not args.no_baseline)
            rows.append(row)
            met = row["requests"] <= row["request_goal"] and row["new_data_requests"] <= row["new_data_request_goal"]
            ok &= met
            script = (f"; per-manifest script {row['script_requests']:,} requests, {row['script_seconds']:.2f} s; "
                      f"competent script {row['competent_requests']:,} requests, {row['competent_seconds']:.2f} s"
                      if "script_seconds" in row else "")
            script += (f"; new data: {row['new_data_requests']} requests (goal ≤ {row['new_data_request_goal']}), "
                       f"{row['new_data_seconds']:.2f} s")
            print(f"  {n:>5,} manifests × {jobs:>6,} jobs ({row['managed_jobs']:,} managed) × {row['live_files']:,} "
                  f"files: {row['requests']} requests (goal ≤ {row['request_goal']}{'' if met else ' NOT MET'}), "
                  f"{row['seconds']:.2f} s{script}", flush=True)
    at = next((r for r in rows if (r["manifests"], r["live_jobs"]) == GOAL_AT), None)
    if at is not None:
        met = at["seconds"] < GOAL_SECONDS and at["new_data_seconds"] < GOAL_SECONDS
        ok &= met
        print(f"  1,000 × 10,000: {at['seconds']:.2f} s, with new data {at['new_data_seconds']:.2f} s (goal < "
              f"{GOAL_SECONDS} s) {'met' if met else 'NOT MET'}")
    results.store("plan", {"latency_ms": args.latency_ms, "rows": rows, "goal_seconds": GOAL_SECONDS, "met": ok})
    return 0 if ok else 1
