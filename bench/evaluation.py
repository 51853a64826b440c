"""Evaluation: ``ftctl eval`` of a trained model on 1,000 items against a sandbox whose chat
completions each take 50 ms (``completion_latency_ms``, a model's time to answer), at
``--parallelism`` 1 and 16 (goal: at least 10× faster at 16), each from an empty cache; then the
same evaluation again, from the cache (goal: no request, under 2 s). Beside them, the grader
engine's own throughput on 10,000 answers: a ``string_check`` and a ``python`` grader (its child
process started once for the batch), in this process, with no network.

What each wall time is compared with: parallelism 1 in the same run, on the same server and items;
the baseline is ``none`` so that one completion is asked per item (a baseline doubles the requests
and the wall, and changes no ratio).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import results
from reconciler.evals.engine import grade_batch
from reconciler.evals.model import Sample
from reconciler.manifests.graders import PythonGrader, StringCheckGrader
from reliability.evals import GRADER, make_eval_project, train
from reliability.sandbox import SandboxProcess

REPO = Path(__file__).resolve().parent.parent
GOAL_SPEEDUP, GOAL_CACHED_S = 10.0, 2.0
PYTHON_SOURCE = ("def grade(sample, item):\n"
                 "    return 1.0 if sample['output_text'].strip() == item['reference'] else 0.0\n")


def _ftctl(root: Path, server: SandboxProcess, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=root, env=server.env(),
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"ftctl {' '.join(args)} exited {done.returncode}:\n"
                         f"{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done


def _completions(server: SandboxProcess) -> int:
    return sum(n for route, n in server.stats().items() if route.endswith("/chat/completions"))


def _eval(root: Path, server: SandboxProcess, parallelism: int, cached: bool = False) -> dict[str, Any]:
    if not cached:
        shutil.rmtree(root / ".ftctl" / "cache", ignore_errors=True)
    before = _completions(server)
    started = time.perf_counter()
    done = _ftctl(root, server, "eval", "-o", "json", "--parallelism", str(parallelism))
    seconds = time.perf_counter() - started
    report = json.loads(done.stdout)["evaluations"]["sft"]
    return {"parallelism": parallelism, "seconds": round(seconds, 2), "requests": _completions(server) - before,
            "items": report["items"], "errors": report["errors"]}


def graders(answers: int) -> dict[str, int]:
    """Answers graded per second by a string_check and by a python grader, ``answers`` of each."""
    pairs = [({"reference": f"code {i}"}, Sample.of(f"code {i if i % 3 else -1}")) for i in range(answers)]
    out = {}
    for name, grader in (("string_check", StringCheckGrader.model_validate(GRADER)),
                         ("python", PythonGrader.model_validate({"type": "python", "name": "exact",
                                                                 "source": PYTHON_SOURCE}))):
        started = time.perf_counter()
        scores = grade_batch(grader, pairs, None, manifest_dir=REPO)
        seconds = time.perf_counter() - started
        wrong = [s for s in scores if s.error]
        if wrong or sum(s.value for s in scores) != sum(1 for i in range(answers) if i % 3):
            raise SystemExit(f"the {name} grader scored wrongly: {wrong[:3]}")
        out[name] = round(answers / seconds)
    return out


def run(items: int = 1000, latency_ms: int = 50, answers: int = 10_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ftctl-eval-bench-") as tmp:
        root = Path(tmp) / "project"
        make_eval_project(root, items)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual") as server:
            train(root, server)
            server.faults(0, completion_latency_ms=latency_ms)
            runs = [_eval(root, server, p) for p in (1, 16)]
            cached = _eval(root, server, 16, cached=True)
    speedup = runs[0]["seconds"] / runs[1]["seconds"]
    rates = graders(answers)
    met = speedup >= GOAL_SPEEDUP and cached["requests"] == 0 and cached["seconds"] < GOAL_CACHED_S \
        and all(r["requests"] == items and r["errors"] == 0 for r in runs)
    return {"items": items, "latency_ms": latency_ms, "runs": runs, "cached": cached,
            "speedup_at_16": round(speedup, 1), "goal_speedup": GOAL_SPEEDUP, "goal_cached_s": GOAL_CACHED_S,
            "graded_per_s": rates, "graded_answers": answers, "met": met}


def main(argv: list[str] | None = None) -> int:
    args = argv or []
    items = int(args[args.index("--items") + 1]) if "--items" in args else 1000
    figures = run(items=items)
    one, sixteen = figures["runs"]
    print(f"  {items} items at {figures['latency_ms']} ms per completion: parallelism 1 {one['seconds']} s, "
          f"16 {sixteen['seconds']} s: ×{figures['speedup_at_16']} (goal ≥ {GOAL_SPEEDUP:.0f}×); "
          f"{one['requests']} and {sixteen['requests']} completions")
    cached = figures["cached"]
    print(f"  cached rerun: {cached['requests']} requests, {cached['seconds']} s (goal 0, < {GOAL_CACHED_S:.0f} s)")
    print(f"  graders: {', '.join(f'{k} {v:,} answers/s' for k, v in figures['graded_per_s'].items())}")
    print(f"  {'met' if figures['met'] else 'NOT MET'}")
    results.store("evaluation", figures)
    return 0 if figures["met"] else 1
