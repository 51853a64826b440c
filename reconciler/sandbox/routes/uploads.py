"""``/uploads``: files over 512 MB arrive in parts of at most 64 MB (OpenAI; Azure has none).

A create and a complete are parsed by the validation layer (``CreateUpload``, ``CompleteUpload``)
before anything is stored: an upload that was accepted always has the filename and purpose its file
will be stored with."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox.blobs import CHUNK, TooLarge, copy_into, opened
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.state import Sandbox, body_hash, json_body, new_id
from reconciler.sandbox.validation import CompleteUpload, CreateUpload, form_fields, parse

MAX_PART = 64 * 1024 * 1024
MAX_UPLOAD = 8 * 1024 * 1024 * 1024


def _public(upload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in upload.items() if k != "parts"}


def _pending(sb: Sandbox, upload_id: str) -> dict[str, Any]:
    upload = sb.store.get_upload(upload_id)
    if upload is None:
        raise ApiError(404, f"No such Upload: {upload_id}", "upload_id", "not_found")
    if upload["status"] != "pending":
        raise ApiError(400, f"Upload {upload['id']} is {upload['status']}, not pending.", None, "invalid_state")
    return upload


def routes(sb: Sandbox) -> list[Route]:
    async def create(request: Request) -> Response:
        body = await json_body(request)
        asked = parse(CreateUpload, body)
        if not 0 < asked.bytes <= MAX_UPLOAD:
            return sb.error(400, "'bytes' must be between 1 and 8 GB.", "bytes", "invalid_value")

        def write() -> tuple[int, Any]:
            now = int(sb.store.now())
            upload = {"id": new_id("upload_"), "object": "upload", "bytes": asked.bytes, "created_at": now,
                      "expires_at": now + 3600, "filename": asked.filename, "purpose": asked.purpose,
                      "status": "pending", "file": None, "parts": []}
            sb.store.put_upload(upload)
            return 200, _public(upload)

        return await run_in_threadpool(sb.idempotent, request, body_hash(body), write)

    async def add_part(request: Request) -> Response:
        form = await request.form(max_part_size=CHUNK)
        form_fields(list(form.keys()), {"data"})
        data = form.get("data")
        if not isinstance(data, UploadFile):
            return sb.error(400, "Missing required parameter: 'data'.", "data", "missing_required_parameter")
        return await run_in_threadpool(_add_part, sb, request.path_params["upload_id"], data)

    async def complete(request: Request) -> Response:
        body = parse(CompleteUpload, await json_body(request))
        return await run_in_threadpool(_complete, sb, request.path_params["upload_id"], body)

    def cancel(request: Request) -> Response:
        with sb.store.lock:
            upload = _pending(sb, request.path_params["upload_id"])
            for part in upload["parts"]:
                sb.store.blob(part["id"]).unlink(missing_ok=True)
            upload["status"] = "cancelled"
            sb.store.put_upload(upload)
        return JSONResponse(_public(upload))

    p = sb.flavor.prefix
    return [Route(f"{p}/uploads", create, methods=["POST"]),
            Route(f"{p}/uploads/{{upload_id}}/parts", add_part, methods=["POST"]),
            Route(f"{p}/uploads/{{upload_id}}/complete", complete, methods=["POST"]),
            Route(f"{p}/uploads/{{upload_id}}/cancel", cancel, methods=["POST"])]


def _add_part(sb: Sandbox, upload_id: str, data: UploadFile) -> Response:
    _pending(sb, upload_id)
    part_id = new_id("part_")
    data.file.seek(0)
    try:
        size = copy_into(sb.store.blob(part_id), [data.file], limit=MAX_PART)
    except TooLarge:
        return sb.error(400, "A part may be at most 64 MB.", "data", "part_too_large")
    with sb.store.lock:
        upload = _pending(sb, upload_id)
        upload["parts"].append({"id": part_id, "bytes": size})
        sb.store.put_upload(upload)
    return JSONResponse({"id": part_id, "object": "upload.part", "created_at": int(sb.store.now()),
                         "upload_id": upload["id"]})


def _complete(sb: Sandbox, upload_id: str, body: CompleteUpload) -> Response:
    with sb.store.lock:
        upload = _pending(sb, upload_id)
        sizes = {p["id"]: p["bytes"] for p in upload["parts"]}
        ids = body.part_ids
        if not ids or any(i not in sizes for i in ids):
            return sb.error(400, "part_ids must list parts of this upload.", "part_ids", "invalid_value")
        total = sum(sizes[i] for i in ids)
        if total != upload["bytes"]:
            return sb.error(400, f"The parts add up to {total} bytes, not the {upload['bytes']} declared.",
                            "part_ids", "invalid_value")
        file_id = new_id("file-")
        digest = hashlib.md5(usedforsecurity=False)
        copy_into(sb.store.blob(file_id), opened(sb.store.blob(part) for part in ids), digests=[digest])
        if body.md5 and body.md5 != digest.hexdigest():
            sb.store.blob(file_id).unlink()
            return sb.error(400, "md5 does not match the uploaded bytes.", "md5", "invalid_value")
        for part in sizes:
            sb.store.blob(part).unlink(missing_ok=True)
        sb.store.add_file({"id": file_id, "bytes": total, "filename": upload["filename"],
                           "purpose": upload["purpose"]})
        sb.made_file(upload["filename"])
        upload.update(status="completed", file=sb.store.get_file(file_id))
        sb.store.put_upload(upload)
    return JSONResponse(_public(upload))
