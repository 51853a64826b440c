"""Pipelines under faults and crashes: no stage trained on a stale base, no duplicate stage job.

The project: a few pipelines of three stages each — supervised, then DPO ``from:`` it, then supervised
again ``from:`` the DPO stage — on a sandbox whose clock moves only when advanced (``--clock
manual``), advanced on a thread while ftctl runs, as time passes for a user. Each run is what a user
does to carry a pipeline through: ``apply --auto-approve --wait``, which creates the first stages,
follows them and creates each later stage once its upstream has succeeded; when a run fails (the
API failing past its retries) or is killed, the user runs the same command again. Repeated plain
applies with the clock advanced in between would reach the same state, but ``--wait`` is the path
with the most moments at which a stale base could slip in: it plans again on every round, on listings
read under faults.

- **chaos**, per seed: a fresh server and project; up to three ``apply --wait`` under 30% faults of
  every kind (500, 429, connections dropped before and after the write) with latency; faults off,
  ``apply --wait`` until converged (at most three). Then the first stage of every pipeline changes (a
  hyperparameter): the same again, so that every later stage must be trained anew on the new result.
  Again against an API that ignores ``Idempotency-Key`` with a job list that lags behind creates (a
  new job seen by ID at once, listed only later): each run starts once the lag has passed, as runs
  minutes apart do (a list lagging by more than the time between two runs cannot be told from a job
  never made, without keys: with the lag not waited out, this run does make duplicates).
- **crash**, per trial: ``apply --wait`` killed with SIGKILL at a random moment after its first write
  (the writes the API saw before the kill are counted; a kill before it, or after the run ended, is not
  counted) — in odd trials the run that builds the pipelines, in even ones, once they are built, the run
  that retrains them — then ``apply --wait`` again until converged (at most three).

After every run, the audit of ``reliability/pipeline_harness.py``: no stage job created twice, none made on
a stale base, none wrongly cancelled, at most one active per stage; and whether the pipelines converged.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from reliability.harness import first_write_after, kill_after_first_write, kill_trials
from reliability.pipeline_harness import STAGES, Clock, PipelineAudit, apply_wait, audit, make_pipelines, started
from reliability.sandbox import SandboxProcess

RUNS_UNDER_FAULTS = 3
LAG_S = 600
"""How far the job list lags behind creates in the lag run, in the sandbox's seconds: 2 s at the pace the
clock is advanced (``Clock``), longer than a create's retries last, as in the lag runs of chaos.py."""
RUNS_ONCE_FAULTS_STOP = 3


def _until_converged(root: Path, server: SandboxProcess, upstream: dict[str, str | None], epochs: int,
                     seed: int | None, rate: float, latency_ms: int, audits: list[PipelineAudit],
                     lag_s: float = 0) -> bool:
    """Under faults (``seed`` given), ``apply --wait`` until converged, at most RUNS_UNDER_FAULTS times;
    without, at most RUNS_ONCE_FAULTS_STOP. Every run audited; converged or not."""
    for run in range(RUNS_UNDER_FAULTS if seed is not None else RUNS_ONCE_FAULTS_STOP):
        if seed is not None:
            server.faults(rate, seed + 1000 * run, latency_ms, list_lag_s=lag_s)
        apply_wait(root, server)
        server.faults(0)
        server.advance(lag_s)  # the next run starts once the lag has passed, as runs minutes apart do
        audits.append(audit(server, upstream, epochs))
        if audits[-1].converged:
            return True
    return False


