"""OPEA GenAIComps' finetuning service, answering as its code does (``--flavor opea``; what the
service is, and where each fact is in its code, is in ``providers/opea.py``).

Routes: ``POST /v1/files`` (multipart ``purpose`` and ``file``), ``POST /v1/fine_tuning/jobs``,
``GET /v1/fine_tuning/jobs`` (every job, oldest first, ``has_more`` false), ``POST
/v1/fine_tuning/jobs/retrieve`` and ``/cancel`` and ``POST /v1/finetune/list_checkpoints`` with a JSON
body ``{"fine_tuning_job_id": …}``. Nothing else (404), no key needed, errors as FastAPI words them
(``{"detail": …}``; a request its model refuses: 422 with the list of what is wrong).

As the code does:

* an upload is saved under its URL-quoted name, and replaces a file of that name; the answer's
  ``id`` is never used again: a job names its training file by that name (404 when there is none);
* the job keeps id (``ft-job-<uuid>``), model, created_at, training_file, status, seed (the one sent,
  else a random one up to 1000) and hyperparameters (``Training``'s epochs, batch size and learning
  rate, the rate labelled ``learning_rate_multiplier``); whatever else the request holds (metadata,
  method, suffix, validation file, integrations) is ignored, as pydantic ignores unknown keys;
* ``hyperparameters`` in a request crashes it (``native.py`` reads a field that does not exist): a
  plain-text 500 "Internal Server Error" and no job, as uvicorn answers an unhandled exception;
* a ``seed`` that is not a string is a 422 (its request model types it as a string);
* statuses: ``running`` when created, then ``pending`` (Ray waits for resources), ``running``,
  ``succeeded``; a cancel makes any job ``cancelled`` at once — even one that had succeeded;
* checkpoints: ``output/<job>/checkpoint-<step>`` directories as they are written, with a new ID at
  every call, and the output directory itself once the job succeeded;
* jobs live in this process's memory (``Sandbox.memory_jobs``): a restart forgets them all; files
  stay (in the store, as the service keeps them on disk).

* a job whose data its task cannot read (alpaca lines for instruction tuning, ``system``/``question``/
  ``chosen``/``rejected`` for dpo) fails once Ray loads it — at the first poll here — with ``error``
  null, as the service never sets it.

Not emulated: training itself. The job's phases follow the sandbox's clock (``lifecycle.Job``); a
model name is taken as given (the real Ray job fails on one Hugging Face does not have).
"""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reconciler.datasets.formats import check_lines
from reconciler.datasets.report import first_error
from reconciler.sandbox.blobs import CHUNK, copy_into
from reconciler.sandbox.lifecycle import Job
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.state import Sandbox, json_body

TASKS = ("instruction_tuning", "pretraining", "dpo", "rerank", "embedding", "reasoning")
DATA = {"instruction_tuning": "alpaca", "dpo": "opea-preference"}
"""The format each task's Ray job reads (``datasets.opea_formats``); other tasks' data is not checked."""
TRAINING = {"epochs": (int, 1), "batch_size": (int, 2), "learning_rate": (float, 5.0e-5), "dpo_beta": (float, 0.1)}
"""``Training`` fields the sandbox reads: type and the service's default."""
STATUS = {"validating_files": "running", "queued": "pending"}
"""The sandbox's phases as the service shows them: ``running`` until its first poll of Ray, then
Ray's ``pending`` until the job gets its resources."""
POLL = 5.0
"""Seconds between the service's polls of Ray's job status."""


def _unprocessable(field: str, message: str, kind: str, value: Any = None) -> JSONResponse:
    return JSONResponse({"detail": [{"type": kind, "loc": ["body", *field.split(".")], "msg": message,
                                     "input": value}]}, 422)


def file_id(name: str) -> str:
    """The store's ID of the file the service keeps as ``datasets/<name>``: one per name."""
    return "file-opea-" + hashlib.sha256(name.encode()).hexdigest()[:24]


