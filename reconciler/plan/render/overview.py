"""What a reviewer must be able to approve from before opening anything: the overview of one plan.

The facts are computed here once and every renderer shows them — the text plan, the markdown plan
(its collapsed view) and the JSON plan (its ``overview`` key) — so the three outputs agree:

- where the plan is for, and the counts of every kind, failed jobs and orphans left running included;
- the money: the priced total, each create that has no estimate and why, and the budget's verdict
  (``within`` / ``over`` / ``unknown``) — never "within" while a create has no estimate;
- the alerts: money unknown or over, a running job cancelled;
- one headline per action with its reason, its estimate, and for a new job what changed from the
  job it follows (a retry names the failure it retries).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reconciler.diagnostics import plural
from reconciler.manifests.strict import Frozen
from reconciler.plan.budget import CONFIG_KEY, money, why_unpriced
from reconciler.plan.model import (
    Action,
    CancelAction,
    Change,
    CreateAction,
    EvaluateAction,
    Notice,
    Plan,
    ReplaceAction,
    UploadAction,
)
from reconciler.plan.render.values import block_diff, eval_estimate_line, kept_orphans, subject, value
from reconciler.providers.statuses import in_progress

Verdict = Literal["within", "over", "unknown"]
Level = Literal["WARNING", "CAUTION"]
MAX_CHANGES = 3
"""Changed fields named in a headline; more are counted."""


class Money(Frozen):
    """The new training a plan starts: what is priced, what is not and why, and the budget's verdict."""

    priced: float
    """The total of the new jobs that have an estimate, in USD."""
    priced_creates: int = 0
    trained_tokens: int = 0
    prices_as_of: str | None = None
    unpriced: dict[str, str] = Field(default_factory=dict)
    """Name of a new job → why it has no estimate."""
    limit_usd: float | None = None
    verdict: Verdict | None = None
    """Against ``limits.max_cost_usd``; None without a budget."""
    needs: list[str] = Field(default_factory=list)
    """The flags without which apply refuses the plan for its cost (``--allow-over-budget``…)."""


class Alert(Frozen):
    level: Level
    text: str


class Headline(Frozen):
    action: str
    name: str
    text: str
    """What follows the action's word: ``bot (ftjob-1) — n_epochs 3 → 4; cancels a running job; ≈$0.01``"""


class Overview(Frozen):
    target: str | None = None
    counts: dict[str, int]
    money: Money | None = None
    alerts: list[Alert] = Field(default_factory=list)
    headlines: list[Headline] = Field(default_factory=list)
    kept_orphans: list[Notice] = Field(default_factory=list)
    """Orphans this plan leaves running (those --prune cancels are cancel actions instead)."""


def _field(change: Change) -> str:
    """A field by the shortest name that says which: ``learning_rate_multiplier``, ``grader.graders.py.source``."""
    return change.dotted.removeprefix("method.").removeprefix("hyperparameters.")


def _changed(changes: list[Change]) -> str | None:
    if not changes:
        return None
    shown = []
    for c in changes[:MAX_CHANGES]:
        if block_diff(c) is not None or c.note is not None:
            shown.append(f"{_field(c)} changed")
        else:
            shown.append(f"{_field(c)} {value(c.before)} → {value(c.after)}")
    more = len(changes) - MAX_CHANGES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def epochs_assumed(a: CreateAction | ReplaceAction) -> bool:
    """The estimate's epoch count is the service's choice (``n_epochs`` auto or not given)."""
    return not isinstance(a.after.method.hyperparameters.get("n_epochs"), int)


def cost(a: CreateAction | ReplaceAction) -> str:
    """A new job's cost in a few words: ``≈$0.0068``, or why it has none."""
    est = a.estimate
    why = why_unpriced(est)
    if why is not None or est is None or est.cost is None:
        hourly = f" ({money(est.hourly, est.currency)}/hour)" if est is not None and est.hourly else ""
        return f"no estimate: {why}{hourly}"
    assumed = f" (assumes {plural(est.epochs, 'epoch')}: n_epochs is auto)" if epochs_assumed(a) else ""
    return f"≈{money(est.cost, est.currency)}{assumed}"


def _cancels(status: str) -> str:
    return f"cancels a {status.replace('_', ' ')} job"


