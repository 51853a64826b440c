"""Plain ASGI layer around the sandbox app: counts requests per route, checks API keys, keeps the
admin API to loopback clients, and injects faults and latency (``PUT /sandbox/faults``; a chat
completion may take longer than other requests, as a model's answer does): a 500, a 429
with Retry-After, the connection dropped before or after the write, or (``echo_key``) a 401 that
quotes the presented key whole, or (``echo_masked_key``) one that quotes it masked as OpenAI does,
its first 12 characters and its last 4 shown, to prove the client never repeats what an API echoes.

It sits outside Starlette on purpose: to drop a connection it needs uvicorn's own ``send``, whose
transport it can abort without answering.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from reconciler.sandbox.state import Sandbox

LOOPBACK = ("127.", "::1")


def _route_template(path: str) -> str:
    names = {"ftjob-": "{job_id}", "file-": "{file_id}", "upload_": "{upload_id}"}
    return re.sub(r"/(ftjob-|file-|upload_)[A-Za-z0-9_-]+", lambda m: "/" + names[m.group(1)], path)


class Instruments:
    """Outermost ASGIApp layer: counts requests, checks keys, injects faults and latency."""

    def __init__(self, sandbox: Sandbox, app: ASGIApp) -> None:
        self.sandbox = sandbox
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if path.startswith("/sandbox"):
            client = (scope.get("client") or ("",))[0] or ""
            if not client.startswith(LOOPBACK):
                await _respond(send, self.sandbox.error(403, "The sandbox admin API is only served to loopback "
                                                            "clients."))
                return
            await self.app(scope, receive, send)
            return
        route = _route_template(path)
        self.sandbox.stats[f"{scope['method']} {route}"] += 1
        api = path.startswith(self.sandbox.flavor.prefix + "/")
        if api and self.sandbox.flavor.auth and not _presented_key(headers):
            await _respond(send, self.sandbox.error(
                401, "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the api-key header.", None, None))
            return
        latency = self.sandbox.faults["latency_ms"]
        if api and path.endswith("/chat/completions"):
            latency += self.sandbox.faults["completion_latency_ms"]
        if latency:
            await asyncio.sleep(latency / 1000)
        fault = self.sandbox.pick_fault(scope["method"], route) if api else None
        if fault == "500":
            await _respond(send, self.sandbox.error(500, "The server had an error while processing your request.",
                                                    kind="server_error"))
        elif fault == "429":
            await _respond(send, self.sandbox.error(429, "Rate limit reached for requests.", kind="requests",
                                                    code="rate_limit_exceeded",
                                                    headers={"Retry-After": str(self.sandbox.faults["retry_after"])}))
        elif fault == "echo_key":  # a 401 quoting the key whole, as a careless proxy or gateway might
            quoted = f"Incorrect API key provided: {_presented_key(headers)}."
            await _respond(send, self.sandbox.error(401, quoted, None, "invalid_api_key"))
        elif fault == "echo_masked_key":  # OpenAI's own 401: the key masked, its start and end shown
            key = _presented_key(headers)
            quoted = f"Incorrect API key provided: {key[:12]}{'*' * max(len(key) - 16, 3)}{key[-4:]}."
            await _respond(send, self.sandbox.error(401, quoted, None, "invalid_api_key"))
        elif fault == "drop_before":
            _drop(send)
        elif fault == "drop_after":
            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)  # the write happens; the answer never arrives
            _drop(send)
        else:
            await self.app(scope, receive, send)


def _presented_key(headers: dict[str, str]) -> str:
    """The key a request carries (``api-key``, else a Bearer token); "" when none."""
    auth = headers.get("authorization", "")
    return headers.get("api-key") or (auth[7:].strip() if auth.lower().startswith("bearer ") else "")


def _drop(send: Send) -> None:
    """Close the TCP connection without an answer (uvicorn exposes its transport on ``send``)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    transport.abort()


async def _respond(send: Send, response: Response) -> None:
    async def no_receive() -> Message:
        return {"type": "http.disconnect"}

    await response({"type": "http", "method": "GET", "path": "/", "headers": []}, no_receive, send)