def _view(job: Job, now: float) -> dict[str, Any]:
    status = job.status(now)
    req = job.request
    return {"id": job.id, "created_at": int(job.created_at), "error": None, "fine_tuned_model": None,
            "finished_at": None, "hyperparameters": req["echo"], "model": req["model"], "object": "fine_tuning.job",
            "organization_id": None, "result_files": None, "status": STATUS.get(status, status),
            "trained_tokens": None, "training_file": req["training_file"], "validation_file": None,
            "integrations": None, "seed": req["seed"], "estimated_finish": None}


def routes(sb: Sandbox) -> list[Route]:
    def job_of(body: Any) -> Job | JSONResponse:
        job_id = body.get("fine_tuning_job_id") if isinstance(body, dict) else None
        if not isinstance(job_id, str):
            return _unprocessable("fine_tuning_job_id", "Field required", "missing")
        with sb.store.lock:
            job = sb.memory_jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"Fine-tuning job '{job_id}' not found!")
        return job

    async def upload(request: Request) -> Response:
        form = await request.form(max_part_size=CHUNK)
        given, purpose = form.get("file"), form.get("purpose")
        if purpose is None:
            return _unprocessable("purpose", "Field required", "missing")
        if not isinstance(given, UploadFile):
            return _unprocessable("file", "Field required", "missing")
        return await run_in_threadpool(_save, sb, given)

    async def create(request: Request) -> Response:
        body = await json_body(request)
        return await run_in_threadpool(_create, sb, body)

    def list_jobs(request: Request) -> Response:
        now = sb.store.now()
        with sb.store.lock:
            jobs = list(sb.memory_jobs.values())
        return JSONResponse({"object": "list", "data": [_view(j, now) for j in jobs], "has_more": False})

    async def retrieve(request: Request) -> Response:
        job = job_of(await json_body(request))
        return job if isinstance(job, Response) else JSONResponse(_view(job, sb.store.now()))

    async def cancel(request: Request) -> Response:
        job = job_of(await json_body(request))
        if isinstance(job, Response):
            return job
        with sb.store.lock:
            now = sb.store.now()
            if job.cancelled_at is None:  # Ray stops the job (a finished one: nothing to stop); the record says so
                job.cancelled_at = now
            return JSONResponse(_view(job, now))

    async def checkpoints(request: Request) -> Response:
        job = job_of(await json_body(request))
        if isinstance(job, Response):
            return job
        now = sb.store.now()
        found = [{"id": f"ftckpt-{uuid.uuid4()}", "created_at": int(now), "metrics": None,
                  "fine_tuned_model_checkpoint": f"output/{job.id}/checkpoint-{c['step_number']}",
                  "fine_tuning_job_id": job.id, "object": "fine_tuning.job.checkpoint", "step_number": c["step_number"]}
                 for c in job.checkpoints(now)]
        if job.status(now) == "succeeded":
            found.append({"id": f"ftckpt-{uuid.uuid4()}", "created_at": int(now), "metrics": None,
                          "fine_tuned_model_checkpoint": f"output/{job.id}", "fine_tuning_job_id": job.id,
                          "object": "fine_tuning.job.checkpoint", "step_number": None})
        return JSONResponse(found)

    p = sb.flavor.prefix
    return [Route(f"{p}/files", upload, methods=["POST"]),
            Route(f"{p}/fine_tuning/jobs", create, methods=["POST"]),
            Route(f"{p}/fine_tuning/jobs", list_jobs, methods=["GET"]),
            Route(f"{p}/fine_tuning/jobs/retrieve", retrieve, methods=["POST"]),
            Route(f"{p}/fine_tuning/jobs/cancel", cancel, methods=["POST"]),
            Route(f"{p}/finetune/list_checkpoints", checkpoints, methods=["POST"])]


