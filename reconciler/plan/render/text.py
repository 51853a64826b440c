"""The plan as text for a terminal: one line per action, its details indented beneath.

Colour is plain ANSI and only when asked (the CLI asks on a terminal without ``NO_COLOR``).
"""

from __future__ import annotations

from reconciler.plan.model import Action, CreateAction, EvaluateAction, Plan, ReplaceAction
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
    subject,
    summary_line,
    total_cost,
    unified,
)

COLOURS = {"upload": 36, "create": 32, "replace": 33, "cancel": 31, "pause": 34, "resume": 34, "evaluate": 35}
PAD = " " * 8


def _details(a: Action) -> list[str]:
    if isinstance(a, EvaluateAction):
        return [f"{PAD}estimate: {eval_estimate_line(a.estimate)}"] if a.estimate is not None else []
    if not isinstance(a, CreateAction | ReplaceAction):
        return []
    lines: list[str] = []
    for change in a.changes:
        if change.multiline:
            lines.append(f"{PAD}~ {change.dotted}:")
            lines += [f"{PAD}    {line}" for line in unified(change)]
        else:
            lines.append(f"{PAD}~ {change.dotted}: {change_value(change, 'before')} → {change_value(change, 'after')}")
    if isinstance(a, CreateAction):  # a new job: the whole request (a replace shows what differs)
        lines += [PAD + line for line in request_yaml(a.after.display_tree())]
    if isinstance(a, CreateAction) and a.blocked_by is not None:
        lines.append(f"{PAD}blocked: not created by this plan; it waits for {a.blocked_by.name}")
    if a.estimate is not None:
        lines.append(f"{PAD}estimate: {estimate_line(a.estimate)}")
    if a.then_pause:
        lines.append(f"{PAD}then pause once it runs (state: paused)")
    return lines


def render_text(plan: Plan, color: bool = False) -> str:
    def style(text: str, *codes: int) -> str:
        return f"\x1b[{';'.join(map(str, codes))}m{text}\x1b[0m" if color and codes else text

    target = f" on {plan.target.label}" if plan.target is not None else ""
    out = [f'ftctl plan for stack "{plan.stack}"{target}', ""]
    if plan.stages:
        out += [style("Pipeline:", 1), *(f"  {line}" for line in graph.text(plan.stages)), ""]
    for a in plan.actions:
        head = f"  {SYMBOLS[a.action]:>3} {a.action:<8} {subject(a)}"
        out.append(style(head, 1, COLOURS[a.action]) + style(f"  # {a.reason}", 2))
        out.extend(_details(a))
    if plan.actions:
        out.append("")
    running, finished = live_orphans(plan)
    for title, notices, more in (("Failed jobs (not retried)", plan.failed, 0),
                                 ("Orphans (no manifest)", running, finished), ("Notes", plan.notes, 0)):
        if notices or more:
            out.append(style(f"{title}:", 1))
            for n in notices:
                job = f" ({n.job_id}, {n.status})" if n.job_id else ""
                out.append(f"  ! {n.name}{job}: {n.message}")
            if more:
                out.append(f"  ! {finished_orphans_line(more, bool(notices))}")
            out.append("")
    cost = total_cost(plan)
    if cost:
        out.append(cost)
    out += [style(line, 1, 31) if warn else line for line, warn in budget_lines(plan)]
    out.append(style(summary_line(plan), 1))
    return "\n".join(out) + "\n"
