"""The sandbox's HTTP API: OpenAI's ``/v1/files``, ``/v1/uploads`` and ``/v1/fine_tuning/jobs`` (and
``/v1/chat/completions`` and ``/v1/embeddings`` for the models it serves and trains), or
Azure OpenAI's under ``/openai/v1``, or Bedrock's, or OPEA's finetuning service's own (``flavor``);
routes per resource under ``routes/``.

Shapes follow OpenAI's published description (and, for the Azure flavour, Azure's v1 description),
both kept under tests/ (``openai-spec/``, ``azure-openai-spec/``) and checked there. Around the
Starlette app sits a plain ASGI layer (``instruments``) that counts requests per route, checks keys
and injects faults (5xx, 429 with Retry-After, a connection dropped before or after the write,
latency), so that clients can be tested against the failures they will meet.

A client that goes away in the middle of its request (a killed upload) is no error of the server's:
Starlette raises ``ClientDisconnect`` while the body is read, and the app answers it quietly instead
of letting uvicorn print a traceback. Every other exception still reaches uvicorn's log.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from reconciler.sandbox.flavor import Options
from reconciler.sandbox.instruments import Instruments
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.routes import admin, chat, embeddings, files, jobs, opea, uploads
from reconciler.sandbox.state import Sandbox
from reconciler.sandbox.store import Store

CLIENT_CLOSED_REQUEST = 499
"""What a request whose client went away mid-body gets (nginx's name): never seen, logged by nobody."""


def create_app(store: Store, options: Options | None = None) -> tuple[Sandbox, ASGIApp]:
    sandbox = Sandbox(store, options or Options())
    if sandbox.flavor.profile.dialect == "opea":  # routes of its own
        routes = [*opea.routes(sandbox), *admin.routes(sandbox)]
    else:
        routes = [*files.routes(sandbox), *jobs.routes(sandbox), *chat.routes(sandbox), *embeddings.routes(sandbox),
                  *admin.routes(sandbox)]
    if sandbox.flavor.uploads_api:
        routes += uploads.routes(sandbox)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(sandbox.flavor), exc.status)

    async def client_gone(request: Request, exc: Exception) -> Response:
        # Raised by Starlette only once the server has seen the client disconnect while the body was
        # read, before any handler acted on it: nobody is left to answer and nothing went wrong here.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if sandbox.flavor.name == "opea":  # as FastAPI words it
            return sandbox.error(status, "Not Found" if status == 404 else "Method Not Allowed")
        return sandbox.error(status, f"Invalid URL ({request.method} {request.url.path})", None, None)

    app = Starlette(routes=routes, exception_handlers={ApiError: api_error, ClientDisconnect: client_gone,
                                                       404: not_found, 405: not_found})
    return sandbox, Instruments(sandbox, app)
