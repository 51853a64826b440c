"""The plan as text for a terminal: one headline per action (the overview's: reason, estimate,
changed fields), its details indented beneath, then the money line and what the plan cancels.

Colour is plain ANSI and only when asked (the CLI asks on a terminal without ``NO_COLOR``).
"""

from __future__ import annotations

from reconciler.plan.model import Action, CreateAction, Plan, ReplaceAction
from reconciler.plan.render import graph
from reconciler.plan.render.overview import epochs_assumed, money_line, overview
from reconciler.plan.render.values import (
    SYMBOLS,
    block_diff,
    change_value,
    estimate_line,
    finished_orphans_line,
    live_orphans,
    request_yaml,
    summary_line,
)

COLOURS = {"upload": 36, "create": 32, "replace": 33, "cancel": 31, "pause": 34, "resume": 34, "evaluate": 35}
PAD = " " * 8


def _details(a: Action) -> list[str]:
    if not isinstance(a, CreateAction | ReplaceAction):  # one line says it all (an evaluation's estimate too)
        return []
    lines: list[str] = []
    for change in a.changes:
        block = block_diff(change)
        if block is not None:
            lines.append(f"{PAD}~ {change.dotted}:")
            lines += [f"{PAD}    {line}" for line in block]
        else:
            lines.append(f"{PAD}~ {change.dotted}: {change_value(change, 'before')} → {change_value(change, 'after')}")
    if isinstance(a, CreateAction):  # a new job: the whole request (a replace shows what differs)
        lines += [PAD + line for line in request_yaml(a.after.display_tree())]
    if isinstance(a, CreateAction) and a.blocked_by is not None:
        lines.append(f"{PAD}blocked: not created by this plan; it waits for {a.blocked_by.name}")
    if a.estimate is not None:
        lines.append(f"{PAD}estimate: {estimate_line(a.estimate, epochs_assumed(a))}")
    if a.then_pause:
        lines.append(f"{PAD}then pause once it runs (state: paused)")
    return lines


def render_text(plan: Plan, color: bool = False) -> str:
    def style(text: str, *codes: int) -> str:
        return f"\x1b[{';'.join(map(str, codes))}m{text}\x1b[0m" if color and codes else text

    ov = overview(plan)
    target = f" on {ov.target}" if ov.target is not None else ""
    out = [f'ftctl plan for stack "{plan.stack}"{target}', ""]
    if plan.stages:
        out += [style("Pipeline:", 1), *(f"  {line}" for line in graph.text(plan.stages)), ""]
    for a, h in zip(plan.actions, ov.headlines, strict=True):
        subject, _, rest = h.text.partition(" — ")
        out.append(style(f"  {SYMBOLS[a.action]:>3} {a.action:<8} {subject}", 1, COLOURS[a.action])
                   + (style(f" — {rest}", 2) if rest else ""))
        out.extend(_details(a))
    if plan.actions:
        out.append("")
    _, finished = live_orphans(plan)
    for title, notices, more in (("Failed jobs (not retried)", plan.failed, 0),
                                 ("Orphans (no manifest)", ov.kept_orphans, finished), ("Notes", plan.notes, 0)):
        if notices or more:
            out.append(style(f"{title}:", 1))
            for n in notices:
                job = f" ({n.job_id}, {n.status})" if n.job_id else ""
                out.append(f"  ! {n.name}{job}: {n.message}")
            if more:
                out.append(f"  ! {finished_orphans_line(more, bool(notices))}")
            out.append("")
    alerts = [alert.text for alert in ov.alerts]
    if ov.money is not None and money_line(ov.money) not in alerts:
        out.append(money_line(ov.money))
    out += [style(f"{text}", 1, 31) for text in alerts]
    out.append(style(summary_line(plan), 1))
    return "\n".join(out) + "\n"