def one_seed(seed: int, pipelines: int, rate: float, latency_ms: int, keys: bool = True, lag_s: float = 0,
             ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ftctl-pipechaos-") as tmp:
        root = Path(tmp) / "project"
        upstream = make_pipelines(root, pipelines, epochs=2)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual", *([] if keys else ["--no-idempotency"]),
                            ) as server:
            audits: list[PipelineAudit] = []
            started = time.monotonic()
            phases: list[dict[str, Any]] = []
            for phase, epochs in (("build", 2), ("retrain", 3)):
                make_pipelines(root, pipelines, epochs=epochs)  # the first stages change: all is retrained
                before = len(audits)
                under = _until_converged(root, server, upstream, epochs, seed * 10 + len(phases), rate, latency_ms,
                                         audits, lag_s)
                faulty = len(audits) - before
                after = under or _until_converged(root, server, upstream, epochs, None, rate, latency_ms, audits)
                phases.append({"phase": phase, "converged_under_faults": under, "converged_once_faults_stop": after,
                               "runs_under_faults": faulty, "runs_after": len(audits) - before - faulty})
                if not after:
                    break
            last = audits[-1]
            return {"seed": seed, "phases": phases, "converged_under_faults": all(p["converged_under_faults"]
                                                                                 for p in phases),
                    "converged_once_faults_stop": len(phases) == 2 and all(p["converged_once_faults_stop"]
                                                                            for p in phases),
                    "safe": all(a.safe for a in audits), "applies": len(audits),
                    "stale_bases": max(a.stale_bases for a in audits),
                    "duplicates_created": last.duplicates_created,
                    "wrongly_cancelled": max(a.wrongly_cancelled for a in audits),
                    "seconds": round(time.monotonic() - started, 1), "last": vars(last)}


def chaos(seeds: int = 10, pipelines: int = 3, rate: float = 0.3, latency_ms: int = 20, keys: bool = True,
          lag_s: float = 0) -> dict[str, Any]:
    results = []
    for seed in range(1, seeds + 1):
        result = one_seed(seed, pipelines, rate, latency_ms, keys, lag_s)
        results.append(result)
        print(f"  seed {seed:>2}: {result['applies']} apply --wait runs, "
              f"{'converged under faults' if result['converged_under_faults'] else 'not converged under faults'}"
              f"{'' if result['converged_once_faults_stop'] else ', NOT converged once they stopped'}, "
              f"{'safe' if result['safe'] else 'UNSAFE'}, {result['seconds']} s {result['last']}", flush=True)
    return {"seeds": seeds, "pipelines": pipelines, "stages": pipelines * len(STAGES), "fault_rate": rate,
            "latency_ms": latency_ms, "idempotency_keys": keys, "list_lag_s": lag_s,
            "converged_under_faults": sum(1 for r in results if r["converged_under_faults"]),
            "not_converged_once_faults_stop": sum(1 for r in results if not r["converged_once_faults_stop"]),
            "unsafe": sum(1 for r in results if not r["safe"]),
            "duplicates_created": sum(r["duplicates_created"] for r in results),
            "stale_bases": sum(r["stale_bases"] for r in results),
            "wrongly_cancelled": sum(r["wrongly_cancelled"] for r in results),
            "applies": sum(r["applies"] for r in results), "runs": results}


def undisturbed(pipelines: int, latency_ms: int) -> tuple[float, float]:
    """Seconds of a whole ``apply --wait`` of the project left alone, from its start to its exit and to
    its first write."""
    with tempfile.TemporaryDirectory(prefix="ftctl-pipecrash-") as tmp:
        root = Path(tmp) / "project"
        make_pipelines(root, pipelines)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual") as server, Clock(server):
            server.faults(0, latency_ms=latency_ms)
            began = time.perf_counter()
            run = started(root, server)
            first = first_write_after(run, server, began)
            if run.wait(timeout=900) != 0 or first is None:
                raise RuntimeError("the undisturbed apply --wait failed")
            return time.perf_counter() - began, first


