"""Pipeline polling cost: a three-stage pipeline (supervised → DPO on its model → supervised on the
DPO job's newest checkpoint) carried through by ``ftctl apply --auto-approve --wait`` against a
sandbox on a manual clock. The run polls every ``INTERVAL`` real seconds; a thread of the benchmark
moves the clock ``STEP`` seconds after each read of a job by ID, that is once per poll, so each
stage goes validating_files → queued → running → succeeded in the same number of polls whoever
polls, and the next stage is created on its result.

What is counted: the sandbox's requests per route for the whole run, and, from the run's own debug
log (one line per HTTP request, in order with what it prints), its polls. A poll is one pass of the
wait loop (``session/follow.py``) over the jobs it follows: it begins when a job already read in the
current pass is read again. Its requests are split into list pages (any listing: jobs, events) and
reads of one job by ID. Goal (issue 25): no more than one list page per poll.

Baseline, same run, same clock rule, same interval, each on a fresh sandbox: the script a person
would write with the official SDK — upload the two files, create each stage on its upstream's
result, ``jobs.retrieve`` it every interval until it ends, list the DPO job's checkpoints once. It
sends the fewest requests that can carry the pipeline through (one per poll) and checks nothing: no
look-up of what exists, no read-back, no progress. Beside it the same script reading the newest
events of a running job at each poll too, as ftctl does to show step and loss.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import results
from reliability.sandbox import KEY, SandboxProcess

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "manifests" / "data" / "support" / "train.jsonl"
PREFS = REPO / "manifests" / "data" / "ranking" / "prefs.jsonl"
STEP, INTERVAL = 10.0, 0.1  # sandbox seconds per poll; real seconds between polls
CHECK, IDLE = 0.02, 3.0  # real seconds between looks at the server's count; without a poll, the clock moves after IDLE
READ = "GET /v1/fine_tuning/jobs/{job_id}"
TRANSITIONS_PER_STAGE = 3  # validating_files → queued → running → succeeded
GOAL_LIST_PAGES = 1
MANIFESTS = {
    "sft.yaml": "name: sft\nmodel: gpt-4.1-mini\ntraining_file: data/train.jsonl\nmethod: {type: supervised}\n"
                "suffix: sft\n",
    "dpo.yaml": "name: dpo\nmodel: {from: sft}\ntraining_file: data/prefs.jsonl\nmethod: {type: dpo}\nsuffix: dpo\n",
    "polish.yaml": "name: polish\nmodel: {from: dpo, checkpoint: last}\ntraining_file: data/train.jsonl\n"
                   "suffix: polish\n",
}
HTTP = re.compile(r"\[debug *\] http +method=(\S+) .*\bpath=(\S+)")


def _while_time_passes(server: SandboxProcess, run: Callable[[], Any], step: float) -> Any:
    """``run()`` while a thread moves the server's clock by ``step`` seconds after each read of a job
    by ID (each poll, of ftctl or of the script, as the server counts them), or after IDLE seconds
    without one."""
    done = threading.Event()

    def tick() -> None:
        seen, quiet = 0, 0.0
        with httpx.Client(base_url=f"{server.base}/sandbox", timeout=30) as admin:  # kept alive: about 1 ms a look
            while not done.wait(CHECK):
                reads = admin.get("stats").raise_for_status().json()["requests"].get(READ, 0)
                quiet += CHECK
                if reads > seen or quiet >= IDLE:
                    admin.post("clock/advance", json={"seconds": step}).raise_for_status()
                    seen, quiet = reads, 0.0

    clock = threading.Thread(target=tick, daemon=True, name="bench-clock")
    clock.start()
    try:
        return run()
    finally:
        done.set()
        clock.join(timeout=10)


def polls_of(output: str) -> list[list[str]]:
    """The polls of an ``apply --wait`` run, from its output with ``FTCTL_LOG=debug`` (stdout and stderr
    in one stream): each a list of ``METHOD path`` requests. Following begins at ``Waiting for`` and
    ends at the first line it prints after the jobs ended (a blank line, then how each ended)."""
    polls: list[list[str]] = []
    following = False
    seen: set[str] | None = None  # the jobs read by ID in this poll; None: the next request begins one
    for line in output.splitlines():
        if line.startswith("Waiting for "):
            following, seen = True, None
            continue
        if not following:
            continue
        found = HTTP.search(line)
        if found is None:
            if line.startswith(("  ✓", "  ✗", "  ·", "  …")):
                following = False
            continue
        method, path = found.groups()
        read = not _is_list(f"{method} {path}")
        if seen is None or (read and path in seen):
            polls.append([])
            seen = set()
        if read:
            seen.add(path)
        polls[-1].append(f"{method} {path}")
    return polls


def _is_list(request: str) -> bool:
    path = request.split(" ", 1)[1]
    return not (path.startswith("fine_tuning/jobs/") and path.count("/") == 2)


def ftctl_run(root: Path, server: SandboxProcess, step: float) -> dict[str, Any]:
    """The pipeline's project in ``root``, carried through by ``apply --wait``: its requests and polls."""
    (root / ".git").mkdir(parents=True)
    (root / "m" / "data").mkdir(parents=True)
    (root / "m" / "data" / "train.jsonl").write_bytes(TRAIN.read_bytes())
    (root / "m" / "data" / "prefs.jsonl").write_bytes(PREFS.read_bytes())
    for name, text in MANIFESTS.items():
        (root / "m" / name).write_text(text)
    env = server.env(FTCTL_LOG="debug", PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "reconciler", "apply", "m", "--auto-approve", "--wait", "--timeout", "2h",
            "--poll-interval", f"{INTERVAL}s"]
    started = time.perf_counter()
    done = _while_time_passes(server, lambda: subprocess.run(args, cwd=root, env=env, stdout=subprocess.PIPE,
                                                              stderr=subprocess.STDOUT, text=True, timeout=600), step)
    seconds = time.perf_counter() - started
    jobs = server.listing("fine_tuning/jobs")
    if done.returncode != 0 or sorted(j["status"] for j in jobs) != ["succeeded"] * 3:
        raise SystemExit(f"apply --wait did not carry the pipeline through (exit {done.returncode}):\n"
                         f"{done.stdout[-3000:]}")
    polls = polls_of(done.stdout)
    if not polls:  # a log this parser no longer reads would otherwise pass the goal with nothing measured
        raise SystemExit(f"no poll found in the output of apply --wait:\n{done.stdout[-3000:]}")
    by_route = server.stats()
    return {"seconds": round(seconds, 1), "requests": sum(by_route.values()), "by_route": by_route,
            "polls": len(polls), "poll_requests": sum(len(p) for p in polls),
            "max_list_pages_per_poll": max((sum(map(_is_list, p)) for p in polls), default=0),
            "max_job_reads_per_poll": max((sum(not _is_list(r) for r in p) for p in polls), default=0)}


