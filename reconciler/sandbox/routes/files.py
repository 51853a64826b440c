"""``/files``: create (multipart), list, retrieve, delete, content.

Handlers that touch the store or the disk run in a worker thread (Starlette runs plain ``def``
endpoints there; an ``async`` one hands its work over with ``run_in_threadpool``), so the event
loop never waits on SQLite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from reconciler.sandbox.blobs import CHUNK, copy_into
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.state import Sandbox, body_hash, int_param, new_id
from reconciler.sandbox.validation import form_expiry, form_fields, one_of

PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}
FORM_FIELDS = {"file", "purpose", "expires_after", "expires_after[anchor]", "expires_after[seconds]"}


def file_or_404(sb: Sandbox, file_id: str) -> dict[str, Any]:
    found = sb.store.get_file(file_id)
    if found is None:
        raise ApiError(404, f"No such File object: {file_id}", "id", "not_found")
    return found


def routes(sb: Sandbox) -> list[Route]:
    async def create(request: Request) -> Response:
        form = await request.form(max_part_size=CHUNK)
        form_fields(list(form.keys()), FORM_FIELDS)
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            return sb.error(400, "Missing required parameter: 'file'.", "file", "missing_required_parameter")
        if not isinstance(purpose, str) or purpose not in PURPOSES:
            return sb.error(400, f"Invalid 'purpose': {purpose!r}.", "purpose", "invalid_value")
        if form_expiry(dict(form)) is None and sb.flavor.file_expiry_required:
            return sb.error(400, "Missing required parameter: 'expires_after' ({anchor: created_at, seconds}).",
                            "expires_after", "missing_required_parameter")
        return await run_in_threadpool(_store, sb, request, upload, str(purpose))

    def list_files(request: Request) -> Response:
        limit = int_param(request, "limit", 10_000, 10_000)
        asc = one_of(request.query_params.get("order"), "order", ("asc", "desc"), "desc") == "asc"
        data, more = sb.store.list_files(request.query_params.get("purpose"), request.query_params.get("after"),
                                         limit, asc)
        return JSONResponse({"object": "list", "data": data, "has_more": more,
                             "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None})

    def get(request: Request) -> Response:
        return JSONResponse(file_or_404(sb, request.path_params["file_id"]))

    def delete(request: Request) -> Response:
        found = file_or_404(sb, request.path_params["file_id"])
        sb.store.delete_file(found["id"])
        return JSONResponse({"id": found["id"], "object": "file", "deleted": True})

    def content(request: Request) -> Response:
        path = sb.store.blob(file_or_404(sb, request.path_params["file_id"])["id"])

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    p = sb.flavor.prefix
    return [Route(f"{p}/files", create, methods=["POST"]), Route(f"{p}/files", list_files, methods=["GET"]),
            Route(f"{p}/files/{{file_id}}", get, methods=["GET"]),
            Route(f"{p}/files/{{file_id}}", delete, methods=["DELETE"]),
            Route(f"{p}/files/{{file_id}}/content", content, methods=["GET"])]


def _store(sb: Sandbox, request: Request, upload: UploadFile, purpose: str) -> Response:
    digest = hashlib.sha256()
    file_id = new_id("file-")
    upload.file.seek(0)
    size = copy_into(sb.store.blob(file_id), [upload.file], digests=[digest])

    def write() -> tuple[int, Any]:
        filename = upload.filename or "upload"
        sb.store.add_file({"id": file_id, "bytes": size, "filename": filename, "purpose": purpose})
        sb.made_file(filename)
        return 200, sb.store.get_file(file_id)

    response = sb.idempotent(request, body_hash({"purpose": purpose, "filename": upload.filename,
                                                 "sha256": digest.hexdigest()}), write)
    if json.loads(bytes(response.body)).get("id") != file_id:
        sb.store.blob(file_id).unlink(missing_ok=True)  # a replay: keep the first upload only
    return response
