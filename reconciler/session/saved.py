"""Saved plans are a contract (SPEC §6): what was reviewed is what ``apply PLANFILE`` does, or it
does nothing.

A plan file is the JSON plan with a checksum over its content: a file edited by hand, truncated or
of another kind is refused in one line and never read as a manifest. Before applying, the plan is
checked against the present: every local file it relied on must have the same sha256, and the
live jobs and uploads it relied on must be as they were. A refusal names what changed.

The checksum catches accidents (an edit, a truncated copy), not an attacker: whoever can write the
plan file can recompute it.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

from reconciler.api.ports import ApiReader
from reconciler.diagnostics import display_path
from reconciler.identity import sha256_file
from reconciler.manifests.loader import SUFFIXES
from reconciler.plan.facts import LiveFacts, TargetInfo
from reconciler.plan.model import FORMAT_VERSION, Plan
from reconciler.plan.render import render_json
from reconciler.project import CONFIG_NAME, absolute, find_root
from reconciler.providers import Provider
from reconciler.session.planning import relied_jobs
from reconciler.session.settings import Settings, SetupError
from reconciler.session.target import target_info

MAX_PLAN_BYTES = 64 * 1024 * 1024


class PlanFileError(SetupError):
    pass


class StalePlan(SetupError):
    pass


def is_plan_file(path: Path) -> bool:
    """A single file argument of ``apply`` that is not YAML is a saved plan (manifests are YAML)."""
    return path.is_file() and path.suffix not in SUFFIXES


def check_out_name(path: Path) -> None:
    """Refuse, before anything is read, a plan file name that would not work."""
    if path.suffix in SUFFIXES:
        raise SetupError(f"--out {path}: a saved plan must not end in {path.suffix}: manifests are YAML files, and a "
                         "plan must never be read as one (use plan.json)")
    if not path.parent.is_dir():
        raise SetupError(f"--out {path}: the folder {path.parent} does not exist")


def check_target(saved: Plan, connected: TargetInfo) -> None:
    """After connecting: a sandbox plan is refused by another database (another project's)."""
    assert saved.target is not None
    if saved.target.sandbox_id is not None and connected.sandbox_id != saved.target.sandbox_id:
        raise SetupError(f"{connected.label} is not the sandbox the plan was made for (it is another project's, "
                         "or was reset since); run plan again")


def apply_hint(out: str, settings: Settings) -> str:
    """The command that applies a saved plan, as it works when typed: the plan names its target and
    asks nothing; a base URL given as a flag is repeated, since the key only goes where a run chooses."""
    command = f"ftctl apply {shlex.quote(out if not out.startswith('-') else './' + out)}"
    if not settings.sandbox and settings.api_base_from == "flag":
        command += f" --api-base {shlex.quote(settings.api_base)}"
    return command


def target_of(saved: Plan, settings: Settings) -> Settings:
    """The settings that apply ``saved``: its own target and stack, or a refusal.

    A remote plan is applied only where this run's own choice of base URL (flag, environment, ftctl.yaml or
    default) points: the API key is sent to the target the user chose, never to one a plan file
    names. The embedded sandbox needs no key: its plan is applied to its own database.
    """
    assert saved.target is not None
    chosen = target_info(settings)
    plan_target = saved.target
    if plan_target.sandbox_db is not None:
        if settings.target_from_flags and chosen != plan_target:
            raise SetupError(f"the plan was made for {plan_target.label}, not {chosen.label}; a saved plan is "
                             "applied to its own target: leave out --api-base")
        db = settings.root / plan_target.sandbox_db
        if not db.is_file():
            here = display_path(settings.root)
            here = "the current directory" if here == "." else here
            raise SetupError(f"the plan was made for the embedded sandbox of its project ({plan_target.sandbox_db} "
                             f"under the project's root), and the project here ({here}) has none: apply the plan "
                             "from the project it was made in, or run plan again here")
        settings = settings.with_target(True, None, db)
    elif settings.sandbox or settings.api_base != (plan_target.api_base or "").rstrip("/"):
        source = "--sandbox" if settings.sandbox else settings.api_base_source
        raise SetupError(f"the plan was made for {plan_target.label}, but this run targets {chosen.label} "
                         f"({source}); ftctl sends your API key only to the target you choose: "
                         f"apply it with --api-base {plan_target.api_base} (or OPENAI_BASE_URL set to it)")
    elif settings.provider is not None and settings.provider != plan_target.provider:
        raise SetupError(f"the plan was made for a {plan_target.provider} target, not {settings.provider} "
                         "(--provider, FTCTL_PROVIDER or ftctl.yaml); leave it out")
    else:
        settings = settings.with_target(False, plan_target.api_base, None, plan_target.provider)
    if settings.stack_from == "flag" and settings.stack != saved.stack:
        raise SetupError(f"the plan is for stack {saved.stack!r}, not {settings.stack!r}; "
                         "a saved plan is applied to its own stack: leave out --stack")
    return dataclasses.replace(settings, stack=saved.stack)


def project_of_plan(settings: Settings, plan_file: Path) -> Settings:
    """Run from outside any project (no ftctl.yaml or .git above), a saved plan is applied in the
    project it lies in: its paths are relative to that project's root."""
    if any((settings.root / marker).exists() for marker in (CONFIG_NAME, ".git")):
        return settings
    root = find_root(plan_file.resolve().parent, settings.root)
    return dataclasses.replace(settings, root=root) if root != settings.root else settings


def budget_refusal(plan: Plan, limit_now: float | None, saved: bool) -> str | None:
    """Why apply must not run ``plan`` for its cost, or None. A saved plan is held to the budget it
    recorded, with the choices it recorded, and to today's ``limits.max_cost_usd`` if lower (then
    without the recorded allowance to go over)."""
    recorded = plan.budget
    limits = [x for x in (recorded.limit_usd if recorded else None, limit_now) if x is not None]
    if not limits:
        return None
    allow = (recorded.allow_over_budget, recorded.allow_unpriced) if recorded else (False, False)
    if recorded is not None and limit_now is not None and limit_now < recorded.limit_usd:
        allow = (False, recorded.allow_unpriced)  # going over a budget since lowered was never reviewed
    budget = plan.with_budget(min(limits), *allow).budget
    refusal = budget.refusal() if budget else None
    if refusal is None:
        return None
    if saved:
        return (f"refused, nothing was changed: {refusal} — on `ftctl plan --out`, so that the saved plan "
                "records the choice for its reviewer")
    return f"refused, nothing was changed: {refusal}"


def write_plan(plan: Plan, path: Path) -> None:
    path.write_text(render_json(plan), encoding="utf-8")


def read_plan(path: Path) -> Plan:
    shown = str(path)
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise PlanFileError(f"{shown}: not an ftctl plan file (larger than any plan)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PlanFileError(f"{shown}: not an ftctl plan file (not JSON: truncated, or another kind of file); "
                            "make one with ftctl plan --out FILE") from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanFileError(f"{shown}: not an ftctl plan file (no format_version); make one with ftctl plan --out FILE")
    if data["format_version"] != FORMAT_VERSION:
        raise PlanFileError(f"{shown}: plan format {data['format_version']!r} is not the one this ftctl reads "
                            f"({FORMAT_VERSION}); run ftctl plan --out again")
    try:
        return Plan.from_json(data)
    except ValueError as exc:  # a checksum mismatch, or (with a right checksum) a shape that is not a plan
        reason = str(exc) if "checksum" in str(exc) else "its content is not a valid plan"
        raise PlanFileError(f"{shown}: refused: {reason}; run ftctl plan --out again") from None


def _users(names: tuple[str, ...]) -> str:
    return f" (used by {', '.join(names)})" if names else ""


def check_fresh(plan: Plan, reader: ApiReader, root: Path, provider: Provider) -> None:
    """Refuse a saved plan whose local files or live state changed since it was made."""
    for f in plan.local_files:
        path = absolute(f.path, root)
        try:
            now = sha256_file(path)
        except OSError:
            raise StalePlan(f"stale plan: {f.path}{_users(f.used_by)} is not found under the project root {root} "
                            "(apply from the project the plan was made in, or run plan again)") from None
        if now != f.sha256:
            raise StalePlan(f"stale plan: {f.path}{_users(f.used_by)} changed since the plan was made "
                            f"(sha256 {f.sha256[:12]} → {now[:12]}); run plan again")
    jobs = relied_jobs(reader, plan.stack, [j.job_id for j in plan.live.jobs])
    relied = {u.file_id for u in plan.live.uploads}
    now_facts = LiveFacts.of(jobs, [f for f in reader.list_files() if f.id in relied], provider)
    changed = plan.live.differences(now_facts)
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise StalePlan(f"stale plan: {'; '.join(changed[:3])}{more} since the plan was made; run plan again")
