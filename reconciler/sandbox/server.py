"""Running the sandbox: in the foreground (``ftctl sandbox serve``) or on a background thread
(``--sandbox``, tests), always on a real loopback socket so that clients speak real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from reconciler.sandbox.app import Sandbox, create_app
from reconciler.sandbox.store import Store

DEFAULT_DB = Path(".ftctl") / "sandbox.db"


def _server(db: Path, speed: float, sock: socket.socket) -> tuple[uvicorn.Server, Sandbox, Store]:
    store = Store(db)
    sandbox, app = create_app(store, speed)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    return uvicorn.Server(config), sandbox, store


def serve(host: str, port: int, db: Path, speed: float = 1.0) -> None:
    """Serve until interrupted."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} on {host} is in use (another sandbox?): choose another with --port N, "
                          "or --port 0 for any free port") from None
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    server, _, store = _server(db, speed, sock)
    print(f"ftctl sandbox: http://{host}:{sock.getsockname()[1]}/v1 (db {db}, speed x{speed})", flush=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        store.close()


@contextlib.contextmanager
def running(db: Path = DEFAULT_DB, speed: float = 1.0) -> Iterator[tuple[str, Sandbox]]:
    """A sandbox on a free loopback port for the duration of the block; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server, sandbox, store = _server(db, speed, sock)
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True,
                              name="ftctl-sandbox")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the embedded sandbox did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        store.close()
        sock.close()
