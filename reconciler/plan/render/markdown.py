"""The plan as a pull-request comment: counts first, then one collapsible section per action.

Everything a reviewer approves is in it: a create's whole request as a YAML block, each field
change in a table, and multi-line values (python grader source) as fenced ``diff`` blocks outside
any table, so that the comment stays well-formed whatever the values hold.
"""

from __future__ import annotations

import html
import re

from reconciler.plan.model import (
    Action,
    CancelAction,
    Change,
    CreateAction,
    EvaluateAction,
    PauseAction,
    Plan,
    ReplaceAction,
    ResumeAction,
)
from reconciler.plan.render import graph
from reconciler.plan.render.values import (
    SYMBOLS,
    budget_lines,
    change_value,
    estimate_line,
    eval_estimate_line,
    finished_orphans_line,
    live_orphans,
    request_yaml,
    shown_kinds,
    subject,
    summary_line,
    total_cost,
    unified,
)


def _longest_run(text: str, char: str = "`") -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", text)), default=0)


def code(text: str) -> str:
    """An inline code span that holds any text, safe inside a table cell."""
    ticks = "`" * (_longest_run(text) + 1)
    text = text.replace("|", "\\|")
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(lines: list[str], info: str) -> list[str]:
    fence = "`" * max(3, _longest_run("\n".join(lines)) + 1)
    return [f"{fence}{info}", *lines, fence]


def _changes(changes: list[Change]) -> list[str]:
    out: list[str] = []
    single = [c for c in changes if not c.multiline]
    if single:
        out += ["| field | before | after |", "|---|---|---|"]
        out += [f"| {code(c.dotted)} | {code(change_value(c, 'before'))} | {code(change_value(c, 'after'))} |"
                for c in single]
        out.append("")
    for c in changes:
        if c.multiline:
            out += [f"{code(c.dotted)}:", "", *fenced(unified(c), "diff"), ""]
    return out


def _body(a: Action) -> list[str]:
    body = [f"**Reason:** {html.escape(a.reason, quote=False)}", ""]
    if isinstance(a, CreateAction) and a.blocked_by is not None:
        body += [f"Blocked: not created by this plan; it waits for `{a.blocked_by.name}`.", ""]
    if isinstance(a, CreateAction | ReplaceAction):
        if a.estimate is not None:
            body += [f"**Estimate:** {estimate_line(a.estimate)}", ""]
        if a.then_pause:
            body += ["Then paused once it runs (`state: paused`).", ""]
        if a.changes:
            body += ["**Changes**", "", *_changes(a.changes)]
        body += ["**Request**", "", *fenced(request_yaml(a.after.display_tree()), "yaml"), ""]
    elif isinstance(a, EvaluateAction):
        body += [f"Job `{a.job_id}` trained `{a.model}`.", ""]
        if a.estimate is not None:
            body += [f"**Estimate:** {eval_estimate_line(a.estimate)}", ""]
    elif isinstance(a, CancelAction | PauseAction | ResumeAction):
        body += [f"Job `{a.job_id}` is {a.before.status} now.", ""]
    return body


def render_markdown(plan: Plan) -> str:
    counts = plan.summary
    out = [f"### ftctl plan — stack `{plan.stack}`", ""]
    if plan.has_changes:
        kinds = shown_kinds(plan)
        out.append("| " + " | ".join(kinds) + " |")
        out.append("|" + "---|" * len(kinds))
        out.append("| " + " | ".join(str(counts[k]) for k in kinds) + " |")
        out.append("")
    cost = total_cost(plan)
    if cost:
        out += [cost, ""]
    for line, warn in budget_lines(plan):
        out += [f"> **⚠️ {line}**" if warn else line, ""]
    if plan.stages:  # a pipeline: GitHub draws the stages and how far each is
        out += ["**Pipeline**", "", *fenced(graph.mermaid(plan.stages), "mermaid"), ""]
    for a in plan.actions:
        waits = (f" — waits for {html.escape(a.blocked_by.name)}"
                 if isinstance(a, CreateAction) and a.blocked_by is not None else "")
        out += [f"<details><summary><code>{SYMBOLS[a.action]}</code> <b>{a.action}</b> "
                f"{html.escape(subject(a))}{waits}</summary>", "", *_body(a), "</details>", ""]
    running, finished = live_orphans(plan)
    for title, notices, more in (("Failed jobs", plan.failed, 0), ("Orphans", running, finished),
                                 ("Notes", plan.notes, 0)):
        if notices or more:
            out.append(f"**{title}**")
            out += [f"- `{n.name}`" + (f" ({n.job_id}, {n.status})" if n.job_id else "")
                    + f": {html.escape(n.message, quote=False)}" for n in notices]
            if more:
                out.append(f"- {finished_orphans_line(more, bool(notices))}")
            out.append("")
    if plan.warnings:
        out.append("**Warnings**")
        out += [f"- {html.escape(w, quote=False)}" for w in plan.warnings]
        out.append("")
    out.append(f"**{summary_line(plan)}**")
    return "\n".join(out) + "\n"
