"""A client that goes away mid-request is no error of the sandbox's: ``ftctl sandbox serve`` prints no
traceback for it and goes on serving. Real errors still surface.

The end-to-end test speaks HTTP over raw sockets, so that it can stop wherever it likes: in the
middle of a multipart upload, of an upload's part, of a JSON body, after the headers alone, or with
a reset instead of a close.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Message

from reconciler.sandbox.app import create_app
from reconciler.sandbox.store import Store
from reliability.sandbox import SandboxProcess
from tests.conftest import Serve

BOUNDARY = "ftctl-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _multipart_head(field: str, purpose: bool) -> bytes:
    """A multipart body up to the start of the file's bytes."""
    text = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n' if purpose else "")
    text += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="t.jsonl"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n")
    return text.encode()


def _cut_off(server: SandboxProcess, route: str, path: str, content_type: str, sent: bytes, declared: int,
             reset: bool = False) -> None:
    """Send a request declaring ``declared`` bytes of body, only ``sent`` of them, and go away once the
    server has begun on it (its counter of ``route`` moved)."""
    before = server.stats().get(route, 0)
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer k\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n")
        sock.sendall(head.encode() + sent)
        deadline = time.monotonic() + 10
        while server.stats().get(route, 0) == before:
            assert time.monotonic() < deadline, f"the server never began on {path}"
            time.sleep(0.02)
        if reset:  # an RST instead of a FIN, as when the client is killed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_client_gone_mid_request_leaves_no_traceback_and_the_server_serving(serve: Serve) -> None:
    server = serve("--clock", "manual")
    headers = {"Authorization": "Bearer k"}
    upload = httpx.post(f"{server.url}/uploads", headers=headers, json={
        "filename": "t.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "application/jsonl"}).json()
    big = b'{"messages": []}\n' * 200_000  # 3.4 MB of a declared 50 MB
    _cut_off(server, "POST /v1/files", "/v1/files", MULTIPART, _multipart_head("file", True) + big, 50_000_000)
    _cut_off(server, "POST /v1/files", "/v1/files", MULTIPART, _multipart_head("file", True) + big, 50_000_000,
             reset=True)
    _cut_off(server, "POST /v1/uploads/{upload_id}/parts", f"/v1/uploads/{upload['id']}/parts", MULTIPART,
             _multipart_head("data", False) + big, 60_000_000)
    _cut_off(server, "POST /v1/fine_tuning/jobs", "/v1/fine_tuning/jobs", "application/json",
             b'{"model": "gpt-4o-mini", "training_f', 5_000)
    _cut_off(server, "POST /v1/fine_tuning/jobs", "/v1/fine_tuning/jobs", "application/json", b"", 5_000)

    assert server.listing("files") == [] and server.listing("fine_tuning/jobs") == []  # nothing half-made
    done = httpx.post(f"{server.url}/files", headers=headers, data={"purpose": "fine-tune"},
                      files={"file": ("t.jsonl", b"{}\n")})
    assert done.status_code == 200, done.text  # and it goes on serving
    assert server.stats()["POST /v1/files"] == 3
    server.stop()
    assert "Traceback" not in server.output and "ERROR" not in server.output, server.output
    assert server.output == ""


def _call(app: Any, method: str, path: str, chunks: list[Message]) -> list[Message]:
    """One request through the ASGI app in this process: ``chunks`` are what ``receive`` gives."""
    sent: list[Message] = []
    queue = list(chunks)

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"authorization", b"Bearer k"), (b"content-type", b"application/json"),
                         (b"content-length", b"5000")],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8787), "scheme": "http", "root_path": "",
             "http_version": "1.1"}
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_disconnect_is_answered_quietly_but_a_real_error_still_raises(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    _, app = create_app(store)
    partial: Message = {"type": "http.request", "body": b'{"model": "gpt', "more_body": True}
    sent = _call(app, "POST", "/v1/fine_tuning/jobs", [partial, {"type": "http.disconnect"}])
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    store.close()  # a broken database: an error of the server's own, which must not be swallowed
    with pytest.raises(Exception, match="closed database"):
        _call(app, "GET", "/v1/files", [{"type": "http.request", "body": b"", "more_body": False}])