def _save(sb: Sandbox, given: UploadFile) -> Response:
    name = quote(given.filename or "", safe="")
    if name in ("", ".", ".."):  # the service would write to the folder datasets/ itself, and fail
        return PlainTextResponse("Internal Server Error", 500)
    fid = file_id(name)
    given.file.seek(0)
    with sb.store.lock:  # the same name again replaces the file, as a second write of datasets/<name> does
        sb.store.delete_file(fid)
        size = copy_into(sb.store.blob(fid), [given.file])
        sb.store.add_file({"id": fid, "bytes": size, "filename": name, "purpose": "fine-tune"})
        sb.made_file(name)
        row = sb.store.get_file(fid) or {}
    return JSONResponse({"id": f"file-{uuid.uuid4()}", "object": "file", "bytes": size,
                         "created_at": row.get("created_at", int(sb.store.now())), "filename": name,
                         "purpose": "fine-tune"})


def _training(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
    """The ``Training`` values the job uses (the service's defaults for those not given)."""
    given = body.get("Training") or {}
    if not isinstance(given, dict):
        return _unprocessable("Training", "Input should be a valid dictionary", "model_type", given)
    out: dict[str, Any] = {}
    for key, (kind, default) in TRAINING.items():
        value = given.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
            word = kind.__name__
            return _unprocessable(f"Training.{key}", f"Input should be a valid {word}", f"{word}_type", value)
        out[key] = kind(value)
    return out


def _create(sb: Sandbox, body: Any) -> Response:
    if not isinstance(body, dict):
        return _unprocessable("", "Input should be a valid dictionary", "model_attributes_type", body)
    for key in ("model", "training_file"):
        if not isinstance(body.get(key), str):
            return _unprocessable(key, "Field required" if key not in body else "Input should be a valid string",
                                  "missing" if key not in body else "string_type", body.get(key))
    seed = body.get("seed")
    if seed is not None and not isinstance(seed, str):
        return _unprocessable("seed", "Input should be a valid string", "string_type", seed)
    general = body.get("General") or {}
    task = general.get("task", "instruction_tuning") if isinstance(general, dict) else None
    if task not in TASKS:
        return _unprocessable("General.task", "Assertion failed", "assertion_error", task)
    training = _training(body)
    if isinstance(training, JSONResponse):
        return training
    if body.get("hyperparameters") is not None:  # native.py reads hyperparameters.epochs: AttributeError
        return PlainTextResponse("Internal Server Error", 500)
    stored = sb.store.get_file(file_id(body["training_file"]))
    if stored is None:
        raise ApiError(404, f"Training file '{body['training_file']}' not found!")
    if seed is not None and not seed.strip().lstrip("-").isdigit():  # FineTuningJob(seed=…) is an int
        return PlainTextResponse("Internal Server Error", 500)
    with sb.store.blob(stored["id"]).open("rb") as f:  # as its Ray job reads the data (the task's format)
        report = check_lines(f, DATA[task]) if task in DATA else None
    examples = max(1, report.examples if report is not None else 1)
    failure = None if report is None or report.ok else {"message": first_error(report)}
    steps = max(1, -(-examples // training["batch_size"])) * training["epochs"]
    speed, now = sb.speed, sb.store.now()
    request = {"model": body["model"], "training_file": body["training_file"],
               "seed": int(seed) if seed is not None else random.randint(0, 1000), "task": task,
               "method": {"type": "supervised", "supervised": {"hyperparameters": {
                   "n_epochs": training["epochs"], "batch_size": training["batch_size"]}}},
               "echo": {"n_epochs": training["epochs"], "batch_size": training["batch_size"],
                        "learning_rate_multiplier": training["learning_rate"]}}
    job = Job(id=f"ft-job-{uuid.uuid4()}", created_at=now, request=request, examples=examples,
              tokens_per_epoch=report.tokens if report is not None else stored["bytes"] // 4, t_validate=POLL / speed,
              t_queue=POLL / speed, t_run=max(30, 2 * steps) / speed, failure=failure)
    with sb.store.lock:
        sb.memory_jobs[job.id] = job
    return JSONResponse(_view(job, now))