def sdk_script(server: SandboxProcess, step: float, progress: bool = False) -> dict[str, Any]:
    """The hand-written pipeline with the official SDK, polling each stage's job by ID every INTERVAL;
    with ``progress``, also its newest events once it runs (as ftctl shows step and loss)."""
    import openai  # test-only dependency: make bench installs the test extras

    client = openai.OpenAI(api_key=KEY, base_url=server.url, max_retries=0)
    polls = 0

    def stage(**body: Any) -> Any:
        nonlocal polls
        job = client.fine_tuning.jobs.create(**body)
        while job.status not in ("succeeded", "failed", "cancelled"):
            time.sleep(INTERVAL)
            job = client.fine_tuning.jobs.retrieve(job.id)
            polls += 1
            if progress and job.status not in ("validating_files", "queued"):
                client.fine_tuning.jobs.list_events(job.id, limit=20)
        if job.status != "succeeded":
            raise SystemExit(f"the SDK script's {body['suffix']} job {job.status}")
        return job

    def pipeline() -> None:
        with TRAIN.open("rb") as train_file, PREFS.open("rb") as prefs_file:
            train = client.files.create(file=train_file, purpose="fine-tune")
            prefs = client.files.create(file=prefs_file, purpose="fine-tune")
        sft = stage(model="gpt-4.1-mini", training_file=train.id, method={"type": "supervised"}, suffix="sft")
        dpo = stage(model=sft.fine_tuned_model, training_file=prefs.id, method={"type": "dpo"}, suffix="dpo")
        points = client.fine_tuning.jobs.checkpoints.list(dpo.id, limit=100).data
        last = max(points, key=lambda c: c.step_number).fine_tuned_model_checkpoint
        stage(model=last, training_file=train.id, method={"type": "supervised"}, suffix="polish")

    started = time.perf_counter()
    _while_time_passes(server, pipeline, step)
    seconds = time.perf_counter() - started
    by_route = server.stats()
    fixed = 6  # two uploads, three creates, one page of checkpoints
    return {"seconds": round(seconds, 1), "requests": sum(by_route.values()), "by_route": by_route, "polls": polls,
            "poll_requests": sum(by_route.values()) - fixed}


def run(step: float = STEP) -> dict[str, Any]:
    """The three runs, each on a fresh sandbox whose clock moves ``step`` seconds per poll."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ftctl-pipeline-bench-") as tmp:
        with SandboxProcess(Path(tmp) / "ftctl.db", "--clock", "manual") as server:
            out["ftctl"] = ftctl_run(Path(tmp) / "project", server, step)
        for key, progress in (("script", False), ("script_progress", True)):
            with SandboxProcess(Path(tmp) / f"{key}.db", "--clock", "manual") as server:
                out[key] = sdk_script(server, step, progress)
    transitions = 3 * TRANSITIONS_PER_STAGE
    for figures in out.values():
        figures["per_transition"] = round(figures["requests"] / transitions, 1)
        figures["per_poll"] = round(figures["poll_requests"] / max(1, figures["polls"]), 2)
    return {"stages": 3, "transitions": transitions, "seconds_per_poll": step, "interval_s": INTERVAL, **out,
            "goal_list_pages_per_poll": GOAL_LIST_PAGES,
            "met": out["ftctl"]["max_list_pages_per_poll"] <= GOAL_LIST_PAGES}


def main(argv: list[str] | None = None) -> int:
    args = argv or []
    figures = run(float(args[args.index("--seconds-per-poll") + 1]) if "--seconds-per-poll" in args else STEP)
    f = figures["ftctl"]
    print(f"  3 stages, {figures['transitions']} status transitions; each poll (every {INTERVAL:g} s) sees the clock "
          f"{figures['seconds_per_poll']:g} s later")
    for who, x in (("ftctl apply --wait", f), ("SDK script, jobs.retrieve", figures["script"]),
                   ("SDK script, jobs.retrieve + list_events", figures["script_progress"])):
        print(f"  {who}: {x['requests']} requests ({x['per_transition']} per transition), {x['polls']} polls "
              f"({x['per_poll']} requests each), {x['seconds']} s")
    print(f"  ftctl per poll: at most {f['max_list_pages_per_poll']} list page(s) (goal ≤ {GOAL_LIST_PAGES}) and "
          f"{f['max_job_reads_per_poll']} read(s) by ID")
    print("  ftctl by route: " + ", ".join(f"{k} {v}" for k, v in sorted(f["by_route"].items())))
    print(f"  {'met' if figures['met'] else 'NOT MET'}")
    results.store("pipeline", figures)
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
