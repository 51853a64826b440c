"""The lifecycle table applied to a plan and to live jobs (SPEC §12).

A plan whose create (or replace) would train on a model, or on a provider, whose training has ended
is refused before anything is written — the same verdict ``validate`` gives, but only where a job
would be made: a manifest whose job exists and is current needs nothing from the provider. A saved
plan is held to the date it is applied on. In the weeks before, the plan carries a warning.
``status`` and ``outputs`` warn when a fine-tuned model in use stops being served soon, or has.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler import lifecycle
from reconciler.api.models import LiveJob
from reconciler.diagnostics import Diagnostic, InputError
from reconciler.plan.model import CreateAction, Plan, ReplaceAction
from reconciler.session.settings import Settings


def create_verdicts(plan: Plan, settings: Settings, sources: dict[str, str] | None = None) -> list[Diagnostic]:
    """A diagnostic per create of ``plan`` that the lifecycle table stands in the way of: an error from
    the day training ended, a warning in the weeks before. ``sources``: each manifest's ``path:line``."""
    key = settings.lifecycle_key
    if key is None:
        return []
    today = settings.clock.today()
    out: list[Diagnostic] = []
    for action in plan.actions:
        if not isinstance(action, CreateAction | ReplaceAction):
            continue
        where = (sources or {}).get(action.name, f"{action.name} (in the plan)")
        path, _, line = where.rpartition(":")
        file, number = (path, int(line)) if line.isdigit() else (where, 0)
        for verdict in lifecycle.training(settings.lifecycle, key, action.after.model, today):
            ended = verdict.level == "ended"
            message = f"{action.action} of {action.name}: {verdict.text(today)}"
            if ended:
                message += "; nothing was sent (`ftctl port --to PROVIDER` shows what moving to another target takes)"
            out.append(Diagnostic(file, number, "model", message, "error" if ended else "warning"))
    return out


def refuse_ended(plan: Plan, settings: Settings, sources: dict[str, str] | None = None) -> list[str]:
    """Raise ``InputError`` when a create of ``plan`` trains where training has ended; else the warnings."""
    found = create_verdicts(plan, settings, sources)
    if any(d.severity == "error" for d in found):
        raise InputError(found)
    return [str(d) for d in found]


def serving_warnings(jobs: Iterable[LiveJob], settings: Settings) -> list[str]:
    """A warning per fine-tuned model of ``jobs`` whose serving ends within the warning span, or has."""
    key = settings.lifecycle_key
    if key is None:
        return []
    today = settings.clock.today()
    out: list[str] = []
    for model in sorted({j.fine_tuned_model for j in jobs if j.fine_tuned_model}):
        verdict = lifecycle.serving(settings.lifecycle, key, model, today)
        if verdict is not None:
            out.append(f"warning: {verdict.text(today)}")
    return out