def one_trial(trial: int, pipelines: int, latency_ms: int, window: tuple[float, float]) -> dict[str, Any]:
    """Odd trials kill the run that builds the pipelines; even ones, once they are built, the run that
    retrains them after their first stages changed (where a later stage could be made on the old result)."""
    rng = random.Random(trial)
    phase, epochs = ("build", 2) if trial % 2 else ("retrain", 3)
    with tempfile.TemporaryDirectory(prefix="ftctl-pipecrash-") as tmp:
        root = Path(tmp) / "project"
        upstream = make_pipelines(root, pipelines)
        with SandboxProcess(Path(tmp) / "sandbox.db", "--clock", "manual") as server:
            server.faults(0, latency_ms=latency_ms)
            if phase == "retrain":
                apply_wait(root, server)
                built = audit(server, upstream, 2)
                if not built.converged:
                    raise RuntimeError(f"the pipelines were not built before the kill: {built}")
                make_pipelines(root, pipelines, epochs=epochs)
            delay = rng.uniform(*window)
            with Clock(server):
                alive, made = kill_after_first_write(started(root, server), server, delay)
            audits = [audit(server, upstream, epochs)]
            converged = _until_converged(root, server, upstream, epochs, None, 0, latency_ms, audits)
            return {"trial": trial, "phase": phase, "killed_after_s": round(delay, 2), "alive": alive,
                    "killed": alive and made > 0, "writes_before_kill": made,
                    "stages_done_before_rerun": len(upstream) - audits[0].behind,
                    "reruns": len(audits) - 1, "converged": converged, "safe": all(a.safe for a in audits),
                    "stale_bases": max(a.stale_bases for a in audits),
                    "wrongly_cancelled": max(a.wrongly_cancelled for a in audits), "last": vars(audits[-1])}


def crash(trials: int = 10, pipelines: int = 3, latency_ms: int = 20,
          window: tuple[float, float] | None = None) -> dict[str, Any]:
    """``trials`` kills mid-apply, after a delay drawn from ``window`` (seconds past a run's first write);
    by default from none to what the rest of an ``apply --wait`` left alone takes, measured first."""
    whole, first = undisturbed(pipelines, latency_ms) if window is None else (0.0, 0.0)
    window = window or (0.0, max(0.1, (whole - first) * 0.95))
    left_alone = f"an apply --wait left alone takes {whole:.2f} s, its first write at {first:.2f} s: " if whole else ""
    print(f"  {left_alone}kills land up to {window[1]:.2f} s after a run's first write", flush=True)
    results = kill_trials(trials, lambda trial: one_trial(trial, pipelines, latency_ms, window), lambda r: (
        f"{r['stages_done_before_rerun']} stages done; {r['reruns']} rerun(s) → "
        f"{'converged' if r['converged'] else 'NOT converged'}, {'safe' if r['safe'] else 'UNSAFE'} {r['last']}"),
        phase=lambda r: f" ({r['phase']})")
    killed = [r for r in results if r["killed"]]
    return {"trials": len(killed), "asked": trials, "pipelines": pipelines, "stages": pipelines * len(STAGES),
            "latency_ms": latency_ms, "undisturbed_apply_s": round(whole, 2), "first_write_s": round(first, 2),
            "killed_mid_apply": len(killed), "writes_before_kills": [r["writes_before_kill"] for r in killed],
            "converged_after_rerun": sum(1 for r in killed if r["converged"]),
            "unsafe": sum(1 for r in results if not r["safe"]),
            "duplicates_created": sum(r["last"]["duplicates_created"] for r in results),
            "stale_bases": sum(r["stale_bases"] for r in results),
            "wrongly_cancelled": sum(r["wrongly_cancelled"] for r in results), "runs": results}


def run(seeds: int = 10, trials: int = 10, pipelines: int = 3, lag_seeds: int = 5) -> dict[str, Any]:
    project = f"{pipelines} pipeline{'s' if pipelines > 1 else ''} of {len(STAGES)} stages"
    print(f"  chaos: {project}, 30% faults, built then retrained", flush=True)
    chaotic = chaos(seeds=seeds, pipelines=pipelines)
    print(f"  chaos: the same, the job list {LAG_S:g} s behind creates, Idempotency-Key ignored", flush=True)
    lagging = chaos(seeds=lag_seeds, pipelines=pipelines, keys=False, lag_s=LAG_S)
    print(f"  crash: {project}, apply --wait killed after its first write", flush=True)
    return {"chaos": chaotic, "chaos_lag_without_keys": lagging, "crash": crash(trials=trials, pipelines=pipelines)}
