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

Every answer that is not a success is a JSON error body in the flavour's dialect, with
``application/json``: a refusal (``ApiError``), an unknown path (404), a method the path does not
have (405, with ``Allow`` listing the methods it has, across all its routes), a body Starlette could
not parse (a broken multipart form), and a bug of ours (500, ``server_error``, after which the
exception still reaches the log).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp

from reconciler.sandbox.errors import ApiError
from reconciler.sandbox.flavor import Options
from reconciler.sandbox.instruments import Instruments
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

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 400)
        allow = _allowed(routes, request) if status == 405 else None
        headers = {"Allow": allow} if allow else None
        if sandbox.flavor.name == "opea":  # as FastAPI words it
            words = {404: "Not Found", 405: "Method Not Allowed"}
            return sandbox.error(status, words.get(status, str(getattr(exc, "detail", ""))), headers=headers)
        if status in (404, 405):
            return sandbox.error(status, f"Invalid URL ({request.method} {request.url.path})", None, None,
                                 headers=headers)
        return sandbox.error(status, f"We could not parse your request: {getattr(exc, 'detail', '')}", None,
                             "invalid_request")

    async def server_error(request: Request, exc: Exception) -> Response:
        return sandbox.error(500, "The server had an error while processing your request.", None, None,
                             kind="server_error")

    app = Starlette(routes=routes, exception_handlers={ApiError: api_error, ClientDisconnect: client_gone,
                                                       HTTPException: http_error, Exception: server_error})
    return sandbox, Instruments(sandbox, app)


def _allowed(routes: Sequence[BaseRoute], request: Request) -> str:
    """The methods of every route whose path is this request's (each route holds one or a few)."""
    methods = {m for route in routes if isinstance(route, Route) and route.methods
               and route.matches(request.scope)[0] != Match.NONE for m in route.methods}
    return ", ".join(sorted(methods))
