"""The plan as a pull-request comment, to be approved from its collapsed view alone.

First the target and stack, the counts of every kind, the money line, and a GitHub alert
(``> [!WARNING]``, ``> [!CAUTION]``) whenever money is unknown or over budget or a running job is
cancelled; then one headline per action (its reason, estimate and changed fields), its details
collapsed beneath. A create's section holds its whole request as YAML; a replace's shows what
changed and collapses the rest. Short changes sit in a table; multi-line values (python grader
source) and long one-line strings are fenced ``diff`` blocks outside any table (the latter word by
word), so the comment stays well-formed and a change can be spotted whatever the values hold.
"""

from __future__ import annotations

import html
import re

from reconciler.plan.model import Action, Change, CreateAction, Plan, ReplaceAction
from reconciler.plan.render import graph
from reconciler.plan.render.overview import Overview, epochs_assumed, money_line, overview
from reconciler.plan.render.values import (
    block_diff,
    estimate_line,
    finished_orphans_line,
    live_orphans,
    orphans_line,
    request_yaml,
    shown_kinds,
    summary_line,
    value,
)

EMOJI = {"upload": "⬆️", "create": "🟢", "replace": "🔁", "cancel": "🛑", "pause": "⏸️", "resume": "▶️",
         "evaluate": "🧪"}
"""One sign per kind of action, in distinct shapes and colours (GitHub shows them in the collapsed view)."""


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


def _cell(c: Change, side: str) -> str:
    """One side of a change in a table: a value as code; absent, or unknown with why, in italics."""
    v = c.before if side == "before" else c.after
    if v is None:
        return f"*{c.note}*" if c.note is not None and side == "before" else "*absent*"
    note = f" *({c.note})*" if c.note is not None and side == "after" and c.before is not None else ""
    return code(value(v)) + note


def _changes(changes: list[Change]) -> list[str]:
    out: list[str] = []
    single = [c for c in changes if block_diff(c) is None]
    if single:
        out += ["| field | before | after |", "|---|---|---|"]
        out += [f"| {code(c.dotted)} | {_cell(c, 'before')} | {_cell(c, 'after')} |" for c in single]
        out.append("")
    for c in changes:
        block = block_diff(c)
        if block is not None:
            words = "" if c.multiline else " (word by word)"
            out += [f"{code(c.dotted)}{words}:", "", *fenced(block, "diff"), ""]
    return out


def _body(a: Action) -> list[str]:
    """What a section holds beneath its headline; empty when the headline says it all."""
    if not isinstance(a, CreateAction | ReplaceAction):
        return []
    body: list[str] = []
    if isinstance(a, CreateAction) and a.blocked_by is not None:
        body += [f"Blocked: not created by this plan; it waits for `{a.blocked_by.name}`.", ""]
    if a.estimate is not None:
        body += [f"**Estimate:** {estimate_line(a.estimate, epochs_assumed(a))}", ""]
    if a.then_pause:
        body += ["Then paused once it runs (`state: paused`).", ""]
    if a.changes:
        body += ["**Changes**", "", *_changes(a.changes)]
    request = fenced(request_yaml(a.after.display_tree()), "yaml")
    if isinstance(a, ReplaceAction):  # what changed is above: the unchanged rest stays folded
        body += ["<details><summary>The whole request</summary>", "", *request, "", "</details>", ""]
    else:
        body += ["**Request**", "", *request, ""]
    return body


HEADS = {"orphans": "active orphans"}
"""Column heads of the counts where the kind alone would mislead: finished orphans are listed, not counted."""


def _head(plan: Plan, ov: Overview) -> list[str]:
    where = f" on {html.escape(ov.target)}" if ov.target is not None else ""
    out = [f"### ftctl plan — stack `{plan.stack}`{where}", ""]
    if plan.has_changes or plan.failed or ov.kept_orphans:
        kinds = [*shown_kinds(plan), "failed", "orphans"]
        heads = [HEADS.get(k, k) for k in kinds]
        out += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(kinds),
                "| " + " | ".join(str(ov.counts[k]) for k in kinds) + " |", ""]
    for alert in ov.alerts:
        out += [f"> [!{alert.level}]", f"> {html.escape(alert.text, quote=False)}", ""]
    if ov.money is not None and not any(a.text == money_line(ov.money) for a in ov.alerts):
        out += [html.escape(money_line(ov.money), quote=False), ""]
    return out


def render_markdown(plan: Plan) -> str:
    ov = overview(plan)
    out = _head(plan, ov)
    if plan.stages:  # a pipeline: GitHub draws the stages and how far each is
        out += ["**Pipeline**", "", *fenced(graph.mermaid(plan.stages), "mermaid"), ""]
    for a, h in zip(plan.actions, ov.headlines, strict=True):
        line = f"{EMOJI[a.action]} <b>{a.action}</b> {html.escape(h.text, quote=False)}"
        body = _body(a)
        out += ([f"<details><summary>{line}</summary>", "", *body, "</details>", ""] if body else
                [f"<p>{line}</p>", ""])
    _, finished = live_orphans(plan)
    for title, notices, more in (("Failed jobs", plan.failed, 0), ("Orphans", ov.kept_orphans, finished),
                                 ("Notes", plan.notes, 0)):
        if notices or more:
            meaning = f": {orphans_line(plan, len(notices))}" if title == "Orphans" and notices else ""
            out.append(f"**{title}**{meaning}")
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
