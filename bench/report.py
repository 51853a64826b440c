"""The figures of ``bench/results.json`` as the tables of ``docs/performance.md`` and the README,
written between their markers by ``make bench`` (and ``make reliability``) after a run, so that
the pages carry the last run's own numbers and the machine it ran on.

Usage: python -m bench.report
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.results import load
from reliability.harness import write_between

REPO = Path(__file__).resolve().parent.parent
PERFORMANCE = REPO / "docs" / "performance.md"
README = REPO / "README.md"
START, END = "<!-- figures: written by python -m bench.report -->", "<!-- /figures -->"


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def _machines(ms: list[dict[str, Any]]) -> str:
    """One entry per machine, with the span of times its benchmarks ran (they run one after another)."""
    by_machine: dict[str, list[str]] = {}
    for m in ms:
        by_machine.setdefault(f"{m['system']}, {m['cpus']} CPUs, Python {m['python']}", []).append(m["when"])
    return "; ".join(f"{min(w)}{' – ' + max(w) if max(w) != min(w) else ''}, {name}"
                     for name, w in sorted(by_machine.items(), key=lambda kv: min(kv[1])))


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


Row = tuple[str, str, str, str, str]


def performance_rows(r: dict[str, Any], summary: bool = False) -> list[Row]:
    """(what, goal, measured, baseline in the same run, verdict) per figure; ``summary``: only the
    largest case of each kind (the README's table)."""
    rows: list[Row] = []
    if "plan" in r:
        p = r["plan"]
        for row in p["rows"]:
            if summary and (row["manifests"], row["live_jobs"]) != (1000, 10_000):
                continue
            rows.append((f"`ftctl plan`, {row['manifests']:,} manifests × {row['live_jobs']:,} jobs "
                         f"({row['managed_jobs']:,} of the stack) × {row['live_files']:,} files, "
                         f"{p['latency_ms']} ms per request",
                         f"≤ {row['request_goal']} requests" + (f", < {p['goal_seconds']} s"
                                                                 if (row["manifests"], row["live_jobs"]) ==
                                                                 (1000, 10_000) else ""),
                         f"{row['requests']} requests, {row['seconds']:.2f} s",
                         (f"SDK script listing the stack once: {row['competent_requests']:,} requests, "
                          f"{row['competent_seconds']:.2f} s; " if "competent_seconds" in row else "")
                         + (f"per manifest: {row['script_requests']:,} requests, {row['script_seconds']:.2f} s"
                            if "script_seconds" in row else "—"),
                         _verdict(row["requests"] <= row["request_goal"] and (
                             (row["manifests"], row["live_jobs"]) != (1000, 10_000) or
                             row["seconds"] < p["goal_seconds"]))))
            if "new_data_seconds" in row:
                at_goal = (row["manifests"], row["live_jobs"]) == (1000, 10_000)
                rows.append((f"`ftctl plan`, the same with new data for every manifest (files listed and matched, "
                             f"{row['manifests']:,} replaces)",
                             f"≤ {row['new_data_request_goal']} requests"
                             + (f", < {p['goal_seconds']} s" if at_goal else ""),
                             f"{row['new_data_requests']} requests, {row['new_data_seconds']:.2f} s",
                             f"the same plan with no change: {row['requests']} requests, {row['seconds']:.2f} s",
                             _verdict(row["new_data_requests"] <= row["new_data_request_goal"] and
                                      (not at_goal or row["new_data_seconds"] < p["goal_seconds"]))))
    if "planner" in r and not summary:
        by_n = {row["manifests"]: row for row in r["planner"]["rows"]}
        if 1000 in by_n:
            row = by_n[1000]
            rows.append(("planner alone, 1,000 manifests × 10,000 jobs × 20,000 files, in memory",
                         f"< {r['planner']['goal_seconds_at_1000']} s", f"{row['seconds']:.2f} s",
                         f"file matching by scanning: {row.get('baseline_matching_seconds', 0):.1f} s",
                         _verdict(row["seconds"] < r["planner"]["goal_seconds_at_1000"])))
    if "sandbox" in r:
        s = r["sandbox"]
        c = s["concurrent"]
        rows.append((f"sandbox: a filtered page of 100 out of {s['jobs']:,} jobs",
                     f"median < {s['goal_median_ms']:.0f} ms",
                     f"median {s['filtered']['median_ms']} ms, p95 {s['filtered']['p95_ms']} ms",
                     f"unfiltered page: median {s['unfiltered']['median_ms']} ms",
                     _verdict(s["filtered"]["median_ms"] < s["goal_median_ms"])))
        rows.append((f"sandbox: {c['clients']} clients at once", "no error",
                     f"{c['requests']} pages, {c['errors']} errors, median {c['median_ms']} ms, "
                     f"{c['requests_per_s']} pages/s", "—", _verdict(c["errors"] == 0)))
    if "apply" in r:
        a = r["apply"]
        s = a["seconds_by_parallelism"]
        rows.append((f"`ftctl apply`, {a['creates']} creates at {a['latency_ms']} ms per request, "
                     "`--parallelism` 1 / 4 / 16", f"≥ {a['goal']:.0f}× faster at 16 than at 1",
                     f"{s['1']:.1f} s / {s['4']:.1f} s / {s['16']:.1f} s: ×{a['speedup_at_16']}",
                     f"`--parallelism 1`: {s['1']:.1f} s",
                     _verdict(a["met"])))
    if "datasets" in r:
        d = r["datasets"]
        sizes = sorted({row["size_mb"] for row in d["rows"]})
        slowest = min((row for row in d["rows"] if row["mode"] == "streaming"), key=lambda row: row["mb_per_s"])
        for size in sizes[-1:] if summary else sizes:
            got = {row["mode"]: row for row in d["rows"] if row["size_mb"] == size}
            if "streaming" not in got:
                continue
            s = got["streaming"]
            floor = "hashlib" if "hashlib" in got else "sha256sum"  # runs before issue 25 had no hashlib
            named = {"hashlib": "`hashlib.file_digest`", "sha256sum": "`sha256sum`"}
            base = [f"{named[m]}: {got[m]['mb_per_s']:.0f} MB/s" for m in ("hashlib", "sha256sum") if m in got]
            if "baseline" in got:
                base.append(f"load everything: {got['baseline']['mb_per_s']:.0f} MB/s, "
                            f"{got['baseline']['peak_mb']:,.0f} MB")
            ratio = got[floor]["mb_per_s"] / s["mb_per_s"] if floor in got else 0
            rows.append((f"validation + sha256 of a {size:,} MB chat file, streaming",
                         f"≥ {d['goal_mb_per_s']:.0f} MB/s, within {d['goal_ratio']:g}× of {named[floor]}"
                         + (f", < {d['goal_peak_mb']:.0f} MB peak" if size >= 1000 else ""),
                         f"{s['mb_per_s']:.0f} MB/s ({ratio:.1f}× {named[floor]}'s time), {s['peak_mb']:.0f} MB peak"
                         + (f"; the slowest size, {slowest['size_mb']:,} MB: {slowest['mb_per_s']:.0f} MB/s"
                            if summary and slowest is not s else ""),
                         "; ".join(base) or "—",
                         _verdict(d["met"]) if summary else
                         _verdict(s["mb_per_s"] >= d["goal_mb_per_s"] and ratio <= d["goal_ratio"] and
                                  (size < 1000 or s["peak_mb"] < d["goal_peak_mb"]))))
    if "evaluation" in r:
        e = r["evaluation"]
        one, sixteen = e["runs"]
        rows.append((f"`ftctl eval`, {e['items']:,} items at {e['latency_ms']} ms per completion, `--parallelism` "
                     "1 / 16, empty cache", f"≥ {e['goal_speedup']:.0f}× faster at 16 than at 1",
                     f"{one['seconds']:.1f} s / {sixteen['seconds']:.1f} s: ×{e['speedup_at_16']} "
                     f"({sixteen['requests']:,} completions)", f"`--parallelism 1`: {one['seconds']:.1f} s",
                     _verdict(e["speedup_at_16"] >= e["goal_speedup"])))
        c = e["cached"]
        rows.append(("`ftctl eval` again, from the cache", f"0 requests, < {e['goal_cached_s']:.0f} s",
                     f"{c['requests']} requests, {c['seconds']:.2f} s",
                     f"the first run: {sixteen['requests']:,} requests, {sixteen['seconds']:.1f} s",
                     _verdict(c["requests"] == 0 and c["seconds"] < e["goal_cached_s"])))
        if not summary:
            g = e["graded_per_s"]
            rows.append((f"grader engine, {e['graded_answers']:,} answers in this process", "—",
                         f"python grader (one child process): {g['python']:,} answers/s",
                         f"string_check: {g['string_check']:,} answers/s", "—"))
    if "pipeline" in r:
        p = r["pipeline"]
        f, s, sp = p["ftctl"], p["script"], p["script_progress"]
        rows.append((f"`ftctl apply --wait`, a {p['stages']}-stage pipeline (supervised → DPO → supervised), each poll "
                     f"{p['seconds_per_poll']:g} s of a job's time later",
                     f"≤ {p['goal_list_pages_per_poll']} list page per poll",
                     f"{f['requests']} requests, {f['per_transition']:g} per status transition ({p['transitions']}); "
                     f"{f['polls']} polls of {f['per_poll']:g} requests: at most "
                     f"{_count(f['max_list_pages_per_poll'], 'list page')} and "
                     f"{_count(f['max_job_reads_per_poll'], 'read')} by ID in one",
                     f"SDK script, `jobs.retrieve` each poll: {s['requests']} requests, {s['per_transition']:g} per "
                     f"transition ({s['polls']} polls); with `list_events` for progress: {sp['requests']} requests, "
                     f"{sp['per_transition']:g} per transition",
                     _verdict(p["met"])))
    if "startup" in r:
        s = r["startup"]
        ratios = s.get("ratios", {})  # runs before issue 25 had milliseconds only
        for name, ms in s["median_ms"].items():
            shown = f"`ftctl {name}`" if name.startswith("--") else "`ftctl validate` of one manifest"
            if name in ratios:
                floor = s["ratio_floors"][name]
                rows.append((shown, f"within {s['ratio_goals'][name]:g}× of `python -c \"{floor}\"`",
                             f"{ms} ms (median of 9): {ratios[name]:g}×",
                             f"`python -c \"{floor}\"`: {s['floors_ms'][floor]} ms",
                             _verdict(ratios[name] <= s["ratio_goals"][name])))
                continue
            rows.append((shown, f"< {s['goals_ms'][name]} ms", f"{ms} ms (median of 9)",
                         f"`python -c pass`: {s['interpreter_ms']} ms", _verdict(ms < s["goals_ms"][name])))
    return rows


def performance_table(r: dict[str, Any]) -> str:
    machines = _machines([r[k]["machine"] for k in ("plan", "planner", "sandbox", "apply", "datasets", "evaluation",
                                                      "pipeline", "startup")
                          if k in r and "machine" in r[k]])
    lines = [f"Last run: {machines}.", "", "| what | goal | measured | baseline, same run | |",
             "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in performance_rows(r)]
    return "\n".join(lines)


def readme_table(r: dict[str, Any]) -> str:
    """One line per claim: reliability first, then the performance goals."""
    lines = ["| claim | last run |", "|---|---|"]
    rel = r.get("reliability", {})
    for run, keys in (("chaos", "honoured"), ("chaos_without_keys", "ignored"), ("chaos_lag", "honoured"),
                      ("chaos_lag_without_keys", "ignored")):
        if run not in rel:
            continue
        c = rel[run]
        lag = f", a job list {c['list_lag_s']:g} s behind creates" if c.get("list_lag_s") else ""
        lines.append(f"| no duplicate job or upload, nothing lost under {c['fault_rate']:.0%} faults of every kind"
                     f"{lag}, idempotency keys {keys} | {c['seeds']} seeds × {c['manifests']} manifests: "
                     f"{c['duplicates_created']} duplicate jobs, {c.get('duplicate_uploads_made', '?')} files "
                     f"uploaded twice, {c['unsafe']} unsafe seeds; {c['converged_in_one'] + c['converged_in_two']} "
                     f"converged within two applies under faults, {c['seeds'] - c['not_converged_once_faults_stop']} "
                     "once they stopped |")
    if "crash" in rel:
        c = rel["crash"]
        lines.append(f"| a crash loses nothing | {c['trials']} SIGKILLs mid-apply, then apply: "
                     f"{c['converged_after_rerun']} converged, {c['duplicates_created']} duplicates |")
    if "concurrency" in rel:
        cases = rel["concurrency"]["cases"]
        keyed = sum(c["duplicates_created"] for c in cases if c["idempotency_keys"])
        left = sum(c["duplicates_active_when_runs_ended"] + c["after_one_more_apply"]["extra_active"] for c in cases)
        uploads = sum(c["after_one_more_apply"]["duplicate_uploads"] for c in cases)
        newer = sum(c["after_one_more_apply"].get("newer_uploads", 0) for c in cases)
        agreed = sum(1 for c in cases if c.get("agreed") and not c.get("jobs_changed_by_one_more_apply"))
        lines.append(f"| concurrent applies agree | {' and '.join(sorted({str(c['runs']) for c in cases}))} applies "
                     f"together, with and without idempotency keys: the runs agreed in {agreed} of {len(cases)} "
                     f"cases (one current job per manifest when they ended, nothing left for one more apply); "
                     f"{left} duplicate jobs left running; {newer} "
                     f"newer copies of an upload left, {uploads - newer} made in the same second kept (either may "
                     f"be in use); {keyed} jobs created twice while the keys were honoured |")
    pipelines = rel.get("pipelines", {})
    runs = [pipelines[k] for k in ("chaos", "chaos_lag_without_keys") if k in pipelines]
    if runs:
        crash = pipelines.get("crash", {})
        lines.append("| a pipeline never trains a stage twice or on a stale base | "
                     + "; ".join(f"{c['seeds']} seeds × {c['pipelines']} pipelines under {c['fault_rate']:.0%} faults"
                                 + (" (a lagging list, keys ignored)" if c.get("list_lag_s") else "")
                                 + f": {c['duplicates_created']} duplicate stage jobs, {c['stale_bases']} stale bases, "
                                 f"{c['seeds'] - c['not_converged_once_faults_stop']} converged once they stopped"
                                 for c in runs)
                     + (f"; {crash['trials']} SIGKILLs of `apply --wait`: {crash['converged_after_rerun']} "
                        f"converged, {crash['duplicates_created']} duplicates, {crash['stale_bases']} stale bases"
                        if crash else "")
                     + " |")
    if "evals" in rel:
        e = rel["evals"]
        lines.append(f"| an evaluation grades each item once, killed or under faults | {e['items']} items, "
                     f"{e['fault_rate']:.0%} faults, SIGKILL mid-eval, then reruns: graded exactly once: "
                     f"{'yes' if e['graded_exactly_once'] else '**no**'}, {e['paid_again_beyond_lost']} completions "
                     f"paid again beyond the {e['answers_lost_after_the_write']} answers lost after the write |")
    if "hostile" in rel:
        cases = rel["hostile"]["cases"]
        unclear = sum(1 for c in cases if c.get("unclear"))
        slow = [c for c in cases if c.get("max_seconds", 30) > 30]  # a grader that never returns: its time limit
        quick = [c for c in cases if c not in slow] or cases
        bounded = "".join(f" ({c['case']}: {c['seconds']} s, bounded by {c['max_seconds']:g} s)" for c in slow)
        lost = [f"{c['case']}: {', '.join(c['lost'])}" for c in cases if c.get("lost")]
        exits = sorted({str(e) for c in cases for e in c.get("exits", [c["exit"]])})
        lines.append(f"| hostile input refused or bounded with a clear message, nothing sent | {len(cases)} kinds: "
                     f"{len(cases) - unclear} naming the file (and line) and the reason, exit {'/'.join(exits)}, "
                     f"{sum(c['requests_sent'] for c in cases)} requests, ≤ {max(c['seconds'] for c in quick)} s"
                     f"{bounded}, ≤ {max(c['peak_mb'] for c in cases)} MB"
                     f"{'; **lost**: ' + '; '.join(lost) if lost else ''} |")
    if "secrets" in rel:
        s = rel["secrets"]
        lines.append(f"| the key is never shown | {s['runs']} runs at every log level against an API failing every "
                     f"request in every way or quoting the key (to reads, then to writes), and one failing a fifth: "
                     f"{len(s['leaks'])} leaks"
                     f"{'; **not reached**: ' + ', '.join(s['not_reached']) if s.get('not_reached') else ''} |")
    for what, goal, measured, _, verdict in performance_rows(r, summary=True):
        lines.append(f"| {what}: {goal} | {measured} ({verdict}) |")
    return "\n".join(lines)


def write() -> None:
    r = load()
    write_between(PERFORMANCE, START, END, performance_table(r))
    write_between(README, START, END, readme_table(r))


if __name__ == "__main__":
    write()
    print(f"wrote the figures of {REPO / 'bench' / 'results.json'} into docs/performance.md and README.md")
