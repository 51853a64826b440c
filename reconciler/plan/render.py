"""Renderers of one ``Plan``: text for a terminal, markdown for a pull request, JSON for machines."""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.plan.model import ORDER, Action, Plan

SYMBOLS = {"upload": "↑", "create": "+", "replace": "-/+", "cancel": "-", "pause": "~", "resume": "~"}
COLOURS = {"upload": "cyan", "create": "green", "replace": "yellow", "cancel": "red", "pause": "blue",
           "resume": "blue"}
VERBS = {"upload": "to upload", "create": "to create", "replace": "to replace", "cancel": "to cancel",
         "pause": "to pause", "resume": "to resume"}


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def summary_line(plan: Plan) -> str:
    counts = plan.summary
    if not plan.has_changes:
        return "No changes. The live jobs match the manifests."
    return "Plan: " + ", ".join(f"{counts[k]} {VERBS[k]}" for k in ORDER) + "."


def _subject(a: Action) -> str:
    if a.action == "upload" and a.file is not None:
        f = a.file
        known = f.examples is not None and f.tokens is not None
        counts = f", {f.examples} examples, ≈{f.tokens:,} tokens" if known else ""
        return f"{f.path} ({human_bytes(f.bytes)}{counts}) for {a.name}"
    return f"{a.name} ({a.job_id})" if a.job_id else a.name


def money(amount: float, currency: str) -> str:
    text = f"{amount:,.4f}" if amount < 1 else f"{amount:,.2f}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"


def estimate_line(est: dict[str, Any]) -> str:
    tokens = f"{est['tokens']:,} tokens" if est["exact"] else f"≈{est['tokens']:,} tokens (estimated)"
    line = (f"{est['examples']} examples, {tokens} × {est['epochs']} epochs = "
            f"{est['trained_tokens']:,} trained tokens")
    if est.get("cost") is not None:
        line += f", ≈{money(est['cost'], est['currency'])}"
    elif est.get("hourly") is not None:
        line += f", billed by training time at {money(est['hourly'], est['currency'])}/hour"
    else:
        line += ", no price known for this model"
    return line


def total_cost(plan: Plan) -> str | None:
    estimates = [a.after["estimate"] for a in plan.actions
                 if a.action in ("create", "replace") and a.after and a.after.get("estimate")]
    if not estimates:
        return None
    priced = [e for e in estimates if e.get("cost") is not None]
    total = sum(e["cost"] for e in priced)
    tokens = sum(e["trained_tokens"] for e in estimates)
    text = f"Estimated training: {tokens:,} trained tokens"
    if priced:
        text += f", ≈{money(total, priced[0]['currency'])}"
    unpriced = len(estimates) - len(priced)
    if unpriced:
        text += f" (+{unpriced} job(s) billed otherwise or without a known price)"
    return text + f"; prices as of {estimates[0]['prices_as_of']}."


def _details(a: Action) -> list[str]:
    lines: list[str] = []
    if a.action in ("create", "replace") and a.after:
        hyper = {k: v for k, v in (a.after.get("hyperparameters") or {}).items() if v not in ("auto", "default")}
        parts = [f"model={a.after['model']}", f"method={a.after['method']}"]
        parts += [f"{k}={v}" for k, v in hyper.items()]
        if a.after.get("suffix"):
            parts.append(f"suffix={a.after['suffix']}")
        lines.append("        " + " ".join(parts))
        if a.after.get("estimate"):
            lines.append("        " + estimate_line(a.after["estimate"]))
        if a.then_pause:
            lines.append("        then pause once it runs (state: paused)")
    for change in a.changes:
        lines.append(f"        ~ {change.path}: {_value(change.before)} → {_value(change.after)}")
    return lines


def render_text(plan: Plan, color: bool = False) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    out = [f'ftctl plan for stack "{plan.stack}"' + (f" on {plan.target}" if plan.target else ""), ""]
    for a in plan.actions:
        head = f"  {SYMBOLS[a.action]:>3} {a.action:<8} {_subject(a)}"
        out.append(style(head, fg=COLOURS[a.action], bold=True) + style(f"  # {a.reason}", dim=True))
        out.extend(_details(a))
    if plan.actions:
        out.append("")
    for title, notices in (("Failed jobs (not retried)", plan.failed), ("Orphans (no manifest)", plan.orphans),
                           ("Notes", plan.notes)):
        if notices:
            out.append(style(f"{title}:", bold=True))
            for n in notices:
                job = f" ({n.job_id}, {n.status})" if n.job_id else ""
                out.append(f"  ! {n.name}{job}: {n.message}")
            out.append("")
    cost = total_cost(plan)
    if cost:
        out.append(cost)
    out.append(style(summary_line(plan), bold=True))
    return "\n".join(out) + "\n"


def render_markdown(plan: Plan) -> str:
    counts = plan.summary
    out = [f"### ftctl plan — stack `{plan.stack}`", ""]
    if plan.has_changes:
        out.append("| " + " | ".join(ORDER) + " |")
        out.append("|" + "---|" * len(ORDER))
        out.append("| " + " | ".join(str(counts[k]) for k in ORDER) + " |")
    else:
        out.append("**No changes.** The live jobs match the manifests.")
    out.append("")
    cost = total_cost(plan)
    if cost:
        out += [cost, ""]
    for a in plan.actions:
        body = [f"**Reason:** {a.reason}", ""]
        if a.after and a.after.get("estimate"):
            body += [f"**Estimate:** {estimate_line(a.after['estimate'])}", ""]
        if a.changes:
            body += ["| field | before | after |", "|---|---|---|"]
            body += [f"| `{c.path}` | `{_value(c.before)}` | `{_value(c.after)}` |" for c in a.changes]
            body.append("")
        if a.after:
            body += ["```json", json.dumps(a.after, indent=2, ensure_ascii=False), "```"]
        out += [f"<details><summary><code>{SYMBOLS[a.action]}</code> <b>{a.action}</b> {_subject(a)}</summary>",
                "", *body, "", "</details>", ""]
    for title, notices in (("Failed jobs", plan.failed), ("Orphans", plan.orphans), ("Notes", plan.notes)):
        if notices:
            out.append(f"**{title}**")
            out += [f"- `{n.name}`" + (f" ({n.job_id}, {n.status})" if n.job_id else "") + f": {n.message}"
                    for n in notices]
            out.append("")
    return "\n".join(out)


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"
