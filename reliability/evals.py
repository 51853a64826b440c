"""Evaluations under faults and a crash: ``ftctl eval`` of a trained model while the sandbox fails
30% of chat completions in every way (500, 429, the connection dropped before the answer, dropped
after it: answered, paid, and lost), killed with SIGKILL once part of its answers are cached, then
run again with the faults on until it finishes, and once more with them off.

What must hold: every item graded exactly once (one grade in the cache per item, the report counting
every item and none unanswered), the last run sending no request at all, and no answer paid twice
for an item whose answer was cached — what is asked again is only what was never cached: answers
lost on the way back (``drop_after``, counted by the sandbox) and the ones in flight at the kill
(at most ``--parallelism`` of them).

The project is shared with the evaluation benchmark (``make_eval_project``): N items whose
reference is known, one trained model (the sandbox's manual clock runs its job through), baseline
``none`` so that one completion is asked per item.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reliability.sandbox import SandboxProcess

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "manifests" / "data" / "support" / "train.jsonl"
GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.reference}}", "operation": "eq"}
ROUTE = "/v1/chat/completions"


def make_eval_project(root: Path, items: int, grader: dict[str, Any] = GRADER) -> None:
    """``root`` with one manifest ``sft`` whose ``eval:`` has ``items`` items and ``grader``."""
    (root / ".git").mkdir(parents=True)
    (root / "m" / "data").mkdir(parents=True)
    (root / "ftctl.yaml").write_text("paths: [m]\n")
    shutil.copy(TRAIN, root / "m" / "data" / "train.jsonl")
    with (root / "m" / "data" / "eval.jsonl").open("w") as out:
        for i in range(items):
            out.write(json.dumps({"messages": [{"role": "user", "content": f"What is the code of case {i}?"}],
                                  "reference": f"code {i}"}) + "\n")
    section = {"file": "data/eval.jsonl", "baseline": "none", "grader": grader,
               "sampling": {"temperature": 0, "max_completion_tokens": 16}}
    (root / "m" / "sft.yaml").write_text("name: sft\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\n"
                                         f"suffix: bench\neval: {json.dumps(section)}\n")


def train(root: Path, server: SandboxProcess) -> None:
    """Apply the project and run its job through on the sandbox's manual clock."""
    done = subprocess.run([sys.executable, "-m", "reconciler", "apply", "--auto-approve"], cwd=root,
                          env=server.env(), capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"apply failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")
    for _ in range(60):
        server.advance(600)
        if [j["status"] for j in server.listing("fine_tuning/jobs")] == ["succeeded"]:
            return
    raise RuntimeError("the job did not succeed")


def _paid(server: SandboxProcess) -> tuple[int, int]:
    """Completions the sandbox answered (drop_after too: answered, then lost), and those lost."""
    stats = server.admin("GET", "stats")
    asked = stats["requests"].get(f"POST {ROUTE}", 0)
    faults = {kind: n for key, n in stats["faults"].items() if key.endswith(f"POST {ROUTE}")
              for kind in [key.split(" ")[0]]}
    lost = faults.get("drop_after", 0)
    return asked - sum(faults.values()) + lost, lost


def run(items: int = 200, rate: float = 0.3, parallelism: int = 8, seed: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ftctl-evals-") as tmp:
        root = Path(tmp) / "project"
        make_eval_project(root, items)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual") as server:
            train(root, server)
            server.faults(rate, seed=seed, routes=[ROUTE], latency_ms=10)
            argv = [sys.executable, "-m", "reconciler", "eval", "-o", "json", "--parallelism", str(parallelism)]
            first = subprocess.Popen(argv, cwd=root, env=server.env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            grades = root / ".ftctl" / "cache" / "grades"
            while first.poll() is None and len(list(grades.rglob("*.json"))) < items // 3:
                time.sleep(0.02)
            killed = first.poll() is None
            if killed:
                os.kill(first.pid, signal.SIGKILL)
            first.wait()
            cached_at_kill = len(list(grades.rglob("*.json")))
            reruns, report = 0, {}
            for _ in range(6):  # under the faults: what failed after its retries is asked again, nothing else
                reruns += 1
                done = subprocess.run(argv, cwd=root, env=server.env(), capture_output=True, text=True, timeout=900)
                if done.returncode in (0, 1) and done.stdout.strip():
                    report = json.loads(done.stdout)["evaluations"]["sft"]
                    if report.get("unanswered") == 0:
                        break
            server.faults(0)
            paid, lost = _paid(server)
            before = server.stats().get(f"POST {ROUTE}", 0)
            last = subprocess.run(argv, cwd=root, env=server.env(), capture_output=True, text=True, timeout=600)
            last_requests = server.stats().get(f"POST {ROUTE}", 0) - before
            graded = len(list(grades.rglob("*.json")))
    paid_again = paid - items - lost
    return {"items": items, "fault_rate": rate, "parallelism": parallelism, "killed": killed,
            "cached_at_kill": cached_at_kill, "reruns_under_faults": reruns,
            "report_items": report.get("items"), "unanswered": report.get("unanswered"), "grades_cached": graded,
            "graded_exactly_once": graded == items and report.get("items") == items and report.get("unanswered") == 0,
            "completions_paid": paid, "answers_lost_after_the_write": lost,
            "paid_again_beyond_lost": paid_again, "last_run_requests": last_requests, "last_run_exit": last.returncode,
            "held": killed and graded == items and report.get("unanswered") == 0 and last_requests == 0
            and paid_again <= parallelism}
