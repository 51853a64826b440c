"""The sandbox's HTTP API: OpenAI's ``/v1/files``, ``/v1/uploads`` and ``/v1/fine_tuning/jobs``.

Shapes follow shared/openai-spec/openapi-fine-tuning.yaml. Around the Starlette app sits a plain
ASGI layer (``instruments``) that counts requests per route and injects faults (5xx, 429 with
Retry-After, a connection dropped before or after the write, latency), so that clients can be
tested against the failures they will meet. Admin routes under ``/sandbox`` (loopback only, no
key) move the clock, read the counters, set faults and reset the state.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
import string
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from reconciler.datasets.check import item_fields
from reconciler.datasets.formats import check_lines, first_error, format_for
from reconciler.sandbox.instruments import Instruments, error
from reconciler.sandbox.lifecycle import LEGAL, Job
from reconciler.sandbox.requests import ApiError, resolve_hyperparameters, validate_create
from reconciler.sandbox.store import Store

PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}
MAX_PART = 64 * 1024 * 1024
MAX_UPLOAD = 8 * 1024 * 1024 * 1024
_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, n: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(n))


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid '{name}': expected an integer, got '{raw}'.", name, "invalid_type") from None
    if not 1 <= value <= high:
        raise ApiError(400, f"Invalid '{name}': must be between 1 and {high}.", name, "invalid_value")
    return value


def _metadata_filter(request: Request) -> tuple[dict[str, str], bool]:
    pairs = {m.group(1): v for k, v in request.query_params.multi_items()
             if (m := re.fullmatch(r"metadata\[(.+)\]", k))}
    return pairs, request.query_params.get("metadata") == "null"


class Sandbox:
    """State and handlers of one sandbox server."""

    def __init__(self, store: Store, speed: float = 1.0) -> None:
        self.store = store
        self.speed = speed
        self.stats: Counter[str] = Counter()
        self.faults: dict[str, Any] = {"rate": 0.0, "kinds": [], "latency_ms": 0, "seed": None, "retry_after": 1}
        self.rng = random.Random()
        self.fault_lock = threading.Lock()

    # -- files ------------------------------------------------------------------------------
    async def create_file(self, request: Request) -> Response:
        form = await request.form(max_part_size=1024 * 1024)
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            return error(400, "Missing required parameter: 'file'.", "file", "missing_required_parameter")
        if purpose not in PURPOSES:
            return error(400, f"Invalid 'purpose': {purpose!r}.", "purpose", "invalid_value")
        digest = hashlib.sha256()
        file_id = new_id("file-")
        size = 0
        with self.store.blob(file_id).open("wb") as out:
            while chunk := await upload.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        body_hash = _hash({"purpose": purpose, "filename": upload.filename, "sha256": digest.hexdigest()})

        def write() -> tuple[int, Any]:
            row = {"id": file_id, "bytes": size, "created_at": int(self.store.now()),
                   "filename": upload.filename or "upload", "purpose": purpose}
            self.store.add_file(row)
            return 200, self.store.get_file(file_id)

        response = self._idempotent(request, body_hash, write)
        if json.loads(bytes(response.body)).get("id") != file_id:
            self.store.blob(file_id).unlink(missing_ok=True)  # a replay: keep the first upload only
        return response

    async def list_files(self, request: Request) -> Response:
        limit = _int_param(request, "limit", 10_000, 10_000)
        asc = request.query_params.get("order", "desc") == "asc"
        data, more = self.store.list_files(request.query_params.get("purpose"),
                                           request.query_params.get("after"), limit, asc)
        return JSONResponse({"object": "list", "data": data, "has_more": more,
                             "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None})

    def _file_or_404(self, request: Request) -> dict[str, Any]:
        found = self.store.get_file(request.path_params["file_id"])
        if found is None:
            raise ApiError(404, f"No such File object: {request.path_params['file_id']}", "id", "not_found")
        return found

    async def get_file(self, request: Request) -> Response:
        return JSONResponse(self._file_or_404(request))

    async def delete_file(self, request: Request) -> Response:
        found = self._file_or_404(request)
        self.store.delete_file(found["id"])
        return JSONResponse({"id": found["id"], "object": "file", "deleted": True})

    async def file_content(self, request: Request) -> Response:
        found = self._file_or_404(request)
        path = self.store.blob(found["id"])

        def chunks() -> Any:
            with path.open("rb") as f:
                while chunk := f.read(1024 * 1024):
                    yield chunk

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    # -- uploads (files over 512 MB arrive in parts) ------------------------------------------
    async def create_upload(self, request: Request) -> Response:
        body = await _json(request)
        for key in ("filename", "purpose", "bytes", "mime_type"):
            if key not in body:
                return error(400, f"Missing required parameter: '{key}'.", key, "missing_required_parameter")
        if not isinstance(body["bytes"], int) or not 0 < body["bytes"] <= MAX_UPLOAD:
            return error(400, "'bytes' must be between 1 and 8 GB.", "bytes", "invalid_value")

        def write() -> tuple[int, Any]:
            now = int(self.store.now())
            upload = {"id": new_id("upload_"), "object": "upload", "bytes": body["bytes"],
                      "created_at": now, "expires_at": now + 3600, "filename": body["filename"],
                      "purpose": body["purpose"], "status": "pending", "file": None, "parts": []}
            self.store.put_upload(upload)
            return 200, _public_upload(upload)

        return self._idempotent(request, _hash(body), write)

    def _pending_upload(self, request: Request) -> dict[str, Any]:
        upload = self.store.get_upload(request.path_params["upload_id"])
        if upload is None:
            raise ApiError(404, f"No such Upload: {request.path_params['upload_id']}", "upload_id", "not_found")
        if upload["status"] != "pending":
            raise ApiError(400, f"Upload {upload['id']} is {upload['status']}, not pending.", None, "invalid_state")
        return upload

    async def add_part(self, request: Request) -> Response:
        upload = self._pending_upload(request)
        form = await request.form(max_part_size=1024 * 1024)
        data = form.get("data")
        if not isinstance(data, UploadFile):
            return error(400, "Missing required parameter: 'data'.", "data", "missing_required_parameter")
        part_id = new_id("part_")
        size = 0
        with self.store.blob(part_id).open("wb") as out:
            while chunk := await data.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_PART:
                    out.close()
                    self.store.blob(part_id).unlink()
                    return error(400, "A part may be at most 64 MB.", "data", "part_too_large")
                out.write(chunk)
        with self.store.lock:
            upload = self._pending_upload(request)
            upload["parts"].append({"id": part_id, "bytes": size})
            self.store.put_upload(upload)
        return JSONResponse({"id": part_id, "object": "upload.part", "created_at": int(self.store.now()),
                             "upload_id": upload["id"]})

    async def complete_upload(self, request: Request) -> Response:
        body = await _json(request)
        with self.store.lock:
            upload = self._pending_upload(request)
            sizes = {p["id"]: p["bytes"] for p in upload["parts"]}
            ids = body.get("part_ids")
            if not isinstance(ids, list) or not ids or any(i not in sizes for i in ids):
                return error(400, "part_ids must list parts of this upload.", "part_ids", "invalid_value")
            total = sum(sizes[i] for i in ids)
            if total != upload["bytes"]:
                return error(400, f"The parts add up to {total} bytes, not the {upload['bytes']} declared.",
                             "part_ids", "invalid_value")
            file_id = new_id("file-")
            digest = hashlib.md5(usedforsecurity=False)
            with self.store.blob(file_id).open("wb") as out:
                for part in ids:
                    with self.store.blob(part).open("rb") as src:
                        while chunk := src.read(1024 * 1024):
                            digest.update(chunk)
                            out.write(chunk)
            if body.get("md5") and body["md5"] != digest.hexdigest():
                self.store.blob(file_id).unlink()
                return error(400, "md5 does not match the uploaded bytes.", "md5", "invalid_value")
            for part in sizes:
                self.store.blob(part).unlink(missing_ok=True)
            self.store.add_file({"id": file_id, "bytes": total, "created_at": int(self.store.now()),
                                 "filename": upload["filename"], "purpose": upload["purpose"]})
            upload.update(status="completed", file=self.store.get_file(file_id))
            self.store.put_upload(upload)
        return JSONResponse(_public_upload(upload))

    async def cancel_upload(self, request: Request) -> Response:
        with self.store.lock:
            upload = self._pending_upload(request)
            for part in upload["parts"]:
                self.store.blob(part["id"]).unlink(missing_ok=True)
            upload["status"] = "cancelled"
            self.store.put_upload(upload)
        return JSONResponse(_public_upload(upload))

    # -- jobs -------------------------------------------------------------------------------
    def _job_view(self, job: Job, now: float) -> dict[str, Any]:
        result = None
        if job.status(now) == "succeeded":
            result = "file-" + hashlib.sha256(f"results|{job.id}".encode()).hexdigest()[:24]
            if self.store.get_file(result) is None:
                data = job.results_csv()
                self.store.blob(result).write_bytes(data)
                self.store.add_file({"id": result, "bytes": len(data), "created_at": job.finished_at(now) or 0,
                                     "filename": "step_metrics.csv", "purpose": "fine-tune-results"})
        return job.to_api(now, result)

    async def create_job(self, request: Request) -> Response:
        body = await _json(request)
        return self._idempotent(request, _hash(body), lambda: (200, self._create(body)))

    def _create(self, body: Any) -> dict[str, Any]:
        req = validate_create(body, self.store.get_file)
        fmt = format_for(req["method_type"], req["chat"])
        needed = item_fields(req["grader"], "grader") if req["grader"] else None
        failure = None
        reports = {}
        for key in ("training_file", "validation_file"):
            if req[key] is not None:
                with self.store.blob(req[key]).open("rb") as f:
                    reports[key] = check_lines(f, fmt, required=needed)
        for key, report in reports.items():
            if not report.ok and failure is None:
                kind = key.split("_")[0]
                failure = {"code": f"invalid_{key}", "param": key,
                           "message": f"The job failed due to an invalid {kind} file. {first_error(report)}"}
        train = reports["training_file"]
        hyper = resolve_hyperparameters(req["method_type"], req["hyperparameters_sent"], train.examples)
        inner: dict[str, Any] = {"hyperparameters": hyper}
        if req["grader"] is not None:
            inner["grader"] = req["grader"]
        request = {k: req[k] for k in ("model", "training_file", "validation_file", "suffix", "seed",
                                       "metadata", "integrations")}
        request["method"] = {"type": req["method_type"], req["method_type"]: inner}
        size = self.store.get_file(req["training_file"])["bytes"]  # type: ignore[index]
        steps = max(1, -(-train.examples // int(hyper["batch_size"]))) * int(hyper["n_epochs"])
        job = Job(id=new_id("ftjob-"), created_at=self.store.now(), request=request, examples=train.examples,
                  tokens_per_epoch=train.tokens,
                  t_validate=(3 + size / 5_000_000) / self.speed, t_queue=5 / self.speed,
                  t_run=max(30, 2 * steps) / self.speed, failure=failure)
        self.store.add_job(job)
        return self._job_view(job, job.created_at)

    async def list_jobs(self, request: Request) -> Response:
        limit = _int_param(request, "limit", 20, 100)
        pairs, no_metadata = _metadata_filter(request)
        jobs, more = self.store.list_jobs(request.query_params.get("after"), limit, pairs, no_metadata)
        now = self.store.now()
        return JSONResponse({"object": "list", "data": [self._job_view(j, now) for j in jobs], "has_more": more})

    def _job_or_404(self, request: Request) -> Job:
        job = self.store.get_job(request.path_params["job_id"])
        if job is None:
            raise ApiError(404, f"No fine-tuning job found with id {request.path_params['job_id']}",
                           "fine_tuning_job_id", "fine_tune_not_found")
        return job

    async def get_job(self, request: Request) -> Response:
        return JSONResponse(self._job_view(self._job_or_404(request), self.store.now()))

    def _transition(self, request: Request, action: str) -> Response:
        with self.store.lock:
            job = self._job_or_404(request)
            now = self.store.now()
            status = job.status(now)
            if status not in LEGAL[action]:
                allowed = ", ".join(sorted(LEGAL[action]))
                return error(400, f"Cannot {action} a job whose status is {status} (allowed from: {allowed}).",
                             None, f"invalid_status_for_{action}")
            if action == "pause":
                job.pauses.append([now, None])
            elif action == "resume":
                job.pauses[-1][1] = now
            else:
                job.cancelled_at = now
            self.store.save_job(job)
            return JSONResponse(self._job_view(job, now))

    async def cancel_job(self, request: Request) -> Response:
        return self._transition(request, "cancel")

    async def pause_job(self, request: Request) -> Response:
        return self._transition(request, "pause")

    async def resume_job(self, request: Request) -> Response:
        return self._transition(request, "resume")

    async def job_events(self, request: Request) -> Response:
        job = self._job_or_404(request)
        events = list(reversed(job.events(self.store.now())))  # newest first, as the API lists them
        return _page(request, events, 20)

    async def job_checkpoints(self, request: Request) -> Response:
        job = self._job_or_404(request)
        checkpoints = list(reversed(job.checkpoints(self.store.now())))
        return _page(request, checkpoints, 10, first_last=True)

    # -- idempotency ------------------------------------------------------------------------
    def _idempotent(self, request: Request, body_hash: str, write: Callable[[], tuple[int, Any]]) -> Response:
        key = request.headers.get("idempotency-key")
        if not key:
            status, body = _call(write)
            return JSONResponse(body, status)
        route = f"{request.method} {request.url.path}"
        with self.store.lock:  # check and write as one step: a concurrent repeat waits, then replays
            seen = self.store.idempotent(key, route)
            if seen is not None:
                if seen[0] != body_hash:
                    return error(400, "This Idempotency-Key was already used with a different request body.",
                                 None, "idempotency_key_reused")
                return JSONResponse(seen[2], seen[1], headers={"Idempotent-Replayed": "true"})
            status, body = _call(write)
            if status < 500:
                self.store.remember(key, route, body_hash, status, body)
            return JSONResponse(body, status)

    # -- admin ------------------------------------------------------------------------------
    async def admin_clock(self, request: Request) -> Response:
        body = await _json(request)
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return error(400, "'seconds' must be a non-negative number.", "seconds")
        return JSONResponse({"now": self.store.advance(float(seconds))})

    async def admin_stats(self, request: Request) -> Response:
        return JSONResponse({"requests": dict(sorted(self.stats.items())), "total": sum(self.stats.values())})

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            body = await _json(request)
            kinds = body.get("kinds", ["500"])
            if not set(kinds) <= {"500", "429", "drop_before", "drop_after"}:
                return error(400, f"unknown fault kinds: {kinds}", "kinds")
            with self.fault_lock:
                self.faults = {"rate": float(body.get("rate", 0)), "kinds": kinds,
                               "latency_ms": int(body.get("latency_ms", 0)), "seed": body.get("seed"),
                               "retry_after": body.get("retry_after", 1)}
                self.rng = random.Random(self.faults["seed"])
        return JSONResponse(self.faults)

    async def admin_reset(self, request: Request) -> Response:
        self.store.reset()
        self.stats.clear()
        with self.fault_lock:
            self.faults = {"rate": 0.0, "kinds": [], "latency_ms": 0, "seed": None, "retry_after": 1}
        return JSONResponse({"reset": True})

    def pick_fault(self) -> str | None:
        with self.fault_lock:
            if self.faults["kinds"] and self.rng.random() < self.faults["rate"]:
                return str(self.rng.choice(self.faults["kinds"]))
        return None


def _call(write: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    try:
        return write()
    except ApiError as exc:
        return exc.status, exc.body()


def _hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _public_upload(upload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in upload.items() if k != "parts"}


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "We could not parse the JSON body of your request.", None, "invalid_json") from None


def _page(request: Request, items: list[dict[str, Any]], default: int, first_last: bool = False) -> Response:
    limit = _int_param(request, "limit", default, 100)
    after = request.query_params.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    body: dict[str, Any] = {"object": "list", "data": page, "has_more": len(items) > limit}
    if first_last:
        body["first_id"] = page[0]["id"] if page else None
        body["last_id"] = page[-1]["id"] if page else None
    return JSONResponse(body)


def create_app(store: Store, speed: float = 1.0) -> tuple[Sandbox, ASGIApp]:
    sandbox = Sandbox(store, speed)
    s = sandbox
    routes = [
        Route("/v1/files", s.create_file, methods=["POST"]),
        Route("/v1/files", s.list_files, methods=["GET"]),
        Route("/v1/files/{file_id}", s.get_file, methods=["GET"]),
        Route("/v1/files/{file_id}", s.delete_file, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", s.file_content, methods=["GET"]),
        Route("/v1/uploads", s.create_upload, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/parts", s.add_part, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/complete", s.complete_upload, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/cancel", s.cancel_upload, methods=["POST"]),
        Route("/v1/fine_tuning/jobs", s.create_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs", s.list_jobs, methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}", s.get_job, methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}/cancel", s.cancel_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/pause", s.pause_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/resume", s.resume_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/events", s.job_events, methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}/checkpoints", s.job_checkpoints, methods=["GET"]),
        Route("/sandbox/clock/advance", s.admin_clock, methods=["POST"]),
        Route("/sandbox/stats", s.admin_stats, methods=["GET"]),
        Route("/sandbox/faults", s.admin_faults, methods=["GET", "PUT"]),
        Route("/sandbox/reset", s.admin_reset, methods=["POST"]),
    ]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), exc.status)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return error(status, f"Invalid URL ({request.method} {request.url.path})", None, None)

    starlette = Starlette(routes=routes, exception_handlers={ApiError: api_error, 404: not_found,
                                                             405: not_found})
    return sandbox, Instruments(sandbox, starlette)

