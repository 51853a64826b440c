"""``make reliability``: chaos over fault seeds, crashes, concurrent applies, pipelines under faults and
crashes; exit 1 when a guarantee does not hold. The figures are written to ``bench/results.json`` (key
``reliability``), with the machine they ran on, for docs/reliability.md.

Usage: python -m reliability [chaos] [crash] [concurrency] [evals] [pipelines] [hostile] [secrets] [--quick]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from reliability import chaos, concurrency, crash, evals, hostile, pipelines, secrets
from reliability.harness import machine, write_between

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results.json"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
START, END = "<!-- results: written by python -m reliability -->", "<!-- /results -->"
CHAOS = {"chaos": "honoured", "chaos_without_keys": "ignored, as by OpenAI, which documents none",
         "chaos_lag": "honoured", "chaos_lag_without_keys": "ignored"}
LAG_S = 2.0
"""How far the job list lags behind creates in the lag runs: longer than a create's retries last."""


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table, for docs/reliability.md."""
    m = results["machine"]
    rows = [f"Run {m['when']} on {m['system']}, {m['cpus']} CPUs, Python {m['python']}.", "",
            "| run | figure |", "|---|---|"]
    for run, keys in CHAOS.items():
        if run not in results:
            continue
        c = results[run]
        lag = f", job list {c['list_lag_s']:g} s behind creates" if c.get("list_lag_s") else ""
        rows += [f"| chaos ({c['seeds']} seeds × {c['manifests']} manifests, {c['fault_rate']:.0%} faults{lag}, "
                 f"idempotency keys {keys}) | "
                 f"converged in one apply: {c['converged_in_one']}; in two: {c['converged_in_two']}; once the faults "
                 f"stopped: {c['seeds'] - c['not_converged_once_faults_stop']} of {c['seeds']}; unsafe seeds: "
                 f"{c['unsafe']}; duplicate jobs: {c['duplicates_created']}; files uploaded twice: "
                 f"{c.get('duplicate_uploads_made', '?')} made, {c.get('duplicate_uploads_left', '?')} left |"]
    if "crash" in results:
        c = results["crash"]
        alone = (f" (an apply left alone: first write at {c['first_write_s']} s, done at "
                 f"{c['undisturbed_apply_s']} s)") if "first_write_s" in c else ""
        writes = c.get("writes_before_kills") or []
        counted = f"; writes before each kill: {min(writes)} to {max(writes)}" if writes else ""
        rows += [f"| crash ({c['trials']} trials × {c['manifests']} manifests) | killed mid-apply, after the first "
                 f"write: {c['killed_mid_apply']}{alone}{counted}; converged after one more apply: "
                 f"{c['converged_after_rerun']} of "
                 f"{c['trials']}; duplicate jobs: {c['duplicates_created']} |"]
    for case in results.get("concurrency", {}).get("cases", []):
        after = case["after_one_more_apply"]
        ended = case.get("when_runs_ended", {})
        agreed = {True: "yes", False: "**no**", None: "?"}[case.get("agreed")]
        rows += [f"| {case['runs']} concurrent applies, keys {'honoured' if case['idempotency_keys'] else 'ignored'} "
                 f"| duplicate jobs created: {case['duplicates_created']}, still active when the runs ended: "
                 f"{case['duplicates_active_when_runs_ended']}; the runs agreed (when they ended, one current job "
                 f"per manifest, none wrongly cancelled, none missing a file): {agreed}; jobs one more apply "
                 f"started or cancelled: {case.get('jobs_changed_by_one_more_apply', '?')}; files uploaded twice: "
                 f"{ended.get('duplicate_uploads_made', '?')} made, newer copies left "
                 f"{after.get('newer_uploads', '?')}, copies of the same second left {after['duplicate_uploads']}; "
                 f"runs failed: {case.get('failed_runs', 0)} |"]
    if "evals" in results:
        e = results["evals"]
        rows += [f"| evaluation ({e['items']} items, {e['fault_rate']:.0%} faults on chat completions, SIGKILL "
                 f"mid-eval, `--parallelism` {e['parallelism']}) | killed with {e['cached_at_kill']} items graded; "
                 f"after {e['reruns_under_faults']} rerun(s) under faults: {e['grades_cached']} grades cached, "
                 f"{e['unanswered']} unanswered, graded exactly once: {'yes' if e['graded_exactly_once'] else '**no**'}"
                 f"; completions paid {e['completions_paid']} for {e['items']} items: "
                 f"{e['answers_lost_after_the_write']} answers lost after the write, {e['paid_again_beyond_lost']} "
                 f"more (in flight at the kill); one more eval sent {e['last_run_requests']} requests |"]
    if "pipelines" in results:
        rows += pipeline_rows(results["pipelines"])
    for case in results.get("hostile", {}).get("cases", []):
        exits = "/".join(str(e) for e in case.get("exits", [case["exit"]]))
        lost = case.get("lost", [])
        rows += [f"| hostile input: {case['case']} | exit {exits}, {case['seconds']} s, {case['peak_mb']} MB "
                 f"peak, {case['requests_sent']} requests sent, {case['output_lines']} lines: "
                 f"`{case['message'][:90]}`{'; **lost**: ' + ', '.join(lost) if lost else ''} |"]
    if "secrets" in results:
        s = results["secrets"]
        least = s.get("reached_at_least", {})
        levels = len(s["levels"]) if "levels" in s else "?"
        rows += [f"| secrets: {s['runs']} runs at {levels} log levels: {len(s['commands'])} commands and "
                 f"`sandbox serve` with every request failing, then every answer quoting the key, then every "
                 f"answer quoting it masked (its first 12 characters shown); a python grader looking for the key "
                 f"in its environment and ftctl's and echoing it masked; a working scenario with a fifth failing; "
                 f"an apply whose every write is refused quoting the key "
                 f"| canary key or its first 12 characters found in {len(s['leaks'])} outputs or files; reached at "
                 f"every level at least: "
                 f"{', '.join(f'{what} {n}' for what, n in least.items()) or '?'}"
                 f"{'; **not reached**: ' + ', '.join(s['not_reached']) if s.get('not_reached') else ''} |"]
    return "\n".join(rows)


def pipeline_rows(results: dict[str, Any]) -> list[str]:
    """The rows of the pipeline runs: chaos, then crashes."""
    rows = []
    for run in ("chaos", "chaos_lag_without_keys"):
        if run not in results:
            continue
        c = results[run]
        lag = f", job list {c['list_lag_s']:g} sandbox seconds behind creates" if c.get("list_lag_s") else ""
        keys = "" if c.get("idempotency_keys", True) else ", idempotency keys ignored"
        rows += [f"| pipelines under chaos ({c['seeds']} seeds × {c['pipelines']} pipelines of 3 stages, "
                 f"{c['fault_rate']:.0%} faults{lag}{keys}, `apply --wait` built then retrained) | converged under "
                 f"faults: {c['converged_under_faults']}; once the faults stopped: "
                 f"{c['seeds'] - c['not_converged_once_faults_stop']} of {c['seeds']}; `apply --wait` runs: "
                 f"{c['applies']}; unsafe seeds: {c['unsafe']}; duplicate stage jobs: "
                 f"{c['duplicates_created']}; stages made on a stale base: {c['stale_bases']}; jobs wrongly cancelled: "
                 f"{c['wrongly_cancelled']} |"]
    if "crash" in results:
        c = results["crash"]
        writes = c.get("writes_before_kills") or []
        counted = f"; writes before each kill: {min(writes)} to {max(writes)}" if writes else ""
        rows += [f"| pipelines under crashes ({c['trials']} trials × {c['pipelines']} pipelines of 3 stages, "
                 f"`apply --wait` killed while building or retraining) | killed mid-apply, after the first write: "
                 f"{c['killed_mid_apply']} (an `apply --wait` left alone: first write at {c['first_write_s']} s, done "
                 f"at {c['undisturbed_apply_s']} s){counted}; converged after applying again: "
                 f"{c['converged_after_rerun']} of {c['trials']}; duplicate stage jobs: {c['duplicates_created']}; "
                 f"stages made on a stale base: {c['stale_bases']}; jobs wrongly cancelled: {c['wrongly_cancelled']} |"]
    return rows


def write_page(results: dict[str, Any]) -> None:
    write_between(PAGE, START, END, table(results))


def verdicts(results: dict[str, Any]) -> list[str]:
    """Each guarantee that did not hold, in words."""
    broken = []
    for run, keys in CHAOS.items():
        c = results.get(run, {})
        if c and (c["unsafe"] or c["not_converged_once_faults_stop"] or c["duplicates_created"]
                  or c.get("duplicate_uploads_made") or c.get("duplicate_uploads_left")):
            broken.append(f"chaos, keys {keys}: {c['unsafe']} seeds unsafe, {c['not_converged_once_faults_stop']} "
                          f"not converged once the faults stopped, {c['duplicates_created']} duplicate jobs, files "
                          f"uploaded twice {c.get('duplicate_uploads_made')} (left {c.get('duplicate_uploads_left')})")
    if "crash" in results:
        c = results["crash"]
        if c["converged_after_rerun"] != c["trials"] or c["duplicates_created"]:
            broken.append(f"crash: {c['trials'] - c['converged_after_rerun']} trials not converged after a rerun, "
                          f"{c['duplicates_created']} duplicate jobs")
        if any(n < 1 for n in c.get("writes_before_kills", [])):
            broken.append("crash: a kill counted as mid-apply came before the run's first write")
        if c["trials"] < c.get("asked", 0):
            broken.append(f"crash: only {c['trials']} of {c['asked']} trials were killed mid-apply")
    if "concurrency" in results:
        for case in results["concurrency"]["cases"]:
            after = case["after_one_more_apply"]
            # without keys, copies of a file uploaded in the same second are kept (a run may use either)
            keyed_duplicates = case["idempotency_keys"] and (case["duplicates_created"] or after["duplicate_uploads"]
                                                             or after.get("duplicate_uploads_made", 0))
            if after["extra_active"] or after["missing"] or after["wrongly_cancelled"] \
                    or case.get("agreed") is False or case.get("jobs_changed_by_one_more_apply", 0) \
                    or after.get("newer_uploads", 0) or after.get("jobs_missing_a_file", 0) \
                    or case.get("jobs_missing_a_file_when_runs_ended", 0) or case.get("failed_runs", 0) \
                    or case["duplicates_active_when_runs_ended"] or keyed_duplicates:
                broken.append(f"concurrency: {case['runs']} applies, keys "
                              f"{'honoured' if case['idempotency_keys'] else 'ignored'}: {case}")
    for run, c in results.get("pipelines", {}).items():
        if c["unsafe"] or c["duplicates_created"] or c["stale_bases"] or c["wrongly_cancelled"] \
                or c.get("not_converged_once_faults_stop") or c.get("converged_after_rerun", 0) != c.get("trials", 0):
            broken.append(f"pipelines, {run}: {c['unsafe']} unsafe, {c['duplicates_created']} duplicate stage jobs, "
                          f"{c['stale_bases']} stages on a stale base, {c['wrongly_cancelled']} wrongly cancelled, "
                          f"{c.get('not_converged_once_faults_stop', 0)} seeds not converged once the faults stopped, "
                          f"{c.get('trials', 0) - c.get('converged_after_rerun', 0)} trials not converged after "
                          "a rerun")
        if run == "crash" and (any(n < 1 for n in c.get("writes_before_kills", [])) or c["trials"] < c["asked"]):
            broken.append(f"pipelines, crash: {c['trials']} of {c['asked']} trials killed mid-apply, writes before "
                          f"the kills {c.get('writes_before_kills')}")
    for case in results.get("hostile", {}).get("cases", []):
        exits = case.get("exits", [case["exit"], case["plan_exit"]])
        if any(e != case.get("expected_exit", 1) for e in exits) or case["requests_sent"] or \
                case["seconds"] > case.get("max_seconds", 30) or case["peak_mb"] > 200 or case["output_lines"] > 25 \
                or case.get("unclear") or case.get("lost"):
            broken.append(f"hostile input: {case}")
    if "evals" in results and not results["evals"]["held"]:
        broken.append(f"evaluations under faults and a kill: {results['evals']}")
    if results.get("secrets", {}).get("leaks"):
        broken.append(f"secrets: the key appeared in {results['secrets']['leaks']}")
    if results.get("secrets", {}).get("not_reached"):
        broken.append(f"secrets: the runs never reached {results['secrets']['not_reached']}, so they prove nothing "
                      "of them")
    return broken


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    every = ["chaos", "crash", "concurrency", "evals", "pipelines", "hostile", "secrets"]
    chosen = [a for a in argv if a in every] or every
    results: dict[str, Any] = {"machine": machine()}
    if "chaos" in chosen:
        print("== chaos: 30% faults of every kind, 20 ms latency", flush=True)
        results["chaos"] = chaos.run(seeds=3 if quick else 20, manifests=6 if quick else 20)
        print("== chaos against an API that ignores Idempotency-Key", flush=True)
        results["chaos_without_keys"] = chaos.run(seeds=3 if quick else 20, manifests=6 if quick else 20, keys=False)
        for keyed, run in ((True, "chaos_lag"), (False, "chaos_lag_without_keys")):
            print(f"== chaos with the job list {LAG_S:g} s behind creates, Idempotency-Key "
                  f"{'honoured' if keyed else 'ignored'}", flush=True)
            results[run] = chaos.run(seeds=3 if quick else 10, manifests=6 if quick else 20, keys=keyed, lag_s=LAG_S)
    if "crash" in chosen:
        print("== crash: SIGKILL at a random moment, then apply again", flush=True)
        results["crash"] = crash.run(trials=3 if quick else 20, manifests=6 if quick else 20)
    if "concurrency" in chosen:
        print("== concurrency: applies started together", flush=True)
        results["concurrency"] = concurrency.run(manifests=6 if quick else 20)
    if "evals" in chosen:
        print("== evaluations: 30% faults on chat completions, SIGKILL mid-eval, then eval again", flush=True)
        results["evals"] = evals.run(items=60 if quick else 400)
        print(f"  {results['evals']}", flush=True)
    if "pipelines" in chosen:
        print("== pipelines: 30% faults, then SIGKILL of apply --wait, while building and retraining", flush=True)
        results["pipelines"] = pipelines.run(seeds=2 if quick else 10, trials=2 if quick else 10,
                                             pipelines=1 if quick else 3, lag_seeds=1 if quick else 5)
    if "hostile" in chosen:
        print("== hostile input", flush=True)
        results["hostile"] = hostile.run()
    if "secrets" in chosen:
        print("== secrets: a canary key against an API that fails in every way, and quotes the key", flush=True)
        results["secrets"] = secrets.run()
    broken = verdicts(results)
    if not quick:
        stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        merged = {**stored.get("reliability", {}), **results}  # a run of some parts keeps the others' figures
        stored["reliability"] = merged
        RESULTS.write_text(json.dumps(stored, indent=2) + "\n")
        if set(every) <= set(merged):
            write_page(merged)
        print(f"\nwrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    for line in broken:
        print(f"NOT HELD: {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
