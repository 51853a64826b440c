"""``/fine_tuning/jobs``: create, list (``metadata[k]=v``), retrieve, cancel, pause, resume, events,
checkpoints. A job's status is computed from its stored timeline and the clock (``lifecycle``), so
reading never writes; writes happen on create and on the three transitions.

Quotas refuse a create with 429 before anything is stored: more active jobs than
``--max-active-jobs`` (code ``fine_tuning_job_limit_exceeded``), or more creates in a UTC day than
``--daily-limit`` (``daily_rate_limit_exceeded``, as OpenAI says it). ``--drop-fields`` removes
fields of the request first, as a gateway that forwards only some of them would.

A job may be trained from a fine-tuned model (``ft:…``) or a checkpoint that a succeeded job of this
sandbox produced; any other ``ft:`` model is refused as the real API refuses a model it does not
know: 404, ``model_not_found``. The new job is named after the root base model (``lifecycle``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.datasets.check import item_fields
from reconciler.datasets.formats import check_lines, format_for
from reconciler.datasets.report import first_error
from reconciler.providers.statuses import TERMINAL
from reconciler.sandbox.lifecycle import LEGAL, Job
from reconciler.sandbox.requests import ApiError, resolve_hyperparameters, validate_create
from reconciler.sandbox.served import find_fine_tuned
from reconciler.sandbox.state import Sandbox, body_hash, int_param, json_body, new_id, page

DAY = 86_400
NEVER = 1e18


def results_file_id(job_id: str) -> str:
    return "file-" + hashlib.sha256(f"results|{job_id}".encode()).hexdigest()[:24]


def _job_or_404(sb: Sandbox, job_id: str) -> Job:
    job = sb.store.get_job(job_id)
    if job is None:
        raise ApiError(404, f"No fine-tuning job found with id {job_id}", "fine_tuning_job_id", "fine_tune_not_found")
    return job


def _view(sb: Sandbox, job: Job, now: float) -> dict[str, Any]:
    status = job.status(now)
    body = job.to_api(now, results_file_id(job.id) if status == "succeeded" else None)
    if job.naming == "azure":  # Azure returns the suffix asked for under its own name
        body["user_provided_suffix"] = body.pop("suffix")
    return body


def routes(sb: Sandbox) -> list[Route]:
    async def create(request: Request) -> Response:
        body = await json_body(request)
        digest = body_hash(body)
        return await run_in_threadpool(lambda: sb.idempotent(request, digest, lambda: (200, create_job(sb, body))))

    def list_jobs(request: Request) -> Response:
        limit = int_param(request, "limit", 20, 100)
        pairs = {m.group(1): v for k, v in request.query_params.multi_items()
                 if (m := re.fullmatch(r"metadata\[(.*)\]", k))}
        for key in pairs:
            if not 1 <= len(key) <= 64 or "[" in key or "]" in key:
                raise ApiError(400, f"Invalid 'metadata' filter: the key '{key[:70]}' must be 1 to 64 characters "
                                    "(metadata[KEY]=VALUE).", "metadata", "invalid_value")
        plain = request.query_params.get("metadata")
        if plain is not None and plain != "null" and sb.flavor.metadata_filter:
            raise ApiError(400, f"Invalid type for 'metadata': expected an object (metadata[KEY]=VALUE) or null, "
                                f"but got '{plain[:40]}' instead.", "metadata", "invalid_type")
        no_metadata = plain == "null"
        if not sb.flavor.metadata_filter:
            pairs, no_metadata = {}, False  # ignored, as the service (or a proxy) does
        jobs, more = sb.store.list_jobs(request.query_params.get("after"), limit, pairs, no_metadata)
        now = sb.store.now()
        listed = [_view(sb, j, now) for j in jobs if sb.listed(j.created_at, now)]  # a lagging list hides new jobs
        return JSONResponse({"object": "list", "data": listed, "has_more": more})

    def get(request: Request) -> Response:
        return JSONResponse(_view(sb, _job_or_404(sb, request.path_params["job_id"]), sb.store.now()))

    def transition(action: str) -> Any:
        def handle(request: Request) -> Response:
            return _transition(sb, request.path_params["job_id"], action)
        return handle

    def events(request: Request) -> Response:
        job = _job_or_404(sb, request.path_params["job_id"])
        return page(request, list(reversed(job.events(sb.store.now()))), 20)  # newest first, as the API lists

    def checkpoints(request: Request) -> Response:
        job = _job_or_404(sb, request.path_params["job_id"])
        return page(request, list(reversed(job.checkpoints(sb.store.now()))), 10, first_last=True)

    p = f"{sb.flavor.prefix}/fine_tuning/jobs"
    return [Route(p, create, methods=["POST"]), Route(p, list_jobs, methods=["GET"]),
            Route(f"{p}/{{job_id}}", get, methods=["GET"]),
            *(Route(f"{p}/{{job_id}}/{a}", transition(a), methods=["POST"]) for a in ("cancel", "pause", "resume")
              if a == "cancel" or sb.flavor.profile.pauses),  # Bedrock: no pause documented, no route
            Route(f"{p}/{{job_id}}/events", events, methods=["GET"]),
            Route(f"{p}/{{job_id}}/checkpoints", checkpoints, methods=["GET"])]


def _quota(sb: Sandbox, now: float) -> None:
    limit, daily = sb.options.max_active_jobs, sb.options.daily_limit
    resource = sb.flavor.profile.active_limit if sb.flavor.one_running else None
    if resource is not None and sum(1 for j in sb.store.all_jobs() if j.status(now) not in TERMINAL) >= resource:
        raise ApiError(429, f"This resource has {resource} active fine-tuning jobs (1 running and {resource - 1} "
                            "queued), its limit; wait for one to finish.", None, "fine_tuning_job_limit_exceeded")
    if limit is not None:
        active = sum(1 for j in sb.store.all_jobs() if j.status(now) not in TERMINAL)
        if active >= limit:
            raise ApiError(429, f"This fine-tuning job would exceed your organization's limit of {limit} active "
                                "fine-tuning jobs; wait for one to finish.", None, "fine_tuning_job_limit_exceeded")
    if daily is not None and sb.store.count_jobs_since(now - now % DAY) >= daily:
        raise ApiError(429, "This fine-tune request has been rate-limited. Your organization has reached the maximum "
                            f"of {daily} fine-tuning requests per day.", None, "daily_rate_limit_exceeded")


def create_job(sb: Sandbox, body: Any) -> dict[str, Any]:
    """A create as the route performs it (also how a benchmark seeds a large sandbox in-process)."""
    if isinstance(body, dict) and sb.options.drop_fields:
        body = {k: v for k, v in body.items() if k not in sb.options.drop_fields}
    req = validate_create(body, sb.store.get_file, sb.flavor, lambda model: _trained_here(sb, model))
    with sb.store.lock:
        now = sb.store.now()
        _quota(sb, now)
        job = _new_job(sb, req, now)
        sb.store.add_job(job)
        results = job.results_csv()
        sb.store.blob(results_file_id(job.id)).write_bytes(results)
        sb.store.add_file({"id": results_file_id(job.id), "bytes": len(results), "created_at": int(now),
                           "filename": "step_metrics.csv", "purpose": "fine-tune-results"},
                          available_at=job.success_at() or NEVER)
    return _view(sb, job, now)


def _trained_here(sb: Sandbox, model: str) -> bool:
    """Whether a succeeded job of this sandbox produced ``model``: its fine-tuned model
    (``ft:BASE:ORG:SUFFIX:ID8``) or one of its checkpoints (``…:ID8:ckpt-step-N``), ID8 the end of its ID."""
    return find_fine_tuned(sb.store, model) is not None


def _new_job(sb: Sandbox, req: dict[str, Any], now: float) -> Job:
    fmt = format_for(req["method_type"], req["chat"])
    needed = item_fields(req["grader"], "grader") if req["grader"] else None
    reports = {}
    for key in ("training_file", "validation_file"):
        if req[key] is not None:
            with sb.store.blob(req[key]).open("rb") as f:
                reports[key] = check_lines(f, fmt, required=needed)
    failure = None
    for key, report in reports.items():
        if not report.ok and failure is None:
            kind = key.split("_")[0]
            code = sb.flavor.code(f"invalid_{key}")
            failure = {"code": code, "param": key,
                       "message": f"The job failed due to an invalid {kind} file. {first_error(report)}"}
    train = reports["training_file"]
    hyper = resolve_hyperparameters(req["method_type"], req["hyperparameters_sent"], train.examples)
    inner: dict[str, Any] = {"hyperparameters": hyper}
    if req["grader"] is not None:
        inner["grader"] = req["grader"]
    request = {k: req[k] for k in ("model", "training_file", "validation_file", "suffix", "seed", "metadata",
                                   "integrations")}
    request["method"] = {"type": req["method_type"], req["method_type"]: inner}
    size = sb.store.get_file(req["training_file"])["bytes"]  # type: ignore[index]
    steps = max(1, -(-train.examples // int(hyper["batch_size"]))) * int(hyper["n_epochs"])
    speed, flavor = sb.speed, sb.flavor
    t_validate, t_run = (3 + size / 5_000_000) / speed, max(30, 2 * steps) / speed
    t_queue = 5 / speed
    if flavor.one_running:  # its turn comes when the jobs ahead of it have ended, as things stand now
        ahead = [at for j in sb.store.all_jobs() if j.status(now) not in TERMINAL and (at := j.success_at())]
        t_queue = max(t_queue, max(ahead, default=now) - now - t_validate)
    job = Job(id="ftjob-" + secrets.token_hex(16) if flavor.naming == "azure" else new_id("ftjob-"), created_at=now,
              request=request, examples=train.examples, tokens_per_epoch=train.tokens, t_validate=t_validate,
              t_queue=t_queue, t_run=t_run, failure=failure, pending=flavor.pending,
              t_transition=(5 / speed) if flavor.transitions else 0.0, naming=flavor.naming)
    if flavor.ceiling_pause and req["method_type"] == "reinforcement" and failure is None:
        job.ceiling_pause = True  # the service's own pause, half-way: standing for its $5,000 ceiling
        job.pauses.append([job.wall(t_validate + t_queue + t_run / 2), None])
    return job


def _transition(sb: Sandbox, job_id: str, action: str) -> Response:
    with sb.store.lock:
        job = _job_or_404(sb, job_id)
        now = sb.store.now()
        status = job.status(now)
        if status not in LEGAL[action]:
            allowed = ", ".join(sorted(LEGAL[action] & sb.flavor.statuses))
            return sb.error(sb.flavor.conflict_status,
                            f"Cannot {action} a job whose status is {status} (allowed from: {allowed}).", None,
                            f"invalid_status_for_{action}")
        if action == "pause":
            job.pauses.append([now, None])
        elif action == "resume":
            job.pauses[-1][1] = now
        else:
            job.cancelled_at = now
        sb.store.save_job(job)
        sb.store.make_available(results_file_id(job.id), job.success_at())
        return JSONResponse(_view(sb, job, now))