def headline(a: Action) -> str:
    """One action in one line (after its verb): on what, why, and what it costs or cancels."""
    parts: list[str] = []
    if isinstance(a, CreateAction | ReplaceAction):
        before, changed = a.before, _changed(a.changes)
        if isinstance(a, CreateAction) and a.blocked_by is not None:  # its reason is the blocker's
            why = a.blocked_by.reason
            parts.append((why if why.startswith("waits for") else f"waits for {a.blocked_by.name} ({why})")
                         + ": not created by this plan")
        elif before is not None and before.status == "failed":  # a retry names the failure it retries
            parts.append(f"retries {before.job_id}, which failed: {before.error or 'no error given'}")
        elif changed is None:
            parts.append(a.reason)
        parts += [changed] if changed is not None else []
        if isinstance(a, ReplaceAction):
            parts.append(_cancels(a.before.status))
        if a.then_pause:
            parts.append("then paused")
        parts.append(cost(a))
        return f"{subject(a)} — " + "; ".join(parts)
    if isinstance(a, UploadAction):
        return subject(a)
    line = f"{a.name} ({a.job_id}, {a.before.status}) — {a.reason}"
    if isinstance(a, EvaluateAction) and a.items is not None:
        line += f"; samples {plural(a.items, 'item')} from {a.model} and its baseline"
    if isinstance(a, EvaluateAction) and a.estimate is not None:
        line += f"; {eval_estimate_line(a.estimate)}"
    return line


def _money(plan: Plan) -> Money | None:
    new = [a for a in plan.actions if isinstance(a, CreateAction | ReplaceAction)]
    if not new:
        return None
    unpriced = {a.name: why for a in new if (why := why_unpriced(a.estimate)) is not None}
    estimates = [a.estimate for a in new if a.estimate is not None]
    priced = [e for e in estimates if e.cost is not None and e.currency == "USD"]
    b = plan.budget
    verdict: Verdict | None = None
    if b is not None:
        verdict = "over" if b.over else "unknown" if b.unpriced else "within"
    needs = [] if b is None else [flag for flag, needed in (
        ("--allow-over-budget", b.over and not b.allow_over_budget),
        ("--allow-unpriced", bool(b.unpriced) and not b.allow_unpriced)) if needed]
    return Money(priced=round(sum(e.cost or 0.0 for e in priced), 6), priced_creates=len(priced),
                 trained_tokens=sum(e.trained_tokens for e in estimates),
                 prices_as_of=estimates[0].prices_as_of if estimates else None, unpriced=unpriced,
                 limit_usd=b.limit_usd if b is not None else None, verdict=verdict, needs=needs)


def money_line(m: Money) -> str:
    """``Cost: ≈$0.0253 …, plus 2 creates without an estimate (billed by the hour: …). Budget …: unknown.``"""
    line = "Cost: "
    if m.priced_creates:
        line += f"≈{money(m.priced)}" + (f" for {m.trained_tokens:,} trained tokens" if m.trained_tokens else "")
    if m.unpriced:
        whys: dict[str, list[str]] = {}
        for name, why in sorted(m.unpriced.items()):
            whys.setdefault(why, []).append(name)
        line += (", plus " if m.priced_creates else "unknown: ") + (
            f"{plural(len(m.unpriced), 'create')} without an estimate ("
            + "; ".join(f"{why}: {', '.join(names)}" for why, names in whys.items()) + ")")
    if m.prices_as_of is not None and m.priced_creates:
        line += f"; prices as of {m.prices_as_of}"
    if m.verdict is not None:
        line += f". Budget {money(m.limit_usd or 0.0)} ({CONFIG_KEY}): {m.verdict}"
        if m.verdict == "unknown":
            line += ", as the creates without an estimate could cost any amount"
        if m.needs:
            line += f"; apply refuses this plan without {' and '.join(m.needs)}"
        elif m.verdict != "within":
            line += "; allowed by this run"
    elif m.unpriced and m.priced_creates:
        line += ". The total is unknown"
    return line + "."


def _alerts(plan: Plan, m: Money | None) -> list[Alert]:
    out: list[Alert] = []
    if m is not None and (m.verdict == "over" or m.unpriced):
        out.append(Alert(level="CAUTION" if m.verdict == "over" else "WARNING", text=money_line(m)))
    running = [a for a in plan.actions if isinstance(a, CancelAction | ReplaceAction) and in_progress(a.before.status)]
    if running:
        jobs = ", ".join(f"{a.name} ({a.job_id}, {a.before.status})" for a in running)
        out.append(Alert(level="CAUTION", text=(
            f"Cancels {plural(len(running), 'job')} still in progress: {jobs}. The training done so far is "
            "billed and makes no model.")))
    return out


def overview(plan: Plan) -> Overview:
    kept = kept_orphans(plan)
    m = _money(plan)
    target = None
    if plan.target is not None:
        target = plan.target.label if plan.target.sandbox_db else f"{plan.target.provider} ({plan.target.label})"
    counts = {**plan.summary, "failed": len(plan.failed), "orphans": len(kept)}
    return Overview(target=target, counts=counts, money=m, alerts=_alerts(plan, m), kept_orphans=kept,
                    headlines=[Headline(action=a.action, name=a.name, text=headline(a)) for a in plan.actions])

