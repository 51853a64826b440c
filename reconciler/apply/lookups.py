"""Finding a create's job by its tags, so that no paid job is made twice.

* ``find_created``: before each attempt of a create, a job with its three tags made since the plan
  is the create that went through (an answer lost, a crash, another apply): it is taken, not made
  again.
* ``doubles``: concurrent applies that each found nothing may each have made the job. After a
  create, of the jobs with its tags made since the plan the newest is kept — the one every plan
  takes as current (the API's order decides within its one-second resolution) — so every run that
  looks agrees; the others are returned, to be cancelled.
"""

from __future__ import annotations

from reconciler.api.models import LiveJob
from reconciler.api.ports import ApiReader
from reconciler.identity import tags
from reconciler.plan.model import CreateAction, ReplaceAction


def _since_plan(reader: ApiReader, stack: str, action: CreateAction | ReplaceAction) -> list[LiveJob]:
    """Jobs with the create's tags made since the plan (not the one it follows), newest first."""
    wanted = tags(stack, action.name, action.spec)
    previous_at = action.before.created_at if action.before is not None else -1
    jobs = sorted(reader.list_jobs(wanted), key=lambda j: j.created_at, reverse=True)  # stable: API order
    return [j for j in jobs if j.id != action.previous_job_id and j.created_at >= previous_at]


def find_created(reader: ApiReader, stack: str, action: CreateAction | ReplaceAction) -> LiveJob | None:
    return next((j for j in _since_plan(reader, stack, action) if j.status != "cancelled"), None)


def doubles(reader: ApiReader, stack: str, action: CreateAction | ReplaceAction, job: LiveJob) -> list[str]:
    """The IDs of the other live jobs identical to ``job``, when ``job`` is listed; the newest is kept."""
    same = [j for j in _since_plan(reader, stack, action) if not j.terminal]
    if job.id not in {j.id for j in same}:
        return []
    return [j.id for j in same[1:]]
