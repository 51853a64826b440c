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

import json
from pathlib import Path

from reconciler.api.ports import ApiReader
from reconciler.identity import sha256_file
from reconciler.manifests.loader import SUFFIXES
from reconciler.plan.model import FORMAT_VERSION, LiveFacts, Plan
from reconciler.plan.planner import managed_jobs
from reconciler.plan.render import render_json
from reconciler.project import absolute
from reconciler.session.settings import SetupError

MAX_PLAN_BYTES = 64 * 1024 * 1024


class PlanFileError(SetupError):
    pass


class StalePlan(SetupError):
    pass


def is_plan_file(path: Path) -> bool:
    """A single file argument of ``apply`` that is not YAML is a saved plan (manifests are YAML)."""
    return path.is_file() and path.suffix not in SUFFIXES


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


def check_fresh(plan: Plan, reader: ApiReader, root: Path) -> None:
    """Refuse a saved plan whose local files or live state changed since it was made."""
    for f in plan.local_files:
        path = absolute(f.path, root)
        try:
            now = sha256_file(path)
        except OSError:
            raise StalePlan(f"stale plan: {f.path}{_users(f.used_by)} is missing since the plan was made; "
                            "run plan again") from None
        if now != f.sha256:
            raise StalePlan(f"stale plan: {f.path}{_users(f.used_by)} changed since the plan was made "
                            f"(sha256 {f.sha256[:12]} → {now[:12]}); run plan again")
    jobs = managed_jobs(reader.stack_jobs(plan.stack), plan.stack)
    relied = {u.file_id for u in plan.live.uploads}
    now_facts = LiveFacts.of(jobs, [f for f in reader.list_files() if f.id in relied])
    changed = plan.live.differences(now_facts)
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise StalePlan(f"stale plan: {'; '.join(changed[:3])}{more} since the plan was made; run plan again")
