"""An evaluation's reports as ``ftctl eval`` prints them: text for a terminal, JSON for tools (SPEC §11:
per name the model, baseline, scores, counts, the gate and the worst items), and markdown for a pull
request: a table (model, baseline, score, Δ, gate), a mermaid ``xychart-beta`` bar chart of the
trained model against its baseline per name, and the worst items folded in ``<details>``.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from typing import Any

from reconciler.api.completions import Usage
from reconciler.diagnostics import plural
from reconciler.session.eval_report import EvalReport, number
from reconciler.session.evaluating import Skipped

Outcome = EvalReport | Skipped
WIDTH = 100


def _short(text: str, width: int = WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def _signed(value: float) -> str:
    shown = number(value)
    return shown if shown.startswith("-") or shown == "0.00" else "+" + shown


def _counts(items: int, errors: int | None) -> str:
    return f"{items} items, {errors or 0} {'error' if errors == 1 else 'errors'}"


def _verdict(outcomes: Sequence[Outcome]) -> str:
    reports = [o for o in outcomes if isinstance(o, EvalReport)]
    skipped = [o for o in outcomes if isinstance(o, Skipped)]
    failed = [r.name for r in reports if not r.passed] + [s.name for s in skipped if s.gated]
    said = f"{len(reports)} evaluated" + (f", {len(skipped)} not evaluated" if skipped else "")
    if failed:
        return f"{said}; gate not passed: {', '.join(failed)}."
    if any(r.gate is not None for r in reports):
        return f"{said}; every gate passed."
    return f"{said}; no gate."


def _sent(usage: Usage) -> str:
    if not usage.requests:
        return "Sent no request: every answer was in the cache (.ftctl/cache)."
    return (f"Sent {plural(usage.requests, 'request')}: {usage.prompt_tokens:,} prompt tokens, "
            f"{usage.completion_tokens:,} answer tokens (what was in the cache was not asked for again).")


def render_text(outcomes: Sequence[Outcome], stack: str, usage: Usage | None = None) -> str:
    out = [f'ftctl eval for stack "{stack}"', ""]
    for o in outcomes:
        if isinstance(o, Skipped):
            out += [f"{o.name}: not evaluated: {o.reason}" + (" (its gate is not passed)" if o.gated else ""), ""]
            continue
        out.append(f"{o.name}: {o.model} (job {o.job_id})" + (f" vs {o.baseline}" if o.baseline else ""))
        out.append(f"  score     {number(o.score)}  ({_counts(o.items, o.errors)})")
        if o.baseline_score is not None and o.gain is not None:
            out.append(f"  baseline  {number(o.baseline_score)}  ({_counts(o.items, o.baseline_errors)})")
            out.append(f"  gain      {_signed(o.gain)}")
        for name, value in o.parts.items():
            base = o.baseline_parts.get(name)
            out.append(f"  {name}: {number(value)}" + (f" (baseline {number(base)})" if base is not None else ""))
        if o.gate is not None:
            subset = f" (on the first {o.items} items only: not kept for the gates)" if o.limited else ""
            out.append(f"  gate      {'passed' if o.gate.passed else 'FAILED'}: {o.gate.reason}{subset}")
        if o.unanswered:
            out.append(f"  incomplete: {o.unanswered} of {o.items * (2 if o.baseline else 1)} completions failed "
                       f"({o.failure}); run again for the rest (the report is not kept for the gates until then)")
        if o.worst:
            out.append("  worst items:")
            for w in o.worst:
                out.append(f"    line {w.line}  {number(w.score)}  {_short(w.prompt)}")
                said = [_short(w.answer)] if w.answer else []
                out.append("      → " + "  ".join(said + ([f"({w.error})"] if w.error else [])))
        out.append("")
    out.append(_verdict(outcomes))
    if usage is not None and any(isinstance(o, EvalReport) for o in outcomes):  # nothing evaluated: nothing to say
        out.append(_sent(usage))
    return "\n".join(out) + "\n"


def as_json(outcomes: Sequence[Outcome], stack: str, usage: Usage | None = None) -> dict[str, Any]:
    reports = {o.name: o.model_dump(mode="json", exclude={"name"}) for o in outcomes if isinstance(o, EvalReport)}
    skipped = {o.name: {"reason": o.reason, "gated": o.gated} for o in outcomes if isinstance(o, Skipped)}
    passed = all(o.passed for o in outcomes if isinstance(o, EvalReport)) and not any(
        o.gated for o in outcomes if isinstance(o, Skipped))
    data = {"version": 1, "stack": stack, "passed": passed, "evaluations": reports, "not_evaluated": skipped}
    if usage is not None:
        data["sent"] = dataclasses.asdict(usage)
    return data


def render_json(outcomes: Sequence[Outcome], stack: str, usage: Usage | None = None) -> str:
    return json.dumps(as_json(outcomes, stack, usage), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return html.escape(_short(text), quote=False).replace("|", "\\|")


def render_markdown(outcomes: Sequence[Outcome], stack: str, usage: Usage | None = None) -> str:
    out = [f"### ftctl eval — stack `{stack}`", "", "| name | model | baseline | score | Δ | gate |",
           "|---|---|---|---|---|---|"]
    reports = [o for o in outcomes if isinstance(o, EvalReport)]
    for o in outcomes:
        if isinstance(o, Skipped):
            out.append(f"| {o.name} | | | | | {'❌' if o.gated else '⏳'} not evaluated: {_cell(o.reason)} |")
            continue
        baseline = (f"`{o.baseline}` {number(o.baseline_score)}" if o.baseline and o.baseline_score is not None
                    else "—")
        gate = "—" if o.gate is None else f"{'✅' if o.gate.passed else '❌'} {_cell(o.gate.reason)}"
        delta = _signed(o.gain) if o.gain is not None else "—"
        out.append(f"| {o.name} | `{o.model}` | {baseline} | {number(o.score)} | {delta} | {gate} |")
    out.append("")
    if reports:
        names = ", ".join(json.dumps(r.name) for r in reports)
        out += ["```mermaid", "xychart-beta", '    title "Mean score: trained model (first bar) and baseline"',
                f"    x-axis [{names}]", '    y-axis "score" 0 --> 1',
                f"    bar [{', '.join(number(r.score) for r in reports)}]"]
        if any(r.baseline_score is not None for r in reports):
            out.append(f"    bar [{', '.join(number(r.baseline_score or 0.0) for r in reports)}]")
        out += ["```", ""]
    for r in reports:
        if not r.worst:
            continue
        out += ["<details>", f"<summary>{r.name}: the {len(r.worst)} worst items</summary>", "",
                "| line | score | prompt | answer |", "|---|---|---|---|"]
        out += [f"| {w.line} | {number(w.score)} | {_cell(w.prompt)} | {_cell(w.answer or w.error or '')} |"
                for w in r.worst]
        out += ["", "</details>", ""]
    out.append(f"**{_verdict(outcomes)}**")
    if usage is not None and any(isinstance(o, EvalReport) for o in outcomes):
        out += ["", _sent(usage)]
    return "\n".join(out) + "\n"
